"""Interviewers' own calendars: connected by the interviewer (a CalDAV account, or an ICS
address) where the administrator allows its address (`[calendars] allowed`), read by the worker
every `refresh_minutes`, so that self-scheduling never offers a time they are busy in.

A read replaces the busy times kept for the calendar; a read that fails keeps the last ones in
force and says why on the interviewer's availability page and to recruiters, from the first
failure on. Only busy intervals are kept: no event's title, place or guests.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import icalendar
import recurring_ical_events
from caldav.davclient import DAVClient
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.core.config import CalendarsConfig
from appliance.core.errors import ApplianceError, Invalid
from appliance.db.database import utcnow
from appliance.db.models import BusyTime, CalendarConnection, User
from appliance.hiring.scheduling import Interval, as_utc, stored, zone
from appliance.storage.appliance_keys import ApplianceKeys
from appliance.storage.audit import AuditLog

KINDS = ("caldav", "ics")
TIMEOUT_SECONDS = 10
MAX_ICS_BYTES = 5 << 20
# How far ahead busy times are read: as far as self-scheduling offers times, and a little more.
AHEAD = dt.timedelta(days=90)
MAX_BUSY = 5000  # per calendar: more is refused as garbage rather than stored


class CalendarUnreadable(ApplianceError):
    """The calendar could not be read; the message says why, for its owner."""


def allowed_prefixes(settings: CalendarsConfig) -> list[str]:
    return [p.strip() for p in settings.allowed.split(",") if p.strip()]


def enabled(settings: CalendarsConfig) -> bool:
    return bool(allowed_prefixes(settings))


def _password_key(keys: ApplianceKeys) -> bytes:
    return keys.derive("calendar passwords")


def _seal(keys: ApplianceKeys, user_id: int, password: str) -> bytes:
    nonce = secrets.token_bytes(12)
    aad = f"calendar:{user_id}".encode()
    return nonce + AESGCM(_password_key(keys)).encrypt(nonce, password.encode(), aad)


def _open(keys: ApplianceKeys, connection: CalendarConnection) -> str:
    sealed = bytes(connection.sealed_password or b"")
    if not sealed:
        return ""
    aad = f"calendar:{connection.user.id}".encode()
    return AESGCM(_password_key(keys)).decrypt(sealed[:12], sealed[12:], aad).decode()


def connect(
    audit: AuditLog, keys: ApplianceKeys, settings: CalendarsConfig, user: User, kind: str,
    url: str, username: str = "", password: str = "",
) -> CalendarConnection:  # fmt: skip
    """Connect (or replace) the user's calendar; it is read by the worker from then on."""
    url = url.strip()
    if not enabled(settings):
        raise Invalid("connecting calendars is switched off on this box; ask your administrator")
    if kind not in KINDS:
        raise Invalid(f"Kind: one of {', '.join(KINDS)}")
    if not url.startswith(("https://", "http://")) or len(url) > 2000 or not url.isprintable():
        raise Invalid("Address: an http or https address of at most 2000 characters")
    if not any(url.startswith(prefix) for prefix in allowed_prefixes(settings)):
        raise Invalid(
            "Address: your administrator allows calendars at "
            + ", ".join(allowed_prefixes(settings))
        )
    if len(username) > 200 or len(password) > 500:
        raise Invalid("User name: at most 200 characters; password: at most 500")
    with audit.db.atomic():
        CalendarConnection.delete().where(CalendarConnection.user == user).execute()
        connection = CalendarConnection.create(
            user=user, kind=kind, url=url, username=username.strip(),
            sealed_password=_seal(keys, user.id, password) if password else None,
        )  # fmt: skip
        audit.record(user.email, "calendar.connect", f"user:{user.id}", {"kind": kind, "url": url})
    return connection


def disconnect(audit: AuditLog, user: User) -> None:
    with audit.db.atomic():
        if CalendarConnection.delete().where(CalendarConnection.user == user).execute():
            audit.record(user.email, "calendar.disconnect", f"user:{user.id}")


def _interval(start: Any, end: Any, timezone: str) -> Interval | None:
    """An event's time as aware UTC; a whole-day event covers its days in the owner's zone."""
    if not isinstance(start, dt.datetime):
        if not isinstance(start, dt.date):
            return None
        end = end if isinstance(end, dt.date) else start + dt.timedelta(days=1)
        local = zone(timezone)
        start = dt.datetime.combine(start, dt.time(), local)
        end = dt.datetime.combine(end, dt.time(), local)
    if not isinstance(end, dt.datetime):
        end = start
    if start.tzinfo is None:  # floating time: the owner's own clock
        start, end = start.replace(tzinfo=zone(timezone)), end.replace(tzinfo=zone(timezone))
    if end.tzinfo is None:
        end = end.replace(tzinfo=start.tzinfo)
    if end <= start:
        return None
    return Interval(as_utc(start), as_utc(end))


def _busy_of(components: list[Any], timezone: str) -> list[Interval]:
    busy = []
    for event in components:
        if str(event.get("transp", "OPAQUE")).upper() == "TRANSPARENT":
            continue  # marked free: a reminder, a birthday
        if str(event.get("status", "")).upper() == "CANCELLED":
            continue
        start, end = event.get("dtstart"), event.get("dtend")
        if start is None:
            continue
        found = _interval(start.dt, end.dt if end is not None else None, timezone)
        if found is not None:
            busy.append(found)
    if len(busy) > MAX_BUSY:
        raise CalendarUnreadable(f"the calendar holds more than {MAX_BUSY} events ahead")
    return busy


def _read_caldav(url: str, username: str, password: str, start: dt.datetime,
                 end: dt.datetime) -> list[Any]:  # fmt: skip
    client = DAVClient(url=url, username=username or None, password=password or None,
                              timeout=TIMEOUT_SECONDS)  # fmt: skip
    components = []
    for calendar in client.principal().calendars():  # type: ignore[no-untyped-call]
        for event in calendar.search(start=start, end=end, event=True, expand=True):
            components.append(event.icalendar_component)
    return components


def _read_ics(url: str, start: dt.datetime, end: dt.datetime) -> list[Any]:
    request = urllib.request.Request(url, headers={"accept": "text/calendar"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
        body = answer.read(MAX_ICS_BYTES + 1)
    if len(body) > MAX_ICS_BYTES:
        raise CalendarUnreadable(f"the calendar file is larger than {MAX_ICS_BYTES >> 20} MB")
    calendar = icalendar.Calendar.from_ical(body)
    return list(recurring_ical_events.of(calendar).between(start, end))


def read(keys: ApplianceKeys, connection: CalendarConnection, now: dt.datetime) -> list[Interval]:
    """The calendar's busy times from `now` to AHEAD; CalendarUnreadable with the reason."""
    start = as_utc(now)
    end = start + AHEAD
    timezone = connection.user.timezone
    try:
        if connection.kind == "caldav":
            components = _read_caldav(
                connection.url, connection.username, _open(keys, connection), start, end
            )
        else:
            components = _read_ics(connection.url, start, end)
        return _busy_of(components, timezone)
    except CalendarUnreadable:
        raise
    except urllib.error.HTTPError as exc:
        raise CalendarUnreadable(f"the calendar server answered {exc.code}") from None
    except Exception as exc:  # a server's garbage can break any layer of the client
        raise CalendarUnreadable(
            f"the calendar could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


def refresh(
    keys: ApplianceKeys, connection: CalendarConnection, now: dt.datetime | None = None
) -> bool:
    """Read the calendar and keep what it says; on failure keep the last busy times and the
    reason. True when the read worked."""
    now = now or utcnow()
    try:
        busy = read(keys, connection, now)
    except CalendarUnreadable as exc:
        CalendarConnection.update(
            last_attempt_at=now, last_error=str(exc)[:300],
            failing_since=connection.failing_since or now,
        ).where(CalendarConnection.id == connection.id).execute()  # fmt: skip
        return False
    with CalendarConnection._meta.database.atomic():
        BusyTime.delete().where(BusyTime.connection == connection).execute()
        rows = [
            {"connection": connection.id, "starts_at": stored(b.start), "ends_at": stored(b.end)}
            for b in busy
        ]
        for batch in range(0, len(rows), 500):
            BusyTime.insert_many(rows[batch : batch + 500]).execute()
        CalendarConnection.update(
            last_attempt_at=now, last_read_at=now, last_error="", failing_since=None
        ).where(CalendarConnection.id == connection.id).execute()
    return True


def refresh_due(
    keys: ApplianceKeys, settings: CalendarsConfig, now: dt.datetime | None = None
) -> int:
    """Read every calendar not tried for `refresh_minutes`; how many were read."""
    now = now or utcnow()
    due = now - dt.timedelta(minutes=settings.refresh_minutes)
    read_ok = 0
    for connection in CalendarConnection.select().where(
        CalendarConnection.last_attempt_at.is_null() | (CalendarConnection.last_attempt_at <= due)
    ):
        read_ok += refresh(keys, connection, now)
    return read_ok


@dataclass(frozen=True)
class CalendarState:
    kind: str
    url: str
    username: str
    last_read_at: dt.datetime | None
    last_error: str
    failing_since: dt.datetime | None
    busy_ahead: int  # busy times kept from now on


def state_of(user: User) -> CalendarState | None:
    """The user's calendar as their page and recruiters show it; None when none is connected."""
    connection = CalendarConnection.get_or_none(CalendarConnection.user == user)
    if connection is None:
        return None
    ahead = (
        BusyTime.select()
        .where((BusyTime.connection == connection) & (BusyTime.ends_at > utcnow()))
        .count()
    )
    return CalendarState(
        connection.kind, connection.url, connection.username, connection.last_read_at,
        connection.last_error, connection.failing_since, ahead,
    )  # fmt: skip
