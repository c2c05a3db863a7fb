"""Scheduling pages: interviewers' availability and calendar feed, recruiters' interview
types, invitations and outbox, and the candidate's self-scheduling page."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import available_timezones

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError, NotFound
from appliance.db.models import (
    CalendarFeed,
    Candidate,
    Invitation,
    OutboxMessage,
    Role,
    TimeOff,
    User,
)
from appliance.hiring import notifications, scheduling
from appliance.hiring.calendar_invites import RECORDING_NOTICE, feed_ics, organizer
from appliance.hiring.kits import list_kits
from appliance.hiring.scheduling import LinkRefused, WeeklyWindow, as_utc, zone
from appliance.interview import consent
from appliance.web.access import allow, public
from appliance.web.pages import AppRuntime, FormData, actor, optional_int, page, see_other
from appliance.web.routes.room import candidate_room_page
from appliance.web.threads import in_thread

HIRING = allow(Role.ADMIN, Role.RECRUITER)
PANEL = allow(Role.ADMIN, Role.RECRUITER, Role.INTERVIEWER)
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
ZONES.append("UTC")


def _availability_page(
    request: Request[Any, Any, Any], status: int = 200, **extra: Any
) -> Template:
    user: User = request.scope["user"]
    fresh = User.get_by_id(user.id)
    return page(
        "availability.html",
        request,
        status,
        zones=ZONES,
        timezone=fresh.timezone,
        weekdays=scheduling.WEEKDAYS,
        windows=scheduling.availability_of(fresh),
        time_off=list(TimeOff.select().where(TimeOff.user == fresh).order_by(TimeOff.starts_at)),
        has_feed=CalendarFeed.select().where(CalendarFeed.user == fresh).exists(),
        **{"error": None, "saved": False, "feed_url": None, **extra},
    )


@get("/availability", opt=PANEL, include_in_schema=False)
@in_thread
def availability_page(request: Request[Any, Any, Any]) -> Template:
    return _availability_page(request)


@post("/availability", opt=PANEL, include_in_schema=False)
@in_thread
def save_availability(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template:
    user: User = request.scope["user"]
    windows = [
        WeeklyWindow(day, data.get(f"start_{day}", ""), data.get(f"end_{day}", ""))
        for day in range(7)
        if data.get(f"start_{day}") or data.get(f"end_{day}")
    ]
    try:
        scheduling.set_availability(
            runtime.audit, actor(request), user, data.get("timezone", "UTC"), windows
        )
    except ApplianceError as exc:
        return _availability_page(request, 400, error=str(exc))
    return _availability_page(request, saved=True)


@post("/availability/time-off", opt=PANEL, include_in_schema=False)
@in_thread
def add_time_off(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    user: User = User.get_by_id(request.scope["user"].id)
    try:
        first = dt.date.fromisoformat(data.get("first_day", ""))
        last = dt.date.fromisoformat(data.get("last_day", ""))
        scheduling.add_time_off(
            runtime.audit, actor(request), user, first, last, data.get("note", "")
        )
    except ValueError:
        return _availability_page(request, 400, error="Give the first and last day as dates.")
    except ApplianceError as exc:
        return _availability_page(request, 400, error=str(exc))
    return _availability_page(request, saved=True)


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
    return Response(body, media_type="text/calendar; charset=utf-8")


def _types_page(
    request: Request[Any, Any, Any], status: int = 200, error: str | None = None
) -> Template:
    types = scheduling.list_interview_types()
    panels = {t.id: [u.name or u.email for u in scheduling.panel_of(t)] for t in types}
    return page(
        "interview_types.html",
        request,
        status,
        types=types,
        panels=panels,
        kits=list_kits(),
        staff=scheduling.invitable_staff(),
        error=error,
    )


@get("/interview-types", opt=HIRING, include_in_schema=False)
@in_thread
def interview_types_page(request: Request[Any, Any, Any]) -> Template:
    return _types_page(request)


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
        raise NotFound("choose an interview type")
    invitation, _ = scheduling.invite(
        runtime.audit,
        actor(request),
        candidate_id,
        type_id,
        runtime.config.scheduling,
        scheduling.link_key(runtime.keys),
        request.scope["user"],
    )
    link = notifications.invite_candidate(
        runtime.config, invitation, scheduling.link_key(runtime.keys)
    )
    return page(
        "invited.html",
        request,
        candidate=Candidate.get_by_id(candidate_id),
        link=link,
        relay=bool(runtime.config.smtp.host),
    )


@get("/outbox", opt=HIRING, include_in_schema=False)
@in_thread
def outbox_page(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template:
    relay = bool(runtime.config.smtp.host)
    statuses = ["manual", "failed"] if relay else ["pending", "manual", "failed"]
    waiting = (
        OutboxMessage.select()
        .where(OutboxMessage.status.in_(statuses))
        .order_by(OutboxMessage.id.desc())
        .limit(200)
    )
    return page(
        "outbox.html", request, messages=list(waiting), relay=bool(runtime.config.smtp.host)
    )


@get("/outbox/{message_id:int}/invite.ics", opt=HIRING, include_in_schema=False)
@in_thread
def outbox_ics(message_id: FromPath[int]) -> Response[str]:
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if message is None or not message.ics:
        raise NotFound(f"no calendar file for message {message_id}")
    return Response(
        message.ics,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="invite.ics"'},
    )


def _refused(request: Request[Any, Any, Any], exc: LinkRefused) -> Template:
    return page("message.html", request, 410, title="This link does not work", message=str(exc))


def _schedule_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    token: str,
    timezone: str,
    status: int = 200,
    error: str | None = None,
) -> Template:
    invitation = scheduling.invitation_for(token)
    tz = zone(timezone)
    days: dict[str, list[tuple[str, str]]] = {}
    for slot in scheduling.free_slots(invitation.interview_type, runtime.config.scheduling):
        local = slot.astimezone(tz)
        days.setdefault(f"{local:%A %d %B %Y}", []).append((slot.isoformat(), f"{local:%H:%M}"))
    return page(
        "schedule.html",
        request,
        status,
        token=token,
        kind=invitation.interview_type,
        candidate_name=invitation.candidate.name,
        timezone=timezone,
        zones=ZONES,
        days=list(days.items()),
        notice=RECORDING_NOTICE,
        error=error,
    )


OVER = (
    "The interview this link was for has ended or its time has passed, so the link no longer "
    "opens it. If you missed it or something went wrong, write to the recruiter who invited you."
)


def _booked_page(request: Request[Any, Any, Any], invitation: Invitation) -> Template:
    interview = invitation.interview
    if interview is None:
        raise NotFound("this invitation has no interview")
    local = as_utc(interview.starts_at).astimezone(zone(interview.timezone))
    when = f"{local:%A %d %B %Y at %H:%M} ({interview.timezone})"
    if interview.status == "cancelled":
        when = f"Cancelled: the interview that was set for {when}."
    return page(
        "booked.html", request, when=when, email=invitation.candidate.email, notice=RECORDING_NOTICE
    )


def _interview_stage(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: str, invitation: Invitation
) -> Template:
    """A booked candidate's link: the booking before the room opens; then the notice to
    consent to; then where they stand."""
    interview = invitation.interview
    if interview is not None and consent.is_over(runtime.config, interview):
        return page("message.html", request, 410, title="This interview is over", message=OVER)
    if interview is None or not consent.is_open(runtime.config, interview):
        return _booked_page(request, invitation)
    given = consent.choices(interview)
    if consent.RECORDING not in given:
        notice = consent.notice_for(runtime.config, interview)
        return page("consent.html", request, token=token, notice=notice, error=None)
    recorded = given[consent.RECORDING]
    if not recorded and runtime.config.interviews.decline_recording == "reschedule":
        message = (
            "You declined recording, so this interview will not take place as booked. "
            "The recruiter will contact you."
        )
        return page(
            "ready.html",
            request,
            heading="Thank you",
            message=message,
            refused=True,
            recorded=False,
        )
    return candidate_room_page(request, runtime, token, recorded)


@get("/i/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def candidate_link(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    token: FromPath[str],
    tz: FromQuery[str] = "UTC",
) -> Template:
    try:
        invitation = scheduling.invitation_for(token)
        if invitation.status == "booked" and invitation.interview is not None:
            return _interview_stage(request, runtime, token, invitation)
        return _schedule_page(request, runtime, token, tz if tz in ZONES else "UTC")
    except LinkRefused as exc:
        return _refused(request, exc)


@post("/i/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def book_slot(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    timezone = data.get("tz", "UTC") if data.get("tz") in ZONES else "UTC"
    try:
        start = dt.datetime.fromisoformat(data.get("slot", ""))
        interview = scheduling.book(
            runtime.audit, token, start, timezone, runtime.config.scheduling
        )
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
    if interview is None or not consent.is_open(runtime.config, interview):
        return see_other(f"/i/{token}")
    notice = consent.notice_for(runtime.config, interview)
    answers = {k: data.get(k) for k in ("recording", "ai_assistance")}
    if answers["recording"] not in ("yes", "no") or (
        notice.ai_asked and answers["ai_assistance"] not in ("yes", "no")
    ):
        return page(
            "consent.html",
            request,
            400,
            token=token,
            notice=notice,
            error="Please answer each question.",
        )
    recorded = answers["recording"] == "yes"
    ai = answers["ai_assistance"] == "yes" if notice.ai_asked else None
    consent.record(runtime.audit, interview, notice, recorded, ai)
    if not recorded and runtime.config.interviews.decline_recording == "reschedule":
        notifications.recording_declined(runtime.config, interview, invitation)
    return see_other(f"/i/{token}")
