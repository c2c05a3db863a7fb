"""Scheduling pages: interviewers' availability and calendar feed, recruiters' interview
types, invitations and outbox. The candidate's self-scheduling page is under their link
(web/routes/candidate_link.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError, Invalid, NotFound
from appliance.db.models import (
    User,
)
from appliance.hiring import calendar_sync, mailer, notifications, scheduling
from appliance.hiring.calendar_invites import feed_ics, organizer
from appliance.hiring.candidates import get_candidate
from appliance.hiring.scheduling import TIME_ZONES, WeeklyWindow, zone
from appliance.hiring.scheduling_rules import rules
from appliance.staff import accounts
from appliance.web.access import HIRING, PANEL, public
from appliance.web.pages import (
    AppRuntime,
    FormData,
    actor,
    current_user,
    optional_int,
    page,
    see_other,
)
from appliance.web.threads import in_thread


def _availability_page(
    request: Request[Any, Any, Any], subject: User | None = None, status: int = 200, **extra: Any
) -> Template:
    """The availability of `subject` (the signed-in user's own when None): weekly hours and time
    off, editable; their connected calendar's state; on their own page, the feed and calendar
    forms."""
    own = subject is None
    fresh = current_user(request) if subject is None else accounts.get_user(subject.id)
    settings = request.app.state.runtime.config.calendars
    return page(
        "availability.html",
        request,
        status,
        subject=fresh,
        own=own,
        base="/availability" if own else f"/users/{fresh.id}/availability",
        zones=TIME_ZONES,
        timezone=fresh.timezone,
        weekdays=scheduling.WEEKDAYS,
        windows=scheduling.availability_of(fresh),
        time_off=scheduling.time_off_of(fresh),
        has_feed=scheduling.has_feed(fresh),
        calendar=calendar_sync.state_of(fresh),
        calendars_on=calendar_sync.enabled(settings),
        calendar_prefixes=calendar_sync.allowed_prefixes(settings),
        **{"error": None, "saved": False, "feed_url": None, **extra},
    )


def _save_windows(
    request: Request[Any, Any, Any], runtime: AppRuntime, user: User, data: FormData
) -> None:
    windows = [
        WeeklyWindow(day, data.get(f"start_{day}", ""), data.get(f"end_{day}", ""))
        for day in range(7)
        if data.get(f"start_{day}") or data.get(f"end_{day}")
    ]
    scheduling.set_availability(
        runtime.audit, actor(request), user, data.get("timezone", "UTC"), windows
    )


def _save_time_off(
    request: Request[Any, Any, Any], runtime: AppRuntime, user: User, data: FormData
) -> None:
    try:
        first = dt.date.fromisoformat(data.get("first_day", ""))
        last = dt.date.fromisoformat(data.get("last_day", ""))
    except ValueError:
        raise Invalid("Give the first and last day as dates.") from None
    scheduling.add_time_off(runtime.audit, actor(request), user, first, last, data.get("note", ""))


def _saved(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    subject: User | None,
    save: Callable[[Request[Any, Any, Any], AppRuntime, User, FormData], None],
    data: FormData,
) -> Template:
    """Save a form of the availability page of `subject` (the signed-in user's own when None)
    and show the page again, with the error when there is one."""
    try:
        save(request, runtime, subject or current_user(request), data)
    except ApplianceError as exc:
        return _availability_page(request, subject, 400, error=str(exc))
    return _availability_page(request, subject, saved=True)


@get("/availability", opt=PANEL, include_in_schema=False)
@in_thread
def availability_page(request: Request[Any, Any, Any]) -> Template:
    return _availability_page(request)


@post("/availability", opt=PANEL, include_in_schema=False)
@in_thread
def save_availability(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template:
    return _saved(request, runtime, None, _save_windows, data)


@post("/availability/time-off", opt=PANEL, include_in_schema=False)
@in_thread
def add_time_off(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    return _saved(request, runtime, None, _save_time_off, data)


@post("/availability/calendar", opt=PANEL, include_in_schema=False)
@in_thread
def connect_calendar(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template:
    """Connect the interviewer's calendar and read it at once, so they see whether it works."""
    try:
        connection = calendar_sync.connect(
            runtime.audit, runtime.keys, runtime.config.calendars, current_user(request),
            data.get("kind", ""), data.get("url", ""), data.get("username", ""),
            data.get("password", ""),
        )  # fmt: skip
    except ApplianceError as exc:
        return _availability_page(request, None, 400, error=str(exc))
    calendar_sync.refresh(runtime.keys, connection)
    return _availability_page(request, saved=True)


@post("/availability/calendar/disconnect", opt=PANEL, include_in_schema=False)
@in_thread
def disconnect_calendar(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template:
    calendar_sync.disconnect(runtime.audit, current_user(request))
    return _availability_page(request, saved=True)


def _staff_member(user_id: int) -> User:
    """Someone who can sit on a panel, whose availability a recruiter may set."""
    user = accounts.get_user(user_id)
    if not user.active or user.role not in ("interviewer", "recruiter", "admin"):
        raise NotFound(f"no interviewer {user_id}")
    return user


@get("/users/{user_id:int}/availability", opt=HIRING, include_in_schema=False)
@in_thread
def member_availability_page(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Template:
    return _availability_page(request, _staff_member(user_id))


@post("/users/{user_id:int}/availability", opt=HIRING, include_in_schema=False)
@in_thread
def save_member_availability(
    request: Request[Any, Any, Any], runtime: AppRuntime, user_id: FromPath[int], data: FormData
) -> Template:
    """A recruiter sets an interviewer's weekly hours (audited under the recruiter's name)."""
    return _saved(request, runtime, _staff_member(user_id), _save_windows, data)


@post("/users/{user_id:int}/availability/time-off", opt=HIRING, include_in_schema=False)
@in_thread
def add_member_time_off(
    request: Request[Any, Any, Any], runtime: AppRuntime, user_id: FromPath[int], data: FormData
) -> Template:
    return _saved(request, runtime, _staff_member(user_id), _save_time_off, data)


@post("/availability/feed", opt=PANEL, include_in_schema=False)
@in_thread
def reset_feed(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template:
    token = scheduling.reset_feed(runtime.audit, actor(request), request.scope["user"])
    return _availability_page(request, feed_url=f"{runtime.config.public_url}/calendar/{token}.ics")


@get("/calendar/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def calendar_feed(runtime: AppRuntime, token: FromPath[str]) -> Response[str]:
    user = scheduling.feed_user(token.removesuffix(".ics"))
    interviews = list(scheduling.upcoming_for(user))
    body = feed_ics(user, interviews, runtime.config.public_url, organizer(runtime.config))
    return Response(body, media_type="text/calendar")


def _types_page(
    request: Request[Any, Any, Any],
    status: int = 200,
    error: str | None = None,
    q: str = "",
    page_number: int = 1,
) -> Template:
    listed = scheduling.page_of_interview_types(q, page_number)
    panels = {
        kind: [u.name or u.email for u in users]
        for kind, users in scheduling.panels_of(listed.rows).items()
    }
    return page(
        "interview_types.html",
        request,
        status,
        listed=listed,
        q=q,
        panels=panels,
        staff=scheduling.invitable_staff(),
        error=error,
    )


@get("/interview-types", opt=HIRING, include_in_schema=False)
@in_thread
def interview_types_page(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    return _types_page(request, q=q, page_number=optional_int(page_number) or 1)


@post("/interview-types", opt=HIRING, include_in_schema=False)
@in_thread
def create_interview_type(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    panel = [
        int(k.removeprefix("panel_")) for k in data if k.startswith("panel_") and k[6:].isdigit()
    ]
    try:
        minutes = int(data.get("duration_minutes", "0") or 0)
        scheduling.create_interview_type(
            runtime.audit,
            actor(request),
            data.get("name", ""),
            minutes,
            panel,
            optional_int(data.get("kit_id", "")),
        )
    except ValueError:
        return _types_page(request, 400, "The length must be a whole number of minutes.")
    except ApplianceError as exc:
        return _types_page(request, 400, str(exc))
    return see_other("/interview-types")


@dataclass
class MemberOutlookView:
    user_id: int
    name: str
    has_hours: bool
    next_free: list[str]  # in the viewer's zone, "Tue 03 Dec 10:00"
    # Why their calendar cannot be read (the last busy times read stay in force); or empty.
    calendar_error: str


@dataclass
class PanelOutlookView:
    """What a candidate invited now would be offered: the times the whole panel shares (how
    many, and the first), and each member's own next free times."""

    free: int
    first: str | None
    timezone: str
    members: list[MemberOutlookView]


def _outlook_rows(outlook: scheduling.PanelOutlook, timezone: str) -> list[MemberOutlookView]:
    local = zone(timezone)
    return [
        MemberOutlookView(
            m.user_id,
            m.name,
            m.has_hours,
            [f"{t.astimezone(local):%a %d %b %H:%M}" for t in m.next_free],
            m.calendar_error,
        )
        for m in outlook.members
    ]


@get(
    "/api/interview-types/{interview_type_id:int}/outlook",
    opt=HIRING,
    tags=["scheduling"],
)
@in_thread
def api_panel_outlook(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_type_id: FromPath[int]
) -> PanelOutlookView:
    """Before inviting a candidate: whether the interview type's panel has free time together."""
    timezone = current_user(request).timezone
    outlook = scheduling.panel_outlook(
        scheduling.get_interview_type(interview_type_id), rules(runtime.config)
    )
    first = f"{outlook.first.astimezone(zone(timezone)):%a %d %b %H:%M}" if outlook.first else None
    return PanelOutlookView(outlook.free, first, timezone, _outlook_rows(outlook, timezone))


@post("/candidates/{candidate_id:int}/invite", opt=HIRING, include_in_schema=False)
@in_thread
def invite_candidate(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    data: FormData,
) -> Template:
    type_id = optional_int(data.get("interview_type_id", ""))
    if type_id is None:
        raise Invalid("choose an interview type")
    kind = scheduling.get_interview_type(type_id)
    outlook = scheduling.panel_outlook(kind, rules(runtime.config))
    if not outlook.free and data.get("anyway") != "yes":
        return page(
            "invite_check.html",
            request,
            409,
            candidate=get_candidate(candidate_id),
            kind=kind,
            members=_outlook_rows(outlook, current_user(request).timezone),
        )
    invitation, _ = scheduling.invite(
        runtime.audit,
        actor(request),
        candidate_id,
        type_id,
        rules(runtime.config),
        scheduling.link_key(runtime.keys),
        request.scope["user"],
    )
    link = notifications.invite_candidate(
        runtime.config, invitation, scheduling.link_key(runtime.keys)
    )
    return page(
        "invited.html",
        request,
        candidate=get_candidate(candidate_id),
        link=link,
        relay=bool(runtime.config.smtp.host),
    )


@get("/outbox", opt=HIRING, include_in_schema=False)
@in_thread
def outbox_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    relay = bool(runtime.config.smtp.host)
    listed = mailer.waiting_for_staff(relay, optional_int(page_number) or 1)
    sent = request.query_params.get("sent") == "1"
    return page("outbox.html", request, listed=listed, relay=relay, sent=sent)


@post("/outbox/{message_id:int}/sent", opt=HIRING, include_in_schema=False)
@in_thread
def outbox_sent_by_hand(
    request: Request[Any, Any, Any], runtime: AppRuntime, message_id: FromPath[int]
) -> Redirect:
    mailer.mark_sent_by_hand(runtime.audit, actor(request), message_id)
    return see_other("/outbox?sent=1")


@get("/outbox/{message_id:int}/invite.ics", opt=HIRING, include_in_schema=False)
@in_thread
def outbox_ics(message_id: FromPath[int]) -> Response[str]:
    return Response(
        mailer.calendar_file(message_id),
        media_type="text/calendar",
        headers={"content-disposition": 'attachment; filename="invite.ics"'},
    )
