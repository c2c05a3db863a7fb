"""Interviewers' calendars: a real CalDAV server (Radicale) on loopback holds events made with the
`caldav` client; once connected, self-scheduling never offers a time they cover, recurring ones
included. A calendar that answers garbage keeps its last busy times in force and says so to its
owner and to recruiters. Recruiters see and set an interviewer's availability."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, AvailabilityRule, BusyTime, CalendarConnection, User
from appliance.hiring import calendar_sync, scheduling
from appliance.hiring.scheduling import WeeklyWindow
from appliance.hiring.scheduling_rules import rules
from appliance.runtime import Runtime
from tests.conftest import free_port, make_user, post_form, sign_in

PARIS = scheduling.zone("Europe/Paris")


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[str]:
    """A CalDAV server with the user ivy (password "secret"); yields its address."""
    port = free_port()
    (tmp_path / "users").write_text("ivy:secret\n")
    (tmp_path / "radicale.conf").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {tmp_path / 'users'}\n"
        "htpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {tmp_path / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(tmp_path / "radicale.conf")]
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "radicale did not start"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _next_weekday(weekday: int, hour: int, minute: int = 0) -> dt.datetime:
    """The given weekday of next week at hour:minute, Paris time (aware)."""
    today = dt.date.today()
    day = today + dt.timedelta(days=7 - today.weekday() + weekday)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def _panel_of_ivy(runtime: Runtime) -> tuple[User, int]:
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    windows = [WeeklyWindow(day, "09:00", "17:00") for day in range(5)]
    scheduling.set_availability(runtime.audit, "t", ivy, "Europe/Paris", windows)
    kind = scheduling.create_interview_type(runtime.audit, "t", "Screen", 60, [ivy.id])
    return ivy, kind.id


def _offered(runtime: Runtime, type_id: int, day: dt.datetime) -> list[dt.datetime]:
    """The start times offered on that day (Paris), in Paris time."""
    start = day.replace(hour=0)
    free = scheduling.free_slots(
        scheduling.get_interview_type(type_id), rules(runtime.config),
        start=start.astimezone(dt.UTC), end=(start + dt.timedelta(days=1)).astimezone(dt.UTC),
    )  # fmt: skip
    return [t.astimezone(PARIS) for t in free]


def _event(start: dt.datetime, summary: str, *lines: str) -> str:
    """An hour-long event from `start`, as iCalendar text (times in UTC)."""

    def utc(moment: dt.datetime) -> str:
        return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    body = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
        f"UID:{uuid.uuid4().hex}@example.com", f"DTSTAMP:{utc(start)}",
        f"DTSTART:{utc(start)}", f"DTEND:{utc(start + dt.timedelta(hours=1))}",
        f"SUMMARY:{summary}", *lines, "END:VEVENT", "END:VCALENDAR",
    ]  # fmt: skip
    return "\r\n".join(body) + "\r\n"


def test_busy_times_in_a_caldav_calendar_are_never_offered(
    runtime: Runtime, client: TestClient[Litestar], radicale: str
) -> None:
    ivy, type_id = _panel_of_ivy(runtime)
    monday, tuesday = _next_weekday(0, 10), _next_weekday(1, 14)
    before = _offered(runtime, type_id, monday)
    assert monday in before and monday - dt.timedelta(minutes=30) in before

    principal = DAVClient(url=radicale, username="ivy", password="secret").principal()
    work = principal.make_calendar(name="Work")
    work.save_event(_event(monday, "Dentist"))
    work.save_event(_event(tuesday, "1:1", "RRULE:FREQ=WEEKLY;COUNT=4"))
    # Marked free: does not block.
    free = _next_weekday(2, 11)
    work.save_event(_event(free, "Reminder", "TRANSP:TRANSPARENT"))

    runtime.config.calendars.allowed = radicale
    assert sign_in(client, "ivy@example.com") == 303
    connected = post_form(client, "/availability/calendar", {
        "kind": "caldav", "url": radicale, "username": "ivy", "password": "secret"})  # fmt: skip
    assert connected.status_code == 200, connected.text
    assert "busy time(s) ahead" in connected.text and "cannot be read" not in connected.text
    connection = CalendarConnection.get()
    assert b"secret" not in bytes(connection.sealed_password)

    offered = _offered(runtime, type_id, monday)
    # An hour-long interview may neither start in the event nor run into it.
    for blocked in (monday, monday - dt.timedelta(minutes=30), monday + dt.timedelta(minutes=30)):
        assert blocked not in offered
    assert monday + dt.timedelta(hours=1) in offered and monday - dt.timedelta(hours=1) in offered
    for week in range(4):
        assert tuesday + dt.timedelta(weeks=week) not in _offered(
            runtime, type_id, tuesday + dt.timedelta(weeks=week)
        )
    assert free in _offered(runtime, type_id, free)
    reasons = scheduling.unavailable([ivy], monday, monday + dt.timedelta(hours=1),
                                     rules(runtime.config))  # fmt: skip
    assert reasons == ["ivy@example.com is busy then (their calendar)."]

    # The event goes; the worker's next read frees the time.
    for event in work.events():
        if "Dentist" in event.data:
            event.delete()
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=10)
    assert calendar_sync.refresh_due(runtime.keys, runtime.config.calendars, later) == 1
    assert monday in _offered(runtime, type_id, monday)
    # Not read again before `refresh_minutes` has passed.
    assert calendar_sync.refresh_due(runtime.keys, runtime.config.calendars, later) == 0
    actions = [
        e.action for e in AuditEntry.select().where(AuditEntry.action.startswith("calendar"))
    ]
    assert actions == ["calendar.connect"]


class Files:
    """An HTTP server answering every GET with `body`."""

    body = b""


@pytest.fixture
def ics_server() -> Iterator[tuple[str, type[Files]]]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/calendar")
            self.send_header("content-length", str(len(Files.body)))
            self.end_headers()
            self.wfile.write(Files.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ivy.ics", Files
    server.shutdown()
    server.server_close()


def _ics(start: dt.datetime) -> bytes:
    stamp = start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    end = (start + dt.timedelta(hours=2)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:offsite@example.com\r\nDTSTAMP:{stamp}\r\nDTSTART:{stamp}\r\nDTEND:{end}\r\n"
        "SUMMARY:Offsite\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@pytest.mark.parametrize(
    "garbage",
    [b"<html>Service unavailable</html>", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2027",
     b"\xff\xfe\x00garbage", b""],
)  # fmt: skip
def test_a_calendar_answering_garbage_keeps_its_last_busy_times_and_says_so(
    runtime: Runtime, client: TestClient[Litestar], ics_server: tuple[str, type[Files]],
    garbage: bytes,
) -> None:  # fmt: skip
    url, files = ics_server
    ivy, type_id = _panel_of_ivy(runtime)
    wednesday = _next_weekday(2, 10)
    files.body = _ics(wednesday)
    runtime.config.calendars.allowed = url.rsplit("/", 1)[0] + "/"
    connection = calendar_sync.connect(
        runtime.audit, runtime.keys, runtime.config.calendars, ivy, "ics", url
    )
    assert calendar_sync.refresh(runtime.keys, connection)
    assert wednesday not in _offered(runtime, type_id, wednesday)
    files.body = garbage
    assert not calendar_sync.refresh(runtime.keys, CalendarConnection.get())
    kept = CalendarConnection.get()
    assert kept.last_error and kept.failing_since is not None
    assert BusyTime.select().count() == 1
    assert wednesday not in _offered(runtime, type_id, wednesday)

    assert sign_in(client, "ivy@example.com") == 303
    assert 'id="calendar-error"' in client.get("/availability").text
    make_user(runtime, "recruiter")
    client.cookies.clear()
    assert sign_in(client, "recruiter@example.com") == 303
    outlook = client.get(f"/api/interview-types/{type_id}/outlook").json()
    (member,) = outlook["members"]
    assert member["user_id"] == ivy.id and member["calendar_error"] == kept.last_error
    assert "cannot be read since" in client.get(f"/users/{ivy.id}/availability").text

    files.body = _ics(wednesday + dt.timedelta(days=1))
    assert calendar_sync.refresh(runtime.keys, CalendarConnection.get())
    mended = CalendarConnection.get()
    assert mended.last_error == "" and mended.failing_since is None
    assert wednesday in _offered(runtime, type_id, wednesday)


def test_an_address_the_administrator_has_not_allowed_is_refused(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "interviewer", "ivy@example.com")
    assert sign_in(client, "ivy@example.com") == 303
    off = post_form(client, "/availability/calendar",
                    {"kind": "ics", "url": "https://calendar.example.com/ivy.ics"})  # fmt: skip
    assert off.status_code == 400 and "switched off" in off.text
    runtime.config.calendars.allowed = "https://calendar.example.com/"
    for url, why in (
        ("https://evil.example.com/ivy.ics", "allows calendars at"),
        ("https://calendar.example.com.evil.example/x.ics", "allows calendars at"),
        ("file:///etc/passwd", "http or https"),
    ):
        refused = post_form(client, "/availability/calendar", {"kind": "ics", "url": url})
        assert refused.status_code == 400 and why in refused.text, url
    assert not CalendarConnection.select().exists()


def test_recruiters_see_and_set_an_interviewers_availability(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    auditor = make_user(runtime, "compliance", "carl@example.com")
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    page = client.get(f"/users/{ivy.id}/availability")
    assert page.status_code == 200 and "Availability of ivy@example.com" in page.text
    assert "Calendar feed" not in page.text
    saved = post_form(client, f"/users/{ivy.id}/availability", {
        "timezone": "Europe/Paris", "start_0": "09:00", "end_0": "12:00"})  # fmt: skip
    assert saved.status_code == 200 and "Saved." in saved.text
    (rule,) = AvailabilityRule.select().where(AvailabilityRule.user == ivy)
    assert (rule.weekday, rule.start_minute, rule.end_minute) == (0, 9 * 60, 12 * 60)
    (entry,) = AuditEntry.select().where(AuditEntry.action == "availability.set")
    assert entry.actor == "recruiter@example.com" and entry.subject == f"user:{ivy.id}"
    bad = post_form(client, f"/users/{ivy.id}/availability", {
        "timezone": "Europe/Paris", "start_0": "12:00", "end_0": "09:00"})  # fmt: skip
    assert bad.status_code == 400
    assert AvailabilityRule.select().where(AvailabilityRule.user == ivy).count() == 1
    off = post_form(client, f"/users/{ivy.id}/availability/time-off",
                    {"first_day": "2027-03-01", "last_day": "2027-03-05"})  # fmt: skip
    assert off.status_code == 200
    assert client.get(f"/users/{auditor.id}/availability").status_code == 404
    assert client.get("/users/999999/availability").status_code == 404
