"""Scheduling: availability across time zones and daylight saving, time off, buffers, notice,
an atomic booking race, calendar invitations delivered to a real local SMTP server, and
reminders that go out once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from appliance.core.config import SchedulingConfig, SmtpConfig
from appliance.core.errors import ApplianceError, Conflict
from appliance.db.models import Interview, InterviewParticipant, OutboxMessage, User
from appliance.hiring import mailer, notifications, scheduling
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.hiring.scheduling import LinkRefused, WeeklyWindow
from appliance.runtime import Runtime
from tests.conftest import free_port, make_user

UTC = dt.UTC
SETTINGS = SchedulingConfig(buffer_minutes=10, minimum_notice_hours=12, slot_step_minutes=15)
SUNDAY_NOON = dt.datetime(2026, 1, 4, 12, 0, tzinfo=UTC)  # the Monday after is 5 January


def _weekdays(start: str, end: str) -> list[WeeklyWindow]:
    return [WeeklyWindow(day, start, end) for day in range(5)]


@dataclasses.dataclass
class Panel:
    berlin: User
    london: User
    kind: scheduling.InterviewType


@pytest.fixture
def panel(runtime: Runtime) -> Panel:
    berlin = make_user(runtime, "interviewer", "bea@example.com")
    london = make_user(runtime, "interviewer", "leo@example.com")
    scheduling.set_availability(
        runtime.audit, "t", berlin, "Europe/Berlin", _weekdays("09:00", "12:00")
    )
    scheduling.set_availability(
        runtime.audit, "t", london, "Europe/London", _weekdays("09:00", "17:00")
    )
    kind = scheduling.create_interview_type(
        runtime.audit, "t", "Technical", 60, [berlin.id, london.id]
    )
    return Panel(berlin, london, kind)


def _day(slots: list[dt.datetime], day: dt.date) -> list[str]:
    return [f"{s:%H:%M}" for s in slots if s.date() == day]


def _invite(runtime: Runtime, panel: Panel, email: str) -> str:
    candidate = create_candidate(runtime.audit, "t", CandidateFields(email.split("@")[0], email))
    key = scheduling.link_key(runtime.keys)
    return scheduling.invite(runtime.audit, "t", candidate.id, panel.kind.id, SETTINGS, key)[1]


def test_slots_are_where_every_panel_member_is_free(runtime: Runtime, panel: Panel) -> None:
    monday = dt.date(2026, 1, 5)
    scheduling.add_time_off(
        runtime.audit, "t", panel.berlin, monday + dt.timedelta(1), monday + dt.timedelta(1)
    )
    token = _invite(runtime, panel, "cara@example.com")
    booked = dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    scheduling.book(runtime.audit, token, booked, "America/New_York", SETTINGS, now=SUNDAY_NOON)
    slots = scheduling.free_slots(
        panel.kind, SETTINGS, now=SUNDAY_NOON, end=SUNDAY_NOON + dt.timedelta(days=5)
    )
    # Berlin 09-12 CET is 08-11 UTC; London 09-17 GMT is 09-17 UTC: an hour fits 09:00-10:00.
    assert _day(slots, monday) == ["09:00", "09:15", "09:30", "09:45", "10:00"]
    assert _day(slots, monday + dt.timedelta(1)) == []  # Berlin's day off
    # Wednesday's 09:00 booking plus its 10-minute buffer leaves no whole hour before 11:00.
    assert _day(slots, monday + dt.timedelta(2)) == []
    assert _day(slots, monday + dt.timedelta(3)) == ["09:00", "09:15", "09:30", "09:45", "10:00"]
    late = scheduling.free_slots(
        panel.kind, SETTINGS, now=dt.datetime(2026, 1, 4, 22, 0, tzinfo=UTC)
    )
    assert min(late) == dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # 12 hours' notice


def test_daylight_saving_moves_nothing_in_local_time(runtime: Runtime, panel: Panel) -> None:
    now = dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Berlin and London change on the 29th
    slots = scheduling.free_slots(panel.kind, SETTINGS, now=now, end=now + dt.timedelta(days=3))
    # Monday 30 March: Berlin 09-12 CEST is 07-10 UTC, London 09-17 BST is 08-16 UTC.
    assert _day(slots, dt.date(2026, 3, 30)) == ["08:00", "08:15", "08:30", "08:45", "09:00"]


def test_two_candidates_racing_for_one_slot_cannot_both_get_it(
    runtime: Runtime, panel: Panel
) -> None:
    tokens = [_invite(runtime, panel, f"c{i}@example.com") for i in range(8)]
    slot = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    barrier = threading.Barrier(len(tokens))
    outcomes: list[str] = []

    def attempt(token: str) -> None:
        barrier.wait()
        try:
            scheduling.book(runtime.audit, token, slot, "Europe/Paris", SETTINGS, now=SUNDAY_NOON)
            outcomes.append("booked")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked"] + ["conflict"] * 7
    assert Interview.select().where(Interview.starts_at == slot.replace(tzinfo=None)).count() == 1
    winner = next(t for t in tokens if scheduling.invitation_for(t, SUNDAY_NOON).status == "booked")
    with pytest.raises(LinkRefused, match="already used"):
        scheduling.book(
            runtime.audit, winner, slot + dt.timedelta(days=3), "UTC", SETTINGS, now=SUNDAY_NOON
        )
    with pytest.raises(LinkRefused, match="not valid"):
        scheduling.invitation_for("forged-token", SUNDAY_NOON)
    with pytest.raises(LinkRefused, match="expired"):
        scheduling.invitation_for(tokens[1], dt.datetime.now(UTC) + dt.timedelta(days=60))
    loser = next(t for t in tokens if t != winner)
    with pytest.raises(Conflict, match="no longer free"):
        scheduling.book(
            runtime.audit,
            loser,
            slot + dt.timedelta(minutes=7),
            "UTC",
            SETTINGS,
            now=SUNDAY_NOON,
        )


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        raw = envelope.content  # type: ignore[attr-defined]
        self.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpConfig]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            inbox,
            SmtpConfig(
                host="127.0.0.1", port=port, security="none", sender="Parley <hr@example.com>"
            ),
        )
    finally:
        controller.stop()


def _calendar(message: EmailMessage) -> Calendar:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_content())


def test_invitations_reach_everyone_and_update_in_place(
    runtime: Runtime, panel: Panel, smtp: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, settings = smtp
    runtime.config.smtp = settings
    key = scheduling.link_key(runtime.keys)
    token = _invite(runtime, panel, "cara@example.com")
    slot = dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    interview = scheduling.book(
        runtime.audit, token, slot, "America/New_York", SETTINGS, now=SUNDAY_NOON
    )
    assert notifications.notify(runtime.config, interview, "booked", key) == 3
    assert notifications.notify(runtime.config, interview, "booked", key) == 0  # once only
    assert mailer.deliver_pending(settings) == 3
    by_recipient = {m["To"]: m for m in inbox.messages}
    assert set(by_recipient) == {"cara@example.com", "bea@example.com", "leo@example.com"}
    candidate_mail = by_recipient["cara@example.com"]
    body = candidate_mail.get_body(("plain",)).get_content()
    assert f"/i/{token}" in body and "recorded and transcribed" in body
    assert "04:30 (America/New_York)" in body
    event = _calendar(candidate_mail).walk("VEVENT")[0]
    assert _calendar(candidate_mail)["METHOD"] == "REQUEST"
    uid = str(event["UID"])
    assert (event["SEQUENCE"], event.decoded("DTSTART")) == (0, slot)
    assert f"/i/{token}" in str(event["DESCRIPTION"])
    assert "/interviews/" in str(
        _calendar(by_recipient["bea@example.com"]).walk("VEVENT")[0]["LOCATION"]
    )

    inbox.messages.clear()
    moved = scheduling.reschedule(
        runtime.audit, "t", interview, slot + dt.timedelta(days=3), SETTINGS, now=SUNDAY_NOON
    )
    notifications.notify(runtime.config, moved, "rescheduled", key)
    scheduling.cancel(runtime.audit, "t", moved, "candidate withdrew")
    notifications.notify(runtime.config, moved, "cancelled", key)
    mailer.deliver_pending(settings)
    seen = [
        (_calendar(m)["METHOD"], _calendar(m).walk("VEVENT")[0])
        for m in inbox.messages
        if m["To"] == "cara@example.com"
    ]
    assert [(method, e["SEQUENCE"], str(e["UID"])) for method, e in seen] == [
        ("REQUEST", 1, uid),
        ("CANCEL", 2, uid),
    ]
    assert seen[0][1].decoded("DTSTART") == slot + dt.timedelta(days=3)


def test_without_a_relay_messages_wait_for_a_person_and_a_dead_relay_is_retried(
    runtime: Runtime, panel: Panel
) -> None:
    key = scheduling.link_key(runtime.keys)
    token = _invite(runtime, panel, "cara@example.com")
    slot = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    interview = scheduling.book(runtime.audit, token, slot, "UTC", SETTINGS, now=SUNDAY_NOON)
    notifications.notify(runtime.config, interview, "booked", key)
    assert mailer.deliver_pending(SmtpConfig()) == 0
    assert {m.status for m in OutboxMessage.select()} == {"manual"}
    assert all("BEGIN:VCALENDAR" in m.ics for m in OutboxMessage.select())

    OutboxMessage.update(status="pending").execute()
    dead = SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout_seconds=2)
    for _ in range(mailer.MAX_ATTEMPTS):
        assert mailer.deliver_pending(dead) == 0
    failed = list(OutboxMessage.select())
    assert {m.status for m in failed} == {"failed"}
    assert all(m.attempts == mailer.MAX_ATTEMPTS and "Connect" in m.error for m in failed)


def test_reminders_go_out_once_each(runtime: Runtime, panel: Panel) -> None:
    key = scheduling.link_key(runtime.keys)
    token = _invite(runtime, panel, "cara@example.com")
    slot = dt.datetime(2026, 1, 8, 9, 0, tzinfo=UTC)
    interview = scheduling.book(runtime.audit, token, slot, "UTC", SETTINGS, now=SUNDAY_NOON)
    Interview.update(created_at=dt.datetime(2026, 1, 4, 12, 0)).where(
        Interview.id == interview.id
    ).execute()
    day_before = slot - dt.timedelta(hours=23)
    assert notifications.send_reminders(runtime.config, key, day_before) == 3
    assert (
        notifications.send_reminders(runtime.config, key, day_before + dt.timedelta(minutes=5)) == 0
    )
    hour_before = slot - dt.timedelta(minutes=50)
    assert notifications.send_reminders(runtime.config, key, hour_before) == 3
    assert notifications.send_reminders(runtime.config, key, hour_before) == 0
    assert {m.subject.split(":")[0] for m in OutboxMessage.select()} == {"Reminder"}
    assert OutboxMessage.select().where(OutboxMessage.subject.contains("tomorrow")).count() == 3
    assert OutboxMessage.select().where(OutboxMessage.subject.contains("one hour")).count() == 3
    assert (
        InterviewParticipant.select().where(InterviewParticipant.interview == interview).count()
        == 2
    )


def test_only_real_time_zones_are_accepted(runtime: Runtime) -> None:
    user = make_user(runtime, "interviewer", "zed@example.com")
    for name in ("Mars/Base", "America", "../../etc/passwd", "", "tzdata.zi"):
        with pytest.raises(ApplianceError, match="unknown time zone"):
            scheduling.set_availability(runtime.audit, "t", user, name, [])
    assert User.get_by_id(user.id).timezone == "UTC"


def test_the_outbox_keeps_messages_for_its_retention_and_no_longer(runtime: Runtime) -> None:
    now = dt.datetime(2026, 12, 1, 12, 0)
    ages = {"old-sent": 91, "old-waiting": 120, "recent": 89, "today": 0}
    for name, days in ages.items():
        message = mailer.queue_message("a@example.com", name, "body", dedupe_key=name)
        assert message is not None
        status = "sent" if name.endswith("sent") else "pending"
        OutboxMessage.update(created_at=now - dt.timedelta(days=days), status=status).where(
            OutboxMessage.id == message.id
        ).execute()
    assert mailer.prune_outbox(SmtpConfig().keep_days, now) == 2
    assert sorted(m.subject for m in OutboxMessage.select()) == ["recent", "today"]
    assert mailer.prune_outbox(SmtpConfig().keep_days, now) == 0


def test_a_recruiter_moves_an_interview_to_any_minute_the_panel_is_free(
    runtime: Runtime, panel: Panel
) -> None:
    """The candidate's minimum notice and slot grid shape what a link offers; a recruiter may
    move an interview to 09:07 today. A refusal names who is not free, and why."""
    first = scheduling.book(
        runtime.audit,
        _invite(runtime, panel, "cara@example.com"),
        dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC),
        "UTC",
        SETTINGS,
        now=SUNDAY_NOON,
    )
    other = scheduling.book(
        runtime.audit,
        _invite(runtime, panel, "dan@example.com"),
        dt.datetime(2026, 1, 8, 9, 0, tzinfo=UTC),
        "UTC",
        SETTINGS,
        now=SUNDAY_NOON,
    )
    scheduling.add_time_off(
        runtime.audit, "t", panel.berlin, dt.date(2026, 1, 6), dt.date(2026, 1, 6)
    )
    monday_six = dt.datetime(2026, 1, 5, 6, 0, tzinfo=UTC)

    def move(hour: int, minute: int, day: int = 5) -> str:
        start = dt.datetime(2026, 1, day, hour, minute, tzinfo=UTC)
        try:
            scheduling.reschedule(runtime.audit, "t", first, start, SETTINGS, now=monday_six)
        except Conflict as refused:
            return str(refused)
        return "moved"

    assert move(5, 0) == "The new start has passed; choose a time from now on."
    # Berlin is free 08:00-11:00 UTC, London 09:00-17:00 UTC.
    assert move(8, 0) == "leo@example.com is not available then (outside their weekly hours)."
    assert move(9, 0, day=6) == "bea@example.com has time off then."
    assert move(10, 0, day=8) == (
        "bea@example.com has another interview then, or within 10 minutes. "
        "leo@example.com has another interview then, or within 10 minutes."
    )
    assert Interview.get_by_id(first.id).sequence == 0  # every refusal left it where it was
    assert move(9, 7) == "moved"  # three hours' notice, off the 15-minute grid
    moved = Interview.get_by_id(first.id)
    assert (moved.starts_at, moved.sequence) == (dt.datetime(2026, 1, 5, 9, 7), 1)
    assert Interview.get_by_id(other.id).starts_at == dt.datetime(2026, 1, 8, 9, 0)


def test_availability_runs_to_midnight_and_joins_the_next_day(runtime: Runtime) -> None:
    owl = make_user(runtime, "interviewer", "owl@example.com")
    scheduling.set_availability(
        runtime.audit,
        "t",
        owl,
        "UTC",
        [WeeklyWindow(0, "20:00", "00:00"), WeeklyWindow(1, "00:00", "01:00")],
    )
    assert scheduling.availability_of(owl) == {0: ("20:00", "00:00"), 1: ("00:00", "01:00")}
    kind = scheduling.create_interview_type(runtime.audit, "t", "Late", 60, [owl.id])
    slots = scheduling.free_slots(
        kind,
        dataclasses.replace(SETTINGS, minimum_notice_hours=0),
        now=SUNDAY_NOON,
        end=SUNDAY_NOON + dt.timedelta(days=3),
    )
    assert [f"{s:%a %H:%M}" for s in slots][-1] == "Tue 00:00"
    assert dt.datetime(2026, 1, 5, 23, 30, tzinfo=UTC) in slots  # across midnight
    assert dt.datetime(2026, 1, 5, 23, 45, tzinfo=UTC) in slots
