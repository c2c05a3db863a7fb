"""Calendar invitations (iCalendar, RFC 5545) for interviews.

Each interview has one stable UID; every change raises its SEQUENCE, so a calendar that got
the REQUEST updates the event in place, and a CANCEL with the same UID removes it.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vCalAddress, vText

from appliance.core.config import Config
from appliance.db.database import utcnow
from appliance.db.models import Interview, User
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc

PRODID = "-//Parley//Interviews//EN"
RECORDING_NOTICE = (
    "This interview is recorded and transcribed on the employer's own Parley appliance. "
    "You will be asked for your consent before it starts, and told who can see the recording "
    "and how long it is kept."
)


def organizer(config: Config) -> str:
    """The address invitations and feeds name as organizer: the configured sender's."""
    return parseaddr(config.smtp.sender)[1] or "parley@localhost"


def event_uid(interview: Interview, public_url: str) -> str:
    host = urlsplit(public_url).hostname or "parley.local"
    return f"interview-{interview.id}@{host}"


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    return calendar


def _event(
    interview: Interview,
    public_url: str,
    title: str,
    join_url: str,
    organizer: str,
    attendees: list[tuple[str, str]],
    cancelled: bool,
) -> Event:
    event = Event()
    event.add("uid", event_uid(interview, public_url))
    event.add("sequence", interview.sequence)
    event.add("dtstamp", utcnow().replace(tzinfo=dt.UTC))
    event.add("dtstart", as_utc(interview.starts_at))
    event.add("dtend", as_utc(interview.ends_at))
    event.add("summary", title)
    event.add(
        "description", f"Join: {join_url}\n\n{RECORDING_NOTICE}" if join_url else RECORDING_NOTICE
    )
    if join_url:
        event.add("location", join_url)
        event.add("url", join_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    who = vCalAddress(f"mailto:{organizer}")
    who.params["cn"] = vText("Parley")
    event.add("organizer", who)
    for name, email in attendees:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["cn"] = vText(name or email)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    return event


def invitation_ics(
    interview: Interview,
    public_url: str,
    title: str,
    join_url: str,
    organizer: str,
    attendees: list[tuple[str, str]],
) -> str:
    """METHOD:REQUEST for a booked or moved interview, METHOD:CANCEL for a cancelled one."""
    cancelled = interview.status == "cancelled"
    calendar = _calendar("CANCEL" if cancelled else "REQUEST")
    calendar.add_component(
        _event(interview, public_url, title, join_url, organizer, attendees, cancelled)
    )
    return str(calendar.to_ical().decode("utf-8"))


def feed_ics(user: User, interviews: list[Interview], public_url: str, organizer: str) -> str:
    """An interviewer's subscription feed: every interview of theirs, no METHOD."""
    calendar = _calendar("")
    calendar.add("x-wr-calname", f"Parley interviews: {user.name or user.email}")
    for interview in interviews:
        candidate = interview.candidate
        who = display_name(candidate)
        join = f"{public_url}/interviews/{interview.id}"
        calendar.add_component(
            _event(
                interview,
                public_url,
                f"Interview: {who}",
                join,
                organizer,
                [],
                interview.status == "cancelled",
            )
        )
    return str(calendar.to_ical().decode("utf-8"))
