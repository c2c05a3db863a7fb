"""The staff home page: what each person needs next. For the panel: their upcoming interviews
with the way into each room, the scorecards they still owe, and their availability at a glance;
for everyone, the places their role works in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get
from litestar.response import Redirect, Template

from appliance.db.database import utcnow
from appliance.db.models import Role
from appliance.evaluation import reminders
from appliance.hiring import scheduling
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import WEEKDAYS, as_utc, zone
from appliance.interview import live_room
from appliance.staff import accounts
from appliance.staff.roles import PANEL, is_hiring
from appliance.web.access import public
from appliance.web.pages import AppRuntime, page
from appliance.web.threads import in_thread

UPCOMING_DAYS = 14


@get("/", opt=public(), include_in_schema=False)
@in_thread
def home(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template | Redirect:
    user = request.scope.get("user")
    if user is None:
        return Redirect("/login", status_code=303)
    if user.must_change_password:
        return Redirect("/account", status_code=303)
    stalled = [
        (i.candidate_id, display_name(i.candidate), i.interview_type.name)
        for i in (scheduling.stalled_invitations() if is_hiring(user) else [])
    ]
    if Role(user.role) not in PANEL:
        return page("home.html", request, panel=False, stalled=stalled)
    user = accounts.get_user(user.id)
    local = zone(user.timezone)
    upcoming = [
        (
            room,
            f"{room.starts_at.astimezone(local):%a %d %b %H:%M}",
            f"{room.opens_at.astimezone(local):%a %H:%M}",
        )
        for room in live_room.rooms_today(runtime.config, user, hours=UPCOMING_DAYS * 24)
    ]
    due = [
        (i.id, display_name(i.candidate), f"{as_utc(i.starts_at).astimezone(local):%a %d %b}")
        for i in reminders.due_for(user)
    ]
    weekly = scheduling.availability_of(user)
    now = utcnow()
    time_off = [t for t in scheduling.time_off_of(user) if t.ends_at > now][:3]
    return page(
        "home.html",
        request,
        panel=True,
        stalled=stalled,
        upcoming=upcoming,
        due=due,
        weekly=[(WEEKDAYS[day], *weekly[day]) for day in sorted(weekly)],
        time_off=[
            (
                f"{as_utc(t.starts_at).astimezone(local):%a %d %b}",
                f"{(as_utc(t.ends_at) - dt.timedelta(seconds=1)).astimezone(local):%a %d %b}",
            )
            for t in time_off
        ],
    )
