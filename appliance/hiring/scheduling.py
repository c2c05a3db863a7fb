"""Scheduling: interviewers' weekly availability, time off, interview types with a panel,
candidates' self-scheduling links, free slots, and atomic booking.

Times are stored as naive UTC like every other timestamp; availability is written in each
interviewer's own zone and converted per date, so daylight-saving changes move nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import peewee

from appliance.core import validation
from appliance.core.config import SchedulingConfig
from appliance.core.errors import ApplianceError, Conflict, Invalid, NotFound
from appliance.db.database import serialized, utcnow
from appliance.db.models import (
    AvailabilityRule,
    BusyTime,
    CalendarConnection,
    CalendarFeed,
    Candidate,
    HiringTeamMember,
    Interview,
    InterviewParticipant,
    InterviewType,
    Invitation,
    Kit,
    PanelMember,
    Role,
    TimeOff,
    User,
)
from appliance.db.paging import Page, paginate
from appliance.integrations import webhook_events
from appliance.staff.bearer import digest, new_token
from appliance.staff.roles import is_hiring
from appliance.storage.appliance_keys import ApplianceKeys
from appliance.storage.audit import AuditLog

UTC = dt.UTC
DAY = dt.timedelta(days=1)
MIDNIGHT = 24 * 60  # minutes: the end of a day's availability
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# The zones a person picks from: the named regions, and UTC.
TIME_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
TIME_ZONES.append("UTC")


def zone(name: str) -> ZoneInfo:
    """An IANA zone (cached by zoneinfo); a clear error for anything else."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ApplianceError(
            f"unknown time zone {name!r}: use an IANA name like Europe/Berlin"
        ) from None


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Naive UTC (as stored) or aware → aware UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stored(moment: dt.datetime) -> dt.datetime:
    return as_utc(moment).replace(tzinfo=None)


def _minutes(label: str, value: str) -> int:
    try:
        hours, minutes = value.split(":")
        total = int(hours) * 60 + int(minutes)
    except ValueError:
        raise ApplianceError(f"{label} must be a time like 09:30, not {value!r}") from None
    if not 0 <= total <= MIDNIGHT or not 0 <= int(minutes) < 60:
        raise ApplianceError(f"{label} {value!r} is not a time of day")
    return total


@dataclass(frozen=True)
class WeeklyWindow:
    weekday: int
    start: str  # "09:00", local
    end: str  # "17:30", local


def set_availability(
    audit: AuditLog, actor: str, user: User, timezone: str, windows: Iterable[WeeklyWindow]
) -> list[AvailabilityRule]:
    """Replaces `user`'s weekly availability (in `timezone`, which becomes theirs)."""
    zone(timezone)
    rules = []
    for window in windows:
        if not 0 <= window.weekday <= 6:
            raise ApplianceError(f"weekday must be 0 (Monday) to 6 (Sunday), not {window.weekday}")
        start = _minutes("Start", window.start)
        end = _minutes("End", window.end)
        if end == 0:
            end = MIDNIGHT  # a time field cannot say 24:00: "until 00:00" is until midnight
        if end <= start:
            raise ApplianceError(f"{WEEKDAYS[window.weekday]}: the window must end after it starts")
        rules.append((window.weekday, start, end))
    with serialized(AvailabilityRule._meta.database):
        User.update(timezone=timezone).where(User.id == user.id).execute()
        AvailabilityRule.delete().where(AvailabilityRule.user == user).execute()
        created = [
            AvailabilityRule.create(user=user, weekday=w, start_minute=s, end_minute=e)
            for w, s, e in sorted(rules)
        ]
    user.timezone = timezone
    audit.record(actor, "availability.set", f"user:{user.id}", {"windows": len(created)})
    return created


def add_time_off(
    audit: AuditLog, actor: str, user: User, first_day: dt.date, last_day: dt.date, note: str = ""
) -> TimeOff:
    """Whole local days off, first to last inclusive, in the user's zone."""
    if last_day < first_day:
        raise ApplianceError("time off must end on or after the day it starts")
    tz = zone(user.timezone)
    start = dt.datetime.combine(first_day, dt.time(), tz)
    end = dt.datetime.combine(last_day + DAY, dt.time(), tz)
    row = TimeOff.create(
        user=user,
        starts_at=stored(start),
        ends_at=stored(end),
        note=validation.text("Note", note, 200),
    )
    audit.record(
        actor,
        "availability.time_off",
        f"user:{user.id}",
        {"from": str(first_day), "to": str(last_day)},
    )
    return row


def create_interview_type(
    audit: AuditLog,
    actor: str,
    name: str,
    duration_minutes: int,
    panel: list[int],
    kit_id: int | None = None,
) -> InterviewType:
    if not 10 <= duration_minutes <= 8 * 60:
        raise ApplianceError("an interview lasts between 10 minutes and 8 hours")
    if not panel:
        raise ApplianceError("an interview type needs at least one interviewer on its panel")
    members = list(User.select().where(User.id.in_(panel) & User.active))
    if len(members) != len(set(panel)):
        raise NotFound("a panel member is not an active user")
    if kit_id is not None and Kit.get_or_none(Kit.id == kit_id) is None:
        raise NotFound(f"no kit with id {kit_id}")
    with serialized(InterviewType._meta.database):
        kind = InterviewType.create(
            name=validation.text("Name", name, 200, required=True),
            kit=kit_id,
            duration_minutes=duration_minutes,
        )
        for member in members:
            PanelMember.create(interview_type=kind, user=member)
    audit.record(
        actor, "interview_type.create", f"interview_type:{kind.id}", {"panel": sorted(panel)}
    )
    return kind


def get_interview_type(interview_type_id: int) -> InterviewType:
    kind: InterviewType | None = InterviewType.get_or_none(InterviewType.id == interview_type_id)
    if kind is None:
        raise NotFound(f"no interview type with id {interview_type_id}")
    return kind


def panel_of(kind: InterviewType) -> list[User]:
    return list(
        User.select().join(PanelMember).where(PanelMember.interview_type == kind).order_by(User.id)
    )


def link_token(invitation: Invitation, link_key: bytes) -> str:
    """The candidate's link token, recomputed from the invitation's nonce."""
    mac = hmac.new(link_key, f"invitation:{invitation.nonce}".encode(), "sha256").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def invite(
    audit: AuditLog,
    actor: str,
    candidate_id: int,
    interview_type_id: int,
    settings: SchedulingConfig,
    link_key: bytes,
    created_by: User | None = None,
) -> tuple[Invitation, str]:
    """A self-scheduling link for the candidate: the invitation and its token."""
    candidate = Candidate.get_or_none(Candidate.id == candidate_id)
    if candidate is None or candidate.erased_at is not None:
        raise NotFound(f"no candidate with id {candidate_id}")
    kind = get_interview_type(interview_type_id)
    invitation = Invitation(
        candidate=candidate,
        interview_type=kind,
        nonce=secrets.token_hex(16),
        created_by=created_by,
        expires_at=utcnow() + dt.timedelta(days=settings.horizon_days),
    )
    token = link_token(invitation, link_key)
    invitation.token_hash = digest(token)
    invitation.save()
    audit.record(
        actor, "invitation.create", f"candidate:{candidate.id}", {"interview_type": kind.id}
    )
    return invitation, token


class LinkRefused(ApplianceError):
    """A scheduling or join link that is unknown, expired, used or cancelled."""


def invitation_for(token: str, now: dt.datetime | None = None) -> Invitation:
    invitation = Invitation.get_or_none(Invitation.token_hash == digest(token))
    if invitation is None:
        raise LinkRefused("this link is not valid; ask your recruiter for a new one")
    if invitation.status == "cancelled":
        raise LinkRefused("this invitation was cancelled; ask your recruiter for a new one")
    if as_utc(invitation.expires_at) <= as_utc(now or utcnow()):
        raise LinkRefused("this link has expired; ask your recruiter for a new one")
    if invitation.candidate.erased_at is not None:
        raise LinkRefused("this link is not valid; ask your recruiter for a new one")
    return invitation


@dataclass(frozen=True)
class Interval:
    start: dt.datetime  # aware UTC
    end: dt.datetime

    def covers(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


def _weekly(user: User, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """The user's availability windows that meet [start, end), as UTC intervals."""
    tz = zone(user.timezone)
    rules = list(AvailabilityRule.select().where(AvailabilityRule.user == user))
    windows = []
    day = start.astimezone(tz).date() - DAY
    while day <= end.astimezone(tz).date():
        for rule in rules:
            if rule.weekday == day.weekday():
                # Aware + timedelta is wall-clock arithmetic: DST days keep their local hours.
                midnight = dt.datetime.combine(day, dt.time(), tz)
                local_start = midnight + dt.timedelta(minutes=rule.start_minute)
                local_end = midnight + dt.timedelta(minutes=rule.end_minute)
                windows.append(Interval(local_start.astimezone(UTC), local_end.astimezone(UTC)))
        day += DAY
    return _joined(windows)


def _joined(windows: list[Interval]) -> list[Interval]:
    """Windows that touch or overlap made one: Monday to 24:00 and Tuesday from 00:00 hold a
    slot across midnight."""
    joined: list[Interval] = []
    for window in sorted(windows, key=lambda w: w.start):
        if joined and window.start <= joined[-1].end:
            joined[-1] = Interval(joined[-1].start, max(joined[-1].end, window.end))
        else:
            joined.append(window)
    return joined


def _time_off(user: User, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    return [
        Interval(as_utc(t.starts_at), as_utc(t.ends_at))
        for t in TimeOff.select().where(
            (TimeOff.user == user)
            & (TimeOff.ends_at > stored(start))
            & (TimeOff.starts_at < stored(end))
        )
    ]


def _booked(
    user: User, start: dt.datetime, end: dt.datetime, buffer: dt.timedelta, ignoring: int | None
) -> list[Interval]:
    """The user's other interviews that meet [start, end), each widened by the buffer."""
    booked = (
        Interview.select()
        .join(InterviewParticipant)
        .where(
            (InterviewParticipant.user == user)
            & (Interview.status != "cancelled")
            & (Interview.id != (ignoring or 0))
            & (Interview.ends_at > stored(start - buffer))
            & (Interview.starts_at < stored(end + buffer))
        )
    )
    return [Interval(as_utc(i.starts_at) - buffer, as_utc(i.ends_at) + buffer) for i in booked]


def _calendar_busy(user: User, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """What the user's connected calendar last said they are busy in (hiring/calendar_sync.py)."""
    return [
        Interval(as_utc(b.starts_at), as_utc(b.ends_at))
        for b in BusyTime.select()
        .join(CalendarConnection)
        .where(
            (CalendarConnection.user == user)
            & (BusyTime.ends_at > stored(start))
            & (BusyTime.starts_at < stored(end))
        )
    ]


def _blocked(
    user: User, start: dt.datetime, end: dt.datetime, buffer: dt.timedelta, ignoring: int | None
) -> list[Interval]:
    """Time off, busy times in their calendar, and booked interviews widened by the buffer."""
    return (
        _time_off(user, start, end)
        + _calendar_busy(user, start, end)
        + _booked(user, start, end, buffer, ignoring)
    )


def _free_for(slot: Interval, windows: list[Interval], blocked: list[Interval]) -> bool:
    return any(w.covers(slot) for w in windows) and not any(b.overlaps(slot) for b in blocked)


def free_slots(
    kind: InterviewType,
    settings: SchedulingConfig,
    now: dt.datetime | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    ignoring: int | None = None,
) -> list[dt.datetime]:
    """Start times (aware UTC) at which every panel member is free for the whole interview."""
    length = dt.timedelta(minutes=kind.duration_minutes)
    return _free_times(panel_of(kind), length, settings, now, start, end, ignoring)


def _free_times(
    panel: list[User],
    length: dt.timedelta,
    settings: SchedulingConfig,
    now: dt.datetime | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    ignoring: int | None = None,
) -> list[dt.datetime]:
    current = as_utc(now or utcnow())
    earliest = current + dt.timedelta(hours=settings.minimum_notice_hours)
    start = max(as_utc(start) if start else earliest, earliest)
    end = as_utc(end) if end else current + dt.timedelta(days=settings.horizon_days)
    step = dt.timedelta(minutes=settings.slot_step_minutes)
    buffer = dt.timedelta(minutes=settings.buffer_minutes)
    if not panel or end <= start:
        return []
    calendars = [
        (
            _weekly(member, start, end + length),
            _blocked(member, start, end + length, buffer, ignoring),
        )
        for member in panel
    ]
    grid = dt.datetime(start.year, start.month, start.day, tzinfo=UTC)
    while grid < start:
        grid += step
    slots = []
    while grid < end:
        slot = Interval(grid, grid + length)
        if all(_free_for(slot, w, b) for w, b in calendars):
            slots.append(grid)
        grid += step
    return slots


@dataclass(frozen=True)
class MemberOutlook:
    user_id: int
    name: str
    has_hours: bool  # they have set weekly availability at all
    next_free: list[dt.datetime]  # their first free starts on their own (aware UTC)
    calendar_error: str  # why their connected calendar cannot be read; empty when it can


@dataclass(frozen=True)
class PanelOutlook:
    """What a candidate invited to this interview type would be offered, and why not."""

    free: int  # start times the whole panel shares within the horizon
    first: dt.datetime | None
    members: list[MemberOutlook]


def panel_outlook(
    kind: InterviewType, settings: SchedulingConfig, now: dt.datetime | None = None
) -> PanelOutlook:
    """For the recruiter before they invite: the times the panel shares, and for each member
    their own next free times, so a panel that cannot meet shows who is the obstacle."""
    length = dt.timedelta(minutes=kind.duration_minutes)
    panel = panel_of(kind)
    shared = _free_times(panel, length, settings, now)
    members = []
    for member in panel:
        hours = AvailabilityRule.select().where(AvailabilityRule.user == member).exists()
        alone = _free_times([member], length, settings, now)[:3] if hours else []
        calendar = CalendarConnection.get_or_none(CalendarConnection.user == member)
        members.append(
            MemberOutlook(
                member.id, member.name or member.email, hours, alone,
                calendar.last_error if calendar is not None else "",
            )
        )  # fmt: skip
    return PanelOutlook(len(shared), shared[0] if shared else None, members)


def note_no_times(audit: AuditLog, invitation: Invitation, offered: int) -> bool:
    """The candidate opened their link and was offered `offered` times. Returns True the first
    time they found none (since times were last offered): the recruiter is then told once."""
    if offered:
        if invitation.no_times_at is not None:
            Invitation.update(no_times_at=None).where(Invitation.id == invitation.id).execute()
            invitation.no_times_at = None
        return False
    if invitation.no_times_at is not None or invitation.status != "open":
        return False
    marked = (
        Invitation.update(no_times_at=utcnow())
        .where((Invitation.id == invitation.id) & Invitation.no_times_at.is_null())
        .execute()
    )
    if not marked:
        return False
    invitation.no_times_at = utcnow()
    audit.record(
        f"candidate:{invitation.candidate_id}",
        "invitation.no_times",
        f"candidate:{invitation.candidate_id}",
        {"interview_type": invitation.interview_type_id},
    )
    return True


def stalled_invitations(limit: int = 20) -> list[Invitation]:
    """Open invitations whose candidate found no free time, most recent first."""
    return list(
        Invitation.select()
        .where((Invitation.status == "open") & Invitation.no_times_at.is_null(False))
        .order_by(Invitation.no_times_at.desc())
        .limit(limit)
    )


def book(
    audit: AuditLog,
    token: str,
    starts_at: dt.datetime,
    timezone: str,
    settings: SchedulingConfig,
    now: dt.datetime | None = None,
) -> Interview:
    """Books the slot for the invitation's candidate. The check and the booking happen in one
    serialized transaction, so two candidates racing for one slot cannot both get it."""
    zone(timezone)
    start = as_utc(starts_at)
    db = Interview._meta.database
    with serialized(db):
        invitation = invitation_for(token, now)
        if invitation.status != "open":
            raise LinkRefused("this invitation was already used to book an interview")
        kind = invitation.interview_type
        slot_free = start in free_slots(
            kind, settings, now, start, start + dt.timedelta(minutes=settings.slot_step_minutes)
        )
        if not slot_free:
            raise Conflict("that time is no longer free; please pick another")
        return _book(audit, f"candidate:{invitation.candidate_id}", invitation, start, timezone)


def _book(
    audit: AuditLog, actor: str, invitation: Invitation, start: dt.datetime, timezone: str
) -> Interview:
    """The invitation's interview at `start`, its panel the interview type's; the caller
    checked the time and holds the write lock."""
    kind = invitation.interview_type
    interview = Interview.create(
        candidate=invitation.candidate,
        position=invitation.candidate.position,
        kit=kind.kit,
        starts_at=stored(start),
        ends_at=stored(start + dt.timedelta(minutes=kind.duration_minutes)),
        status="scheduled",
        created_by=invitation.created_by,
        timezone=timezone,
    )
    for member in panel_of(kind):
        InterviewParticipant.create(interview=interview, user=member, role="interviewer")
    invitation.status, invitation.interview = "booked", interview
    invitation.save()
    audit.record(
        actor, "interview.book", f"interview:{interview.id}", {"starts_at": start.isoformat()}
    )
    webhook_events.emit("interview.scheduled", webhook_events.interview_data(interview))
    return interview


def schedule_at(
    audit: AuditLog,
    actor: str,
    candidate_id: int,
    interview_type_id: int,
    starts_at: dt.datetime,
    timezone: str,
    settings: SchedulingConfig,
    link_key: bytes,
    now: dt.datetime | None = None,
) -> tuple[Invitation, str, Interview]:
    """Schedule the candidate's interview at a time agreed elsewhere (by an applicant tracking
    system, say): at any future minute at which its whole panel is free, as a recruiter moving an
    interview may. The candidate gets an invitation as if they had booked it from their link,
    so the link still lets them see, move or cancel it."""
    if starts_at.tzinfo is None:
        raise Invalid("starts_at: give the time with its offset from UTC, e.g. 09:00:00+01:00")
    zone(timezone)
    start = as_utc(starts_at)
    with serialized(Interview._meta.database):
        if start <= as_utc(now or utcnow()):
            raise Conflict("the start has passed; choose a time from now on")
        invitation, token = invite(
            audit, actor, candidate_id, interview_type_id, settings, link_key
        )
        kind = invitation.interview_type
        reasons = unavailable(
            panel_of(kind), start, start + dt.timedelta(minutes=kind.duration_minutes), settings
        )
        if reasons:
            raise Conflict(" ".join(reasons))
        interview = _book(audit, actor, invitation, start, timezone)
    return invitation, token, interview


def change_cutoff(interview: Interview, settings: SchedulingConfig) -> dt.datetime:
    """Until when the candidate may move or cancel their interview from their link: the same
    minimum notice they had to give when booking (aware UTC)."""
    return as_utc(interview.starts_at) - dt.timedelta(hours=settings.minimum_notice_hours)


def candidate_may_change(
    interview: Interview, settings: SchedulingConfig, now: dt.datetime | None = None
) -> bool:
    return interview.status == "scheduled" and as_utc(now or utcnow()) < change_cutoff(
        interview, settings
    )


def _booked_by_link(
    token: str, settings: SchedulingConfig, now: dt.datetime | None
) -> tuple[Invitation, Interview]:
    invitation = invitation_for(token, now)
    interview: Interview | None = invitation.interview
    if interview is None or invitation.status != "booked":
        raise LinkRefused("this link has no booked interview to change")
    if not candidate_may_change(interview, settings, now):
        raise Conflict(
            "It is too late to change this interview here: it starts within "
            f"{settings.minimum_notice_hours} hours, or is no longer scheduled. Please "
            "contact the recruiter."
        )
    return invitation, interview


def move_by_candidate(
    audit: AuditLog,
    token: str,
    starts_at: dt.datetime,
    settings: SchedulingConfig,
    now: dt.datetime | None = None,
) -> Interview:
    """The candidate moves their booked interview to another free time, from their link, as
    long as the cut-off (`change_cutoff`) has not passed."""
    start = as_utc(starts_at)
    with serialized(Interview._meta.database):
        invitation, interview = _booked_by_link(token, settings, now)
        step_end = start + dt.timedelta(minutes=settings.slot_step_minutes)
        free = free_slots(
            invitation.interview_type, settings, now, start, step_end, ignoring=interview.id
        )
        if start not in free:
            raise Conflict("that time is no longer free; please pick another")
        _move(audit, f"candidate:{invitation.candidate_id}", interview, start, by="candidate")
    return interview


def _move(
    audit: AuditLog, actor: str, interview: Interview, start: dt.datetime, **details: str
) -> None:
    """Put the interview at `start` with its length kept, bump its calendar sequence and audit
    the move; the caller checked the new time and holds the write lock."""
    original = as_utc(interview.starts_at)
    length = as_utc(interview.ends_at) - original
    interview.starts_at, interview.ends_at = stored(start), stored(start + length)
    interview.sequence += 1
    interview.save()
    audit.record(
        actor,
        "interview.reschedule",
        f"interview:{interview.id}",
        {"from": original.isoformat(), "to": start.isoformat(), **details},
    )
    webhook_events.emit("interview.rescheduled", webhook_events.interview_data(interview))


def cancel_by_candidate(
    audit: AuditLog,
    token: str,
    reason: str,
    settings: SchedulingConfig,
    now: dt.datetime | None = None,
) -> Interview:
    """The candidate cancels their booked interview from their link, before the cut-off."""
    with serialized(Interview._meta.database):
        invitation, interview = _booked_by_link(token, settings, now)
        return cancel(audit, f"candidate:{invitation.candidate_id}", interview, reason)


def unavailable(
    members: list[User],
    start: dt.datetime,
    end: dt.datetime,
    settings: SchedulingConfig,
    ignoring: int | None = None,
) -> list[str]:
    """Why each of `members` cannot take [start, end), one sentence each; empty when all can.
    Outside their weekly hours, on time off, or in another interview (with the buffer)."""
    slot = Interval(as_utc(start), as_utc(end))
    buffer = dt.timedelta(minutes=settings.buffer_minutes)
    reasons = []
    for member in members:
        who = member.name or member.email
        if not any(w.covers(slot) for w in _weekly(member, slot.start, slot.end)):
            reasons.append(f"{who} is not available then (outside their weekly hours).")
        elif any(b.overlaps(slot) for b in _time_off(member, slot.start, slot.end)):
            reasons.append(f"{who} has time off then.")
        elif any(b.overlaps(slot) for b in _calendar_busy(member, slot.start, slot.end)):
            reasons.append(f"{who} is busy then (their calendar).")
        elif any(b.overlaps(slot) for b in _booked(member, slot.start, slot.end, buffer, ignoring)):
            reasons.append(
                f"{who} has another interview then, or within {settings.buffer_minutes} minutes."
            )
    return reasons


def reschedule(
    audit: AuditLog,
    actor: str,
    interview: Interview,
    starts_at: dt.datetime,
    settings: SchedulingConfig,
    now: dt.datetime | None = None,
) -> Interview:
    """Moves a scheduled interview to any future minute at which its panel is free (its own
    booking does not count against it). A recruiter moving an interview is not held to the
    candidate's minimum notice or the slot grid: those shape what a self-scheduling link offers."""
    start = as_utc(starts_at)
    length = as_utc(interview.ends_at) - as_utc(interview.starts_at)
    with serialized(Interview._meta.database):
        if interview.status != "scheduled":
            raise Conflict(f"Interview {interview.id} is {interview.status}; it cannot be moved.")
        if start <= as_utc(now or utcnow()):
            raise Conflict("The new start has passed; choose a time from now on.")
        reasons = unavailable(
            interviewers(interview), start, start + length, settings, ignoring=interview.id
        )
        if reasons:
            raise Conflict(" ".join(reasons))
        _move(audit, actor, interview, start)
    return interview


def cancel(audit: AuditLog, actor: str, interview: Interview, reason: str = "") -> Interview:
    if interview.status == "cancelled":
        return interview
    with audit.db.atomic():
        interview.status = "cancelled"
        interview.sequence += 1
        interview.save()
        audit.record(
            actor, "interview.cancel", f"interview:{interview.id}", {"reason": reason[:200]}
        )
        webhook_events.emit("interview.cancelled", webhook_events.interview_data(interview))
    return interview


def interviewers(interview: Interview) -> list[User]:
    return list(
        User.select()
        .join(InterviewParticipant)
        .where((InterviewParticipant.interview == interview) & (User.role != Role.COMPLIANCE))
        .order_by(User.id)
    )


def upcoming_for(user: User, now: dt.datetime | None = None) -> peewee.ModelSelect[Interview]:
    current = stored(now or utcnow())
    return (
        Interview.select()
        .join(InterviewParticipant)
        .where((InterviewParticipant.user == user) & (Interview.ends_at > current - 30 * DAY))
        .order_by(Interview.starts_at)
    )


def reset_feed(audit: AuditLog, actor: str, user: User) -> str:
    """A new private calendar-feed token for `user` (the old URL stops working)."""
    token = new_token()
    with serialized(CalendarFeed._meta.database):
        CalendarFeed.delete().where(CalendarFeed.user == user).execute()
        CalendarFeed.create(user=user, token_hash=digest(token))
    audit.record(actor, "calendar_feed.reset", f"user:{user.id}")
    return token


def feed_user(token: str) -> User:
    feed = CalendarFeed.get_or_none(CalendarFeed.token_hash == digest(token))
    if feed is None or not feed.user.active:
        raise NotFound("no such calendar feed")
    user: User = feed.user
    return user


def time_off_of(user: User) -> list[TimeOff]:
    """The user's days off, earliest first."""
    return list(TimeOff.select().where(TimeOff.user == user).order_by(TimeOff.starts_at))


def has_feed(user: User) -> bool:
    """Whether the user has a private calendar feed (its URL is shown only when made)."""
    return bool(CalendarFeed.select().where(CalendarFeed.user == user).exists())


def availability_of(user: User) -> dict[int, tuple[str, str]]:
    """Weekday → (start, end) as HH:MM, for the form (the first window of each day); a window
    to midnight ends at 00:00, as the form's time fields write it."""
    windows: dict[int, tuple[str, str]] = {}
    for rule in (
        AvailabilityRule.select()
        .where(AvailabilityRule.user == user)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_minute)
    ):
        windows.setdefault(
            rule.weekday,
            (
                f"{rule.start_minute // 60:02d}:{rule.start_minute % 60:02d}",
                f"{rule.end_minute % MIDNIGHT // 60:02d}:{rule.end_minute % 60:02d}",
            ),
        )
    return windows


def page_of_interview_types(text: str = "", page: int = 1) -> Page[InterviewType]:
    """A page of the interview types (by name) whose name holds `text`, each with its kit."""
    query = InterviewType.select(InterviewType, Kit).join(Kit, peewee.JOIN.LEFT_OUTER)
    if text.strip():
        query = query.where(InterviewType.name ** f"%{text.strip()}%")
    return paginate(query.order_by(InterviewType.name, InterviewType.id), page)


def panels_of(kinds: list[InterviewType]) -> dict[int, list[User]]:
    """Each interview type's panel, by type id, from one query."""
    panels: dict[int, list[User]] = {kind.id: [] for kind in kinds}
    members = (
        PanelMember.select(PanelMember, User)
        .join(User)
        .where(PanelMember.interview_type.in_(list(panels)))
        .order_by(User.id)
    )
    for member in members:
        if member.interview_type_id in panels:
            panels[member.interview_type_id].append(member.user)
    return panels


def invitable_staff() -> list[User]:
    return list(
        User.select()
        .where(User.active & User.role.in_([Role.INTERVIEWER, Role.RECRUITER, Role.ADMIN]))
        .order_by(User.name, User.email)
    )


Selected = TypeVar("Selected", bound=peewee.Model)


def visible_to(user: User, query: peewee.ModelSelect[Selected]) -> peewee.ModelSelect[Selected]:
    """`query` (of interviews) narrowed to those `user` may see, by the rule of `may_see`."""
    if is_hiring(user):
        return query
    panel = InterviewParticipant.select(InterviewParticipant.interview).where(
        InterviewParticipant.user == user
    )
    teams = HiringTeamMember.select(HiringTeamMember.position).where(HiringTeamMember.user == user)
    return query.where(Interview.id.in_(panel) | Interview.position.in_(teams))


def may_see(user: User, interview_id: int) -> bool:
    """Hiring staff see every interview (and its recordings); others, those they sit on and
    those of the positions whose hiring team they are on."""
    if is_hiring(user):
        return True
    return bool(visible_to(user, Interview.select().where(Interview.id == interview_id)).exists())


def link_key(keys: ApplianceKeys) -> bytes:
    """The key candidate links are made with (see `link_token`)."""
    return keys.derive("candidate links")
