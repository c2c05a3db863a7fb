"""What people are told about an interview, by e-mail with a calendar invitation: booking,
moves, cancellation, and reminders 24 hours and 1 hour before (each created once, whatever
restarts, by the outbox's dedupe key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core.config import Config
from appliance.db.database import utcnow
from appliance.db.models import Interview, Invitation, Role, User, WebhookEndpoint
from appliance.hiring.calendar_invites import RECORDING_NOTICE, invitation_ics, organizer
from appliance.hiring.mailer import queue_message
from appliance.hiring.scheduling import as_utc, interviewers, link_token, stored, zone

REMINDERS = (("24h", dt.timedelta(hours=24)), ("1h", dt.timedelta(hours=1)))
SUBJECTS = {
    "booked": "Interview booked",
    "rescheduled": "Interview moved",
    "cancelled": "Interview cancelled",
    "reminder-24h": "Reminder: interview tomorrow",
    "reminder-1h": "Reminder: interview in one hour",
}


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    timezone: str
    link: str


def candidate_link(config: Config, invitation: Invitation, link_key: bytes) -> str:
    return f"{config.public_url}/i/{link_token(invitation, link_key)}"


def _recipients(config: Config, interview: Interview, link_key: bytes) -> list[Recipient]:
    found = []
    candidate = interview.candidate
    invitation = Invitation.get_or_none(Invitation.interview == interview)
    if candidate.erased_at is None and invitation is not None:
        link = candidate_link(config, invitation, link_key)
        found.append(Recipient(candidate.name, candidate.email, interview.timezone, link))
    staff_link = f"{config.public_url}/interviews/{interview.id}"
    found += [
        Recipient(u.name, u.email, u.timezone, staff_link)
        for u in interviewers(interview)
        if u.active
    ]
    return found


def _when(interview: Interview, timezone: str) -> str:
    local = as_utc(interview.starts_at).astimezone(zone(timezone))
    minutes = int((as_utc(interview.ends_at) - as_utc(interview.starts_at)).total_seconds() // 60)
    return f"{local:%A %d %B %Y, %H:%M} ({timezone}), {minutes} minutes"


def _title(interview: Interview) -> str:
    position = interview.position
    return f"Interview: {position.title}" if position is not None else "Interview"


def _body(kind: str, interview: Interview, who: Recipient) -> str:
    when = _when(interview, who.timezone)
    lines = [f"Hello {who.name or who.email},", ""]
    if kind == "cancelled":
        lines.append(f"The interview on {when} is cancelled.")
    else:
        opening = {
            "booked": "Your interview is booked",
            "rescheduled": "Your interview has moved",
        }.get(kind, "A reminder of your interview")
        lines += [f"{opening}: {when}.", "", f"Join here: {who.link}", "", RECORDING_NOTICE]
    return "\n".join(lines) + "\n"


def notify(config: Config, interview: Interview, kind: str, link_key: bytes) -> int:
    """Queues one message (with its .ics) per person on the interview; returns how many are new."""
    queued = 0
    title = _title(interview)
    people = _recipients(config, interview, link_key)
    attendees = [(p.name, p.email) for p in people]
    for who in people:
        ics = invitation_ics(
            interview, config.public_url, title, who.link, organizer(config), attendees
        )
        message = queue_message(
            who.email,
            f"{SUBJECTS[kind]}: {title.removeprefix('Interview: ') or 'interview'}",
            _body(kind, interview, who),
            ics=ics,
            interview=interview,
            dedupe_key=f"{kind}:{interview.id}:{interview.sequence}:{who.email}"[:120],
        )
        queued += message is not None
    return queued


def send_reminders(config: Config, link_key: bytes, now: dt.datetime | None = None) -> int:
    """Reminders for interviews starting within 24 h and within 1 h; each once per person and
    per time the interview is set for. An interview booked inside a reminder's lead time does
    not get that reminder: the booking message just said it all."""
    current = as_utc(now or utcnow())
    queued = 0
    for name, lead in REMINDERS:
        due = Interview.select().where(
            (Interview.status == "scheduled")
            & (Interview.starts_at > stored(current))
            & (Interview.starts_at <= stored(current + lead))
        )
        for interview in due:
            if as_utc(interview.starts_at) - as_utc(interview.created_at) < lead:
                continue
            queued += notify(config, interview, f"reminder-{name}", link_key)
    return queued


def invite_candidate(config: Config, invitation: Invitation, link_key: bytes) -> str:
    """Queues the self-scheduling e-mail; returns the link (shown to the recruiter as well)."""
    link = candidate_link(config, invitation, link_key)
    kind = invitation.interview_type
    candidate = invitation.candidate
    body = (
        f"Hello {candidate.name},\n\n"
        f"You are invited to a {kind.duration_minutes}-minute interview ({kind.name}). "
        f"Pick a time that suits you here:\n\n{link}\n\n"
        "The link is personal; it works until you have booked, and then takes you to the "
        "interview itself.\n\n"
        f"{RECORDING_NOTICE}\n"
    )
    queue_message(
        candidate.email,
        f"Please choose a time for your interview ({kind.name})",
        body,
        dedupe_key=f"invite:{invitation.id}",
    )
    return link


def candidate_changed(config: Config, interview: Interview, kind: str) -> None:
    """The recruiter who invited the candidate is told that the candidate moved ("rescheduled")
    or cancelled ("cancelled") the interview from their link; the panel and the candidate get
    the updated calendar invitation from `notify`."""
    invitation = Invitation.get_or_none(Invitation.interview == interview)
    recruiter = invitation.created_by if invitation is not None else None
    if recruiter is None:
        return
    candidate = interview.candidate
    what = (
        f"moved their interview to {_when(interview, recruiter.timezone)}"
        if kind == "rescheduled"
        else f"cancelled their interview of {_when(interview, recruiter.timezone)}"
    )
    queue_message(
        recruiter.email,
        f"{candidate.name} {'moved' if kind == 'rescheduled' else 'cancelled'} their interview",
        f"{candidate.name} {what}.\n\n{config.public_url}/interviews/{interview.id}\n",
        interview=interview,
        dedupe_key=f"by-candidate:{kind}:{interview.id}:{interview.sequence}",
    )


def no_free_times(config: Config, invitation: Invitation) -> None:
    """The recruiter who sent the invitation is told its candidate found no time to book."""
    recruiter = invitation.created_by
    if recruiter is None or invitation.no_times_at is None:
        return
    candidate, kind = invitation.candidate, invitation.interview_type
    queue_message(
        recruiter.email,
        f"No free times for {candidate.name}",
        f"{candidate.name} opened their link to book the {kind.name} interview and found no "
        "free time: its panel has no time free together within the scheduling horizon. Add "
        "availability or change the panel, or arrange a time with them.\n\n"
        f"{config.public_url}/candidates/{candidate.id}\n",
        dedupe_key=f"no-times:{invitation.id}:{int(invitation.no_times_at.timestamp())}",
    )


def recording_declined(config: Config, interview: Interview, invitation: Invitation) -> None:
    """Under the reschedule policy, the recruiter who sent the invitation is told."""
    recruiter = invitation.created_by
    if recruiter is None:
        return
    when = _when(interview, recruiter.timezone)
    queue_message(
        recruiter.email,
        f"Recording declined: {interview.candidate.name}",
        f"{interview.candidate.name} declined recording for the interview on {when}, so it will "
        "not take place as booked. Please contact them to arrange another way.\n",
        interview=interview,
        dedupe_key=f"declined:{interview.id}",
    )


def webhook_switched_off(config: Config, endpoint: WebhookEndpoint) -> None:
    """Every administrator is told that a day of failed deliveries switched an endpoint off."""
    for admin in User.select().where((User.role == Role.ADMIN) & User.active):
        queue_message(
            admin.email,
            "A webhook endpoint was switched off",
            f"Parley could not deliver events to {endpoint.url} for a day, so it stopped "
            "sending to it. Check the receiver, then switch the endpoint on again; its delivery "
            "log shows each try and its answer.\n\n"
            f"{config.public_url}/admin/webhooks/{endpoint.id}\n",
            dedupe_key=f"webhook-off:{endpoint.id}:{endpoint.disabled_reason}",
        )
