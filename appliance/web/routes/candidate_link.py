"""Everything under a candidate's link, /i/{token}: picking a time, the booking, the recording
notice, and the device check, lobby and room page with its JSON calls.

The link is the candidate's only credential. Which page it shows is the stage machine in
interview/join.py; what the JSON calls return is limited to the candidate's own state and SFU
token, nothing of the kit, the scores or the notes (tests/test_web_room.py checks the payloads).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from appliance.core.errors import ApplianceError
from appliance.db.models import Interview, Invitation
from appliance.evidence import self_identification
from appliance.hiring import notifications, scheduling
from appliance.hiring.calendar_invites import RECORDING_NOTICE
from appliance.hiring.scheduling import TIME_ZONES, LinkRefused, as_utc, zone
from appliance.hiring.scheduling_rules import rules
from appliance.interview import consent, join, live_room, window
from appliance.interview.join import CandidateStage
from appliance.web.access import public
from appliance.web.pages import AppRuntime, FormData, page, see_other
from appliance.web.sfu_link import sfu_link
from appliance.web.threads import in_thread

OVER = (
    "The interview this link was for has ended or its time has passed, so the link no longer "
    "opens it. If you missed it or something went wrong, write to the recruiter who invited you."
)
DECLINED = (
    "You declined recording, so this interview will not take place as booked. "
    "The recruiter will contact you."
)


def _refused(request: Request[Any, Any, Any], exc: LinkRefused) -> Template:
    return page("message.html", request, 410, title="This link does not work", message=str(exc))


def _zone_or_utc(name: str | None) -> str:
    return name if name in TIME_ZONES else "UTC"


def _schedule_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    token: str,
    timezone: str,
    status: int = 200,
    error: str | None = None,
    moving: Interview | None = None,
) -> Template:
    """The times to choose from: to book, or (`moving`) to move the booked interview to."""
    invitation = scheduling.invitation_for(token)
    tz = zone(timezone)
    days: dict[str, list[tuple[str, str]]] = {}
    slots = scheduling.free_slots(
        invitation.interview_type,
        rules(runtime.config),
        ignoring=moving.id if moving is not None else None,
    )
    for slot in slots:
        local = slot.astimezone(tz)
        days.setdefault(f"{local:%A %d %B %Y}", []).append((slot.isoformat(), f"{local:%H:%M}"))
    if moving is None and scheduling.note_no_times(runtime.audit, invitation, len(slots)):
        notifications.no_free_times(runtime.config, invitation)
    return page(
        "schedule.html",
        request,
        status,
        token=token,
        kind=invitation.interview_type,
        candidate_name=invitation.candidate.name,
        timezone=timezone,
        zones=TIME_ZONES,
        days=list(days.items()),
        notice=RECORDING_NOTICE,
        error=error,
        action=f"/i/{token}/move" if moving is not None else f"/i/{token}",
        moving=moving is not None,
    )


def _booked_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: str, interview: Interview
) -> Template:
    local = as_utc(interview.starts_at).astimezone(zone(interview.timezone))
    when = f"{local:%A %d %B %Y at %H:%M} ({interview.timezone})"
    if interview.status == "cancelled":
        when = f"Cancelled: the interview that was set for {when}."
    settings = rules(runtime.config)
    cutoff = scheduling.change_cutoff(interview, settings).astimezone(zone(interview.timezone))
    return page(
        "booked.html",
        request,
        token=token,
        when=when,
        cancelled=interview.status == "cancelled",
        email=interview.candidate.email,
        notice=RECORDING_NOTICE,
        relay=bool(runtime.config.smtp.host),
        may_change=scheduling.candidate_may_change(interview, settings),
        cutoff=f"{cutoff:%A %d %B at %H:%M}",
        timezone=interview.timezone,
        self_id=runtime.config.interviews.ai_assistance and interview.status != "cancelled",
        self_id_given=self_identification.given(interview.candidate),
        sexes=self_identification.SEX,
        races=self_identification.RACE_ETHNICITY,
    )


def _consent_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    token: str,
    interview: Interview,
    status: int = 200,
    error: str | None = None,
) -> Template:
    notice = consent.notice_for(runtime.config, interview)
    return page("consent.html", request, status, token=token, notice=notice, error=error)


def _room_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: str, interview: Interview
) -> Template:
    """Device check, lobby and room in one page; what the candidate's browser is given."""
    return page(
        "candidate_room.html",
        request,
        token=token,
        recorded=consent.is_recorded(interview),
        sfu=sfu_link(runtime.config),
    )


def _stage_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    token: str,
    invitation: Invitation,
    timezone: str,
    change: bool = False,
) -> Template:
    stage = join.candidate_stage(runtime.config, invitation)
    interview: Interview | None = invitation.interview
    if stage is CandidateStage.SCHEDULE or interview is None:
        return _schedule_page(request, runtime, token, timezone)
    if stage is CandidateStage.OVER:
        return page("message.html", request, 410, title="This interview is over", message=OVER)
    if stage is CandidateStage.BOOKED:
        if change and scheduling.candidate_may_change(interview, rules(runtime.config)):
            return _schedule_page(request, runtime, token, timezone, moving=interview)
        return _booked_page(request, runtime, token, interview)
    if stage is CandidateStage.CONSENT:
        return _consent_page(request, runtime, token, interview)
    if stage is CandidateStage.DECLINED:
        return page(
            "ready.html",
            request,
            heading="Thank you",
            message=DECLINED,
            refused=True,
            recorded=False,
        )
    return _room_page(request, runtime, token, interview)


@get("/i/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def candidate_link(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    token: FromPath[str],
    tz: FromQuery[str] = "UTC",
    change: FromQuery[str] = "",
) -> Template:
    try:
        invitation = scheduling.invitation_for(token)
        timezone = _zone_or_utc(tz)
        return _stage_page(request, runtime, token, invitation, timezone, change == "1")
    except LinkRefused as exc:
        return _refused(request, exc)


def _confirm_page(
    request: Request[Any, Any, Any],
    token: str,
    start: dt.datetime,
    timezone: str,
    action: str = "",
) -> Template:
    """The chosen time, to confirm before it is booked: one click picks, a second books."""
    invitation = scheduling.invitation_for(token)
    kind = invitation.interview_type
    local = as_utc(start).astimezone(zone(timezone))
    ends = local + dt.timedelta(minutes=kind.duration_minutes)
    return page(
        "confirm_slot.html",
        request,
        token=token,
        kind=kind,
        slot=as_utc(start).isoformat(),
        timezone=timezone,
        when=f"{local:%A %d %B %Y}, {local:%H:%M} to {ends:%H:%M} ({timezone})",
        action=action or f"/i/{token}",
        moving=bool(action),
    )


@post("/i/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def book_slot(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    timezone = _zone_or_utc(data.get("tz"))
    try:
        start = dt.datetime.fromisoformat(data.get("slot", ""))
        if data.get("confirm") != "yes":
            return _confirm_page(request, token, start, timezone)
        interview = scheduling.book(runtime.audit, token, start, timezone, rules(runtime.config))
    except ValueError:
        return _schedule_page(
            request, runtime, token, timezone, 400, "Pick one of the times shown."
        )
    except LinkRefused as exc:
        return _refused(request, exc)
    except ApplianceError as exc:
        return _schedule_page(request, runtime, token, timezone, 409, str(exc))
    notifications.notify(runtime.config, interview, "booked", scheduling.link_key(runtime.keys))
    return see_other(f"/i/{token}")


def _changed_by_candidate(
    runtime: AppRuntime, token: str, interview: Interview, kind: str
) -> Redirect:
    """Everyone on the interview gets the updated invitation; the recruiter is told who did it."""
    notifications.notify(runtime.config, interview, kind, scheduling.link_key(runtime.keys))
    notifications.candidate_changed(runtime.config, interview, kind)
    return see_other(f"/i/{token}")


@post("/i/{token:str}/move", opt=public(), include_in_schema=False)
@in_thread
def move_booking(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    """The candidate moves their booked interview (before the cut-off): pick, confirm, moved."""
    timezone = _zone_or_utc(data.get("tz"))
    try:
        invitation = scheduling.invitation_for(token)
        start = dt.datetime.fromisoformat(data.get("slot", ""))
        if data.get("confirm") != "yes":
            return _confirm_page(request, token, start, timezone, f"/i/{token}/move")
        interview = scheduling.move_by_candidate(runtime.audit, token, start, rules(runtime.config))
    except ValueError:
        return see_other(f"/i/{token}?change=1&tz={timezone}")
    except LinkRefused as exc:
        return _refused(request, exc)
    except ApplianceError as exc:
        booked = invitation.interview
        if booked is None:
            return _refused(request, LinkRefused(str(exc)))
        if not scheduling.candidate_may_change(booked, rules(runtime.config)):
            return page("message.html", request, 409, title="Too late to change", message=str(exc))
        return _schedule_page(request, runtime, token, timezone, 409, str(exc), moving=booked)
    return _changed_by_candidate(runtime, token, interview, "rescheduled")


@post("/i/{token:str}/cancel", opt=public(), include_in_schema=False)
@in_thread
def cancel_booking(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    """The candidate cancels their booked interview (before the cut-off)."""
    try:
        interview = scheduling.cancel_by_candidate(
            runtime.audit, token, data.get("reason", ""), rules(runtime.config)
        )
    except LinkRefused as exc:
        return _refused(request, exc)
    except ApplianceError as exc:
        return page("message.html", request, 409, title="Too late to cancel", message=str(exc))
    join.keep_out(runtime.config, runtime.keys.signing_key, interview, "the candidate")
    return _changed_by_candidate(runtime, token, interview, "cancelled")


@post("/i/{token:str}/consent", opt=public(), include_in_schema=False)
@in_thread
def give_consent(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    try:
        invitation = scheduling.invitation_for(token)
    except LinkRefused as exc:
        return _refused(request, exc)
    interview = invitation.interview
    if interview is None or not window.is_open(runtime.config, interview):
        return see_other(f"/i/{token}")
    notice = consent.notice_for(runtime.config, interview)
    answers = {k: data.get(k) for k in ("recording", "ai_assistance")}
    if answers["recording"] not in ("yes", "no") or (
        notice.ai_asked and answers["ai_assistance"] not in ("yes", "no")
    ):
        return _consent_page(
            request, runtime, token, interview, 400, "Please answer each question."
        )
    ai = answers["ai_assistance"] == "yes" if notice.ai_asked else None
    consent.record(runtime.audit, interview, notice, answers["recording"] == "yes", ai)
    if consent.declined_under_reschedule(runtime.config, interview):
        notifications.recording_declined(runtime.config, interview, invitation)
    return see_other(f"/i/{token}")


@post("/i/{token:str}/self-identification", opt=public(), include_in_schema=False)
@in_thread
def give_self_identification(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    """The booked page's voluntary self-identification (evidence/self_identification.py)."""
    try:
        invitation = scheduling.invitation_for(token)
        self_identification.record(runtime, invitation.candidate, dict(data))
    except LinkRefused as exc:
        return _refused(request, exc)
    except ApplianceError as exc:
        return page("message.html", request, 400, title="Not saved", message=str(exc))
    return see_other(f"/i/{token}", done="self-identified")


def _candidate_interview(token: str) -> Interview:
    invitation = scheduling.invitation_for(token)
    if invitation.interview is None:
        raise ApplianceError("book a time first")
    interview: Interview = invitation.interview
    return interview


def _state(state: str, status: int = 200, message: str = "") -> Response[dict[str, Any]]:
    return Response({"state": state, "message": message}, status_code=status)


@get("/i/{token:str}/lobby", opt=public(), include_in_schema=False)
@in_thread
def candidate_lobby(runtime: AppRuntime, token: FromPath[str]) -> Response[dict[str, Any]]:
    """Where the candidate stands: ready, waiting, admitted, closed or ended."""
    try:
        interview = _candidate_interview(token)
    except (LinkRefused, ApplianceError) as exc:
        return _state("refused", 403, str(exc))
    return _state(live_room.candidate_state(runtime.config, interview))


@post("/i/{token:str}/lobby", opt=public(), include_in_schema=False)
@in_thread
def candidate_enter_lobby(runtime: AppRuntime, token: FromPath[str]) -> Response[dict[str, Any]]:
    """The candidate has checked their devices and asks to come in."""
    try:
        interview = _candidate_interview(token)
        state = live_room.enter_lobby(runtime.audit, runtime.config, interview)
    except (LinkRefused, ApplianceError) as exc:
        return _state("refused", 403, str(exc))
    return _state(state)


@get("/i/{token:str}/join", opt=public(), include_in_schema=False)
@in_thread
def candidate_join(runtime: AppRuntime, token: FromPath[str]) -> Response[dict[str, Any]]:
    """The candidate's SFU token once admitted; nothing about the kit, scores or notes."""
    try:
        interview = _candidate_interview(token)
        sfu_token, recorded = join.candidate_token(
            runtime.config, runtime.keys.signing_key, interview
        )
    except join.NotInLobby as exc:
        return _state(exc.state, 409, str(exc))
    except (LinkRefused, ApplianceError) as exc:
        return _state("refused", 403, str(exc))
    return Response(
        {
            "state": "admitted",
            "token": sfu_token,
            "recorded": recorded,
            "room": join.room_name(interview),
        }
    )
