"""Interviews for staff: the list, one interview, and moving or cancelling it (everyone on it
is told, with an updated calendar invitation)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from appliance.core import validation
from appliance.core.errors import ApplianceError
from appliance.db.models import Interview, User
from appliance.db.paging import Page
from appliance.evidence import assistant
from appliance.hiring import agenda, notifications, scheduling
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc, zone
from appliance.hiring.scheduling_rules import rules
from appliance.interview import consent, join
from appliance.recordings.review import latest_recording
from appliance.staff.roles import is_hiring
from appliance.web.access import HIRING, PANEL
from appliance.web.pages import (
    AppRuntime,
    FormData,
    actor,
    current_user,
    optional_date,
    optional_int,
    page,
    position_filter,
    see_other,
)
from appliance.web.threads import in_thread


@dataclass
class InterviewRow:
    id: int
    when: str
    candidate: str
    panel: str
    status: str
    recorded: bool
    position: str


def _local(moment: dt.datetime, timezone: str) -> str:
    return f"{as_utc(moment).astimezone(zone(timezone)):%a %d %b %Y %H:%M}"


def _visible(user: User, interview_id: int) -> Interview:
    interview = agenda.get_interview(interview_id)
    if not scheduling.may_see(user, interview.id):
        raise PermissionDeniedException("you are not on this interview's panel")
    return interview


# What the interviews list shows: from today on (soonest first, the default), before today
# (most recent first), or every date (oldest first); the date fields narrow any of them.
VIEWS = {"upcoming": "Today and upcoming", "past": "Recent past", "all": "All dates"}


def _listing_filters(
    user: User, view: str, position: str, status: str, interviewer: str, since: str, until: str
) -> agenda.Filters:
    validation.choice("View", view, tuple(VIEWS))
    first, last = optional_date(since, "from"), optional_date(until, "to")
    today = dt.datetime.now(zone(user.timezone)).date()
    if view == "upcoming":
        first = max(first or today, today)
    elif view == "past":
        yesterday = today - dt.timedelta(days=1)
        last = min(last or yesterday, yesterday)
    return agenda.Filters(
        optional_int(position),
        status,
        optional_int(interviewer),
        first,
        last,
        newest_first=view == "past",
    )


@get("/interviews", opt=PANEL, include_in_schema=False)
@in_thread
def interviews_page(
    request: Request[Any, Any, Any],
    view: FromQuery[str] = "upcoming",
    position: FromQuery[str] = "",
    status: FromQuery[str] = "",
    interviewer: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    """The interviews the user may see, a page at a time: today's and the upcoming ones
    first, so a busy box's list opens on what matters now."""
    user = current_user(request)
    form = {
        "view": view,
        "position": position,
        "status": status,
        "interviewer": interviewer,
        "since": since,
        "until": until,
    }
    try:
        filters = _listing_filters(user, view, position, status, interviewer, since, until)
        listed = agenda.listing(user, filters, optional_int(page_number) or 1, user.timezone)
    except ApplianceError as exc:
        listed, problem = Page([], 1, 1, 0), str(exc)
    else:
        problem = ""
    rows = [
        InterviewRow(
            entry.interview_id,
            _local(entry.starts_at, user.timezone),
            entry.candidate,
            ", ".join(entry.panel),
            entry.status,
            entry.recorded,
            entry.position,
        )
        for entry in listed.rows
    ]
    return page(
        "interviews.html",
        request,
        400 if problem else 200,
        rows=rows,
        listed=listed,
        timezone=user.timezone,
        form=form,
        query=urlencode(form),
        views=VIEWS,
        filters_only=urlencode({k: v for k, v in form.items() if k != "view"}),
        **position_filter(user, position),
        interviewers=agenda.interviewers_for(user),
        statuses=agenda.STATUSES,
        problem=problem,
    )


def _interview_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview: Interview,
    status: int = 200,
    error: str | None = None,
) -> Template:
    user = current_user(request)
    if not consent.answered(interview):
        state = "not yet asked"
    else:
        state = "given" if consent.is_recorded(interview) else "declined"
    ai = consent.choices(interview).get(consent.AI_ASSISTANCE)
    return page(
        "interview.html",
        request,
        status,
        interview=interview,
        candidate=display_name(interview.candidate),
        when=f"{_local(interview.starts_at, user.timezone)} ({user.timezone})",
        panel=", ".join(agenda.panel_names([interview.id]).get(interview.id, [])),
        consent_state=state,
        ai_state={True: "given", False: "declined or withdrawn", None: "not asked"}[ai],
        can_change=is_hiring(user),
        recorded=latest_recording(interview) is not None,
        on_panel=user.id in {u.id for u in scheduling.interviewers(interview)},
        timezone=user.timezone,
        error=error,
    )


@get("/interviews/{interview_id:int}", opt=PANEL, include_in_schema=False)
@in_thread
def interview_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> Template:
    return _interview_page(request, runtime, _visible(current_user(request), interview_id))


@post("/interviews/{interview_id:int}/reschedule", opt=HIRING, include_in_schema=False)
@in_thread
def reschedule_interview(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    user = current_user(request)
    interview = _visible(user, interview_id)
    try:
        local = dt.datetime.fromisoformat(data.get("starts_at", ""))
    except ValueError:
        return _interview_page(
            request, runtime, interview, 400, "Give the new start as a date and time."
        )
    start = local.replace(tzinfo=zone(user.timezone))
    try:
        moved = scheduling.reschedule(
            runtime.audit, actor(request), interview, start, rules(runtime.config)
        )
    except ApplianceError as exc:
        return _interview_page(request, runtime, interview, 409, str(exc))
    notifications.notify(runtime.config, moved, "rescheduled", scheduling.link_key(runtime.keys))
    return see_other(f"/interviews/{interview_id}")


@post("/interviews/{interview_id:int}/cancel", opt=HIRING, include_in_schema=False)
@in_thread
def cancel_interview(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: FromPath[int],
    data: FormData,
) -> Redirect:
    interview = _visible(current_user(request), interview_id)
    if interview.status != "cancelled":
        scheduling.cancel(runtime.audit, actor(request), interview, data.get("reason", ""))
        join.keep_out(runtime.config, runtime.keys.signing_key, interview, "the recruiter")
        notifications.notify(
            runtime.config, interview, "cancelled", scheduling.link_key(runtime.keys)
        )
    return see_other(f"/interviews/{interview_id}")


@post("/interviews/{interview_id:int}/ai-consent/withdraw", opt=HIRING, include_in_schema=False)
@in_thread
def withdraw_ai_consent(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> Template | Redirect:
    """The candidate told the recruiter they withdraw consent to AI assistance: recorded, and
    the evidence already drawn from their interview deleted (both audited)."""
    interview = _visible(current_user(request), interview_id)
    try:
        assistant.withdraw_consent(runtime, actor(request), interview)
    except ApplianceError as exc:
        return _interview_page(request, runtime, interview, 409, str(exc))
    return see_other(f"/interviews/{interview_id}", done="ai-consent-withdrawn")
