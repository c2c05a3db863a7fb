"""Interviews for staff: the list, one interview, and moving or cancelling it (everyone on it
is told, with an updated calendar invitation)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError, NotFound
from appliance.db.models import Candidate, Interview, InterviewParticipant, Role, User
from appliance.hiring import notifications, scheduling
from appliance.hiring.scheduling import as_utc, zone
from appliance.interview import consent
from appliance.web.access import allow
from appliance.web.pages import AppRuntime, FormData, actor, page, see_other
from appliance.web.threads import in_thread

HIRING = allow(Role.ADMIN, Role.RECRUITER)
PANEL = allow(Role.ADMIN, Role.RECRUITER, Role.INTERVIEWER)


@dataclass
class InterviewRow:
    id: int
    when: str
    candidate: str
    panel: str
    status: str


def _user(request: Request[Any, Any, Any]) -> User:
    user: User = User.get_by_id(request.scope["user"].id)
    return user


def _hiring(user: User) -> bool:
    return Role(user.role) in (Role.ADMIN, Role.RECRUITER)


def _local(moment: dt.datetime, timezone: str) -> str:
    return f"{as_utc(moment).astimezone(zone(timezone)):%a %d %b %Y %H:%M}"


def _candidate_name(interview: Interview) -> str:
    candidate = interview.candidate
    return "(erased)" if candidate.erased_at is not None else str(candidate.name)


def _panel(interview: Interview) -> str:
    return ", ".join(u.name or u.email for u in scheduling.interviewers(interview))


def _visible(user: User, interview_id: int) -> Interview:
    interview = Interview.get_or_none(Interview.id == interview_id)
    if interview is None:
        raise NotFound(f"no interview with id {interview_id}")
    if not scheduling.may_see(user, interview.id):
        raise PermissionDeniedException("you are not on this interview's panel")
    return interview


@get("/interviews", opt=PANEL, include_in_schema=False)
@in_thread
def interviews_page(request: Request[Any, Any, Any]) -> Template:
    user = _user(request)
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=30)
    query = (
        Interview.select().where(Interview.ends_at > since)
        if _hiring(user)
        else scheduling.upcoming_for(user)
    )
    interviews = list(
        query.select_extend(Candidate)
        .switch(Interview)
        .join(Candidate)
        .order_by(Interview.starts_at)
        .limit(300)
    )
    panels = _panels([i.id for i in interviews])
    rows = [
        InterviewRow(
            i.id,
            _local(i.starts_at, user.timezone),
            _candidate_name(i),
            ", ".join(panels.get(i.id, [])),
            i.status,
        )
        for i in interviews
    ]
    return page("interviews.html", request, rows=rows, timezone=user.timezone)


def _panels(interview_ids: list[int]) -> dict[int, list[str]]:
    """Each interview's panel by name, for a whole page of interviews in one query."""
    names: dict[int, list[str]] = {}
    members = (
        InterviewParticipant.select(InterviewParticipant.interview, User.name, User.email)
        .join(User)
        .where(InterviewParticipant.interview.in_(interview_ids) & (User.role != Role.COMPLIANCE))
        .order_by(User.id)
    )
    for member in members:
        names.setdefault(member.interview_id, []).append(member.user.name or member.user.email)
    return names


def _interview_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview: Interview,
    status: int = 200,
    error: str | None = None,
) -> Template:
    user = _user(request)
    given = consent.choices(interview)
    if consent.RECORDING not in given:
        state = "not yet asked"
    else:
        state = "given" if given[consent.RECORDING] else "declined"
    return page(
        "interview.html",
        request,
        status,
        interview=interview,
        candidate=_candidate_name(interview),
        when=f"{_local(interview.starts_at, user.timezone)} ({user.timezone})",
        panel=_panel(interview),
        consent_state=state,
        can_change=_hiring(user),
        on_panel=user.id in {u.id for u in scheduling.interviewers(interview)},
        timezone=user.timezone,
        error=error,
    )


@get("/interviews/{interview_id:int}", opt=PANEL, include_in_schema=False)
@in_thread
def interview_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> Template:
    return _interview_page(request, runtime, _visible(_user(request), interview_id))


@post("/interviews/{interview_id:int}/reschedule", opt=HIRING, include_in_schema=False)
@in_thread
def reschedule_interview(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    user = _user(request)
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
            runtime.audit, actor(request), interview, start, runtime.config.scheduling
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
    interview = _visible(_user(request), interview_id)
    if interview.status != "cancelled":
        scheduling.cancel(runtime.audit, actor(request), interview, data.get("reason", ""))
        notifications.notify(
            runtime.config, interview, "cancelled", scheduling.link_key(runtime.keys)
        )
    return see_other(f"/interviews/{interview_id}")
