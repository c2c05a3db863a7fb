"""The scheduling pages end to end over HTTP: a recruiter sets up an interview type and invites
a candidate, the candidate books from their link in their own time zone, interviewers keep
availability and subscribe to their calendar feed."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from icalendar import Calendar
from litestar import Litestar
from litestar.testing import TestClient

from appliance.contracts.ended_rooms import ended, ended_rooms_dir
from appliance.contracts.join_token import verify as verify_token
from appliance.db.models import AuditEntry, Consent, Interview, OutboxMessage, User
from appliance.hiring import scheduling
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.interview import live_room
from appliance.interview.join import room_name as live_room_name
from appliance.runtime import Runtime
from tests.conftest import csrf_headers, make_user, post_form, sign_in


def _sign_out(client: TestClient[Litestar]) -> None:
    client.cookies.clear()


def test_invite_book_and_subscribe(runtime: Runtime, client: TestClient[Litestar]) -> None:
    make_user(runtime, "recruiter")
    ivy = make_user(runtime, "interviewer", "ivy@example.com")

    sign_in(client, "ivy@example.com")
    every_day = {f"start_{d}": "00:00" for d in range(7)} | {f"end_{d}": "23:45" for d in range(7)}
    saved = post_form(client, "/availability", {"timezone": "Asia/Tokyo", **every_day})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert User.get_by_id(ivy.id).timezone == "Asia/Tokyo"
    bad = post_form(
        client, "/availability", {"timezone": "Mars/Base", "start_0": "09:00", "end_0": "10:00"}
    )
    assert bad.status_code == 400 and "Unknown time zone" in bad.text
    backwards = post_form(
        client, "/availability", {"timezone": "UTC", "start_0": "12:00", "end_0": "09:00"}
    )
    assert backwards.status_code == 400 and "must end after it starts" in backwards.text
    post_form(client, "/availability", {"timezone": "Asia/Tokyo", **every_day})
    feed_page = post_form(client, "/availability/feed", {})
    feed_url = re.search(r"<code>(http[^<]+)</code>", feed_page.text)
    assert feed_url is not None
    feed_path = feed_url.group(1).split("8080", 1)[1]
    _sign_out(client)

    sign_in(client, "recruiter@example.com")
    created = post_form(
        client,
        "/interview-types",
        {"name": "Culture", "duration_minutes": "30", f"panel_{ivy.id}": "on"},
    )
    assert created.status_code == 303
    assert "Culture" in client.get("/interview-types").text
    candidate = client.post(
        "/api/candidates",
        json={"name": "Cara", "email": "cara@example.com"},
        headers={"x-csrftoken": client.cookies["parley_csrf"]},
    ).json()
    invited = post_form(client, f"/candidates/{candidate['id']}/invite", {"interview_type_id": "1"})
    link = re.search(r"<code>http://[^/]+(/i/[^<]+)</code>", invited.text)
    assert link is not None and "send this link" in invited.text
    outbox = client.get("/outbox")  # with no relay, the message waits for a person to send it
    assert "cara@example.com" in outbox.text and "Please choose a time" in outbox.text
    _sign_out(client)

    page = client.get(link.group(1), params={"tz": "America/Sao_Paulo"})
    assert page.status_code == 200 and "recorded and transcribed" in page.text
    slots = re.findall(r'name="slot" value="([^"]+)"', page.text)
    assert slots
    first = dt.datetime.fromisoformat(slots[0])
    assert first >= dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)
    chosen = {"slot": slots[0], "tz": "America/Sao_Paulo"}
    confirm = post_form(client, link.group(1), chosen)  # one click picks; nothing is booked yet
    assert confirm.status_code == 200 and "Book this time" in confirm.text
    local = first.astimezone(dt.timezone(dt.timedelta(hours=-3)))
    assert f"{local:%H:%M} to " in confirm.text and "(America/Sao_Paulo)" in confirm.text
    assert Interview.select().count() == 0
    booked = post_form(client, link.group(1), {**chosen, "confirm": "yes"})
    assert booked.status_code == 303
    confirmation = client.get(link.group(1))
    assert f"{local:%H:%M} (America/Sao_Paulo)" in confirmation.text
    # No relay: the invitation waits in the outbox, and the page says so rather than "on its way".
    assert "Your recruiter will send a calendar invitation" in confirmation.text
    assert "on its way" not in confirmation.text
    interview = Interview.get(Interview.timezone == "America/Sao_Paulo")
    assert interview.starts_at == first.replace(tzinfo=None)
    again = post_form(client, link.group(1), {"slot": slots[1], "tz": "UTC", "confirm": "yes"})
    assert again.status_code == 410 and "already used" in again.text
    forged = client.get("/i/not-a-real-token")
    assert forged.status_code == 410 and "not valid" in forged.text
    recipients = [m.recipient for m in OutboxMessage.select().order_by(OutboxMessage.id)]
    assert recipients == ["cara@example.com", "cara@example.com", "ivy@example.com"]
    ics_message = OutboxMessage.select().where(OutboxMessage.ics != "").first()
    sign_in(client, "recruiter@example.com")
    download = client.get(f"/outbox/{ics_message.id}/invite.ics")
    assert download.headers["content-disposition"] == 'attachment; filename="invite.ics"'
    assert download.headers["content-type"] == "text/calendar; charset=utf-8"
    assert Calendar.from_ical(download.text)["METHOD"] == "REQUEST"
    assert post_form(client, f"/outbox/{ics_message.id}/sent", {}).status_code == 303
    assert OutboxMessage.get_by_id(ics_message.id).status == "sent_by_hand"
    entry = AuditEntry.get(AuditEntry.action == "outbox.sent_by_hand")
    assert (entry.actor, entry.subject) == ("recruiter@example.com", f"outbox:{ics_message.id}")
    assert f"/outbox/{ics_message.id}/sent" not in client.get("/outbox").text
    assert post_form(client, f"/outbox/{ics_message.id}/sent", {}).status_code == 409
    assert post_form(client, "/outbox/99999/sent", {}).status_code == 404
    _sign_out(client)

    feed = client.get(feed_path)
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    events = Calendar.from_ical(feed.text).walk("VEVENT")
    assert [e.decoded("DTSTART") for e in events] == [first]
    assert client.get("/calendar/forged.ics").status_code == 404


def _booked_soon(runtime: Runtime, client: TestClient[Litestar]) -> str:
    """A booked interview starting in five minutes; returns the candidate's link path."""
    link, interview = _booked_ahead(runtime)
    soon = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=5)
    Interview.update(starts_at=soon, ends_at=soon + dt.timedelta(minutes=30)).where(
        Interview.id == interview.id
    ).execute()
    return link


def test_the_candidate_consents_before_anything_else(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link = _booked_soon(runtime, client)
    early = client.post(f"{link}/lobby", headers=csrf_headers(client))
    assert early.status_code == 403
    assert early.json()["message"] == "please answer the recording notice first"
    notice = client.get(link)
    assert "recorded (video and audio) and transcribed" in notice.text
    assert "ivy@example.com" in notice.text and "No AI assistance is used" in notice.text
    unanswered = post_form(client, f"{link}/consent", {})
    assert unanswered.status_code == 400 and "Please answer each question" in unanswered.text
    assert post_form(client, f"{link}/consent", {"recording": "yes"}).status_code == 303
    assert "This interview is recorded" in client.get(link).text
    assert client.get(f"{link}/join").json()["state"] == "ready"
    stored = Consent.get(Consent.kind == "recording")
    assert stored.granted and "nothing is sent to an outside service" in stored.text_shown
    entry = AuditEntry.get(AuditEntry.action == "consent.record")
    assert entry.actor.startswith("candidate:")


def test_declining_recording_follows_the_policy(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link = _booked_soon(runtime, client)
    post_form(client, f"{link}/consent", {"recording": "no"})
    interview = Interview.get()
    live_room.admit(
        runtime.audit, User.get(User.email == "ivy@example.com"), interview, runtime.config
    )
    joined = client.get(f"{link}/join").json()
    claims = verify_token(runtime.keys.signing_key.public_key(), joined["token"])
    assert claims.record is False and joined["recorded"] is False
    assert "This interview is not recorded" in client.get(link).text

    runtime.config.interviews.decline_recording = "reschedule"
    post_form(client, f"{link}/consent", {"recording": "no"})
    refused = client.get(f"{link}/join")
    assert refused.status_code == 403 and "recruiter will contact you" in refused.json()["message"]
    told = OutboxMessage.get(OutboxMessage.subject.startswith("Recording declined"))
    assert told.recipient == "recruiter@example.com"


def test_a_link_whose_interview_is_over_says_so_and_opens_nothing(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link = _booked_soon(runtime, client)
    post_form(client, f"{link}/consent", {"recording": "yes"})
    interview = Interview.get()
    live_room.end(runtime.audit, User.get(User.email == "ivy@example.com"), interview)
    ended = client.get(link)
    assert ended.status_code == 410 and "This interview is over" in ended.text
    assert "Join the interview" not in ended.text

    over = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    Interview.update(
        status="scheduled", ended_at=None, starts_at=over - dt.timedelta(minutes=30), ends_at=over
    ).where(Interview.id == interview.id).execute()
    expired = client.get(link)
    assert expired.status_code == 410 and "no longer opens it" in expired.text
    refused = client.get(f"{link}/join")
    assert refused.status_code == 409 and refused.json()["state"] == "closed"


def test_recruiters_move_and_cancel_and_interviewers_see_only_their_own(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link = _booked_soon(runtime, client)
    interview = Interview.get()
    make_user(runtime, "interviewer", "otto@example.com")
    sign_in(client, "otto@example.com")
    assert "Cara" not in client.get("/interviews").text
    assert client.get(f"/interviews/{interview.id}").status_code == 403
    _sign_out(client)
    sign_in(client, "ivy@example.com")
    listed = client.get("/interviews").text
    assert "Cara" in listed and "<td>ivy@example.com</td>" in listed  # the panel, by name
    assert "not yet asked" in client.get(f"/interviews/{interview.id}").text
    assert post_form(client, f"/interviews/{interview.id}/cancel", {}).status_code == 403
    _sign_out(client)

    sign_in(client, "recruiter@example.com")
    page = client.get(f"/interviews/{interview.id}")
    assert "Move and tell everyone" in page.text
    taken = post_form(client, f"/interviews/{interview.id}/reschedule", {"starts_at": "not a time"})
    assert taken.status_code == 400
    kind = scheduling.page_of_interview_types().rows[0]
    target = scheduling.free_slots(kind, runtime.config.scheduling)[3]
    local = target.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")  # the recruiter's zone is UTC
    moved = post_form(client, f"/interviews/{interview.id}/reschedule", {"starts_at": local})
    assert moved.status_code == 303
    interview = Interview.get_by_id(interview.id)
    assert (interview.starts_at, interview.sequence) == (target.replace(tzinfo=None), 1)
    assert (
        post_form(client, f"/interviews/{interview.id}/cancel", {"reason": "filled"}).status_code
        == 303
    )
    assert Interview.get_by_id(interview.id).status == "cancelled"
    subjects = [m.subject.split(":")[0] for m in OutboxMessage.select().order_by(OutboxMessage.id)]
    assert subjects.count("Interview moved") == 2 and subjects.count("Interview cancelled") == 2
    _sign_out(client)
    assert "Cancelled" in client.get(link).text


def test_the_interview_types_page_reads_panels_and_kits_in_a_fixed_number_of_queries(
    runtime: Runtime, client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    from appliance.db.models import InterviewType, Kit, PanelMember

    make_user(runtime, "recruiter")
    staff = [make_user(runtime, "interviewer", f"i{n}@example.com") for n in range(3)]

    def add_types(count: int) -> None:
        start = InterviewType.select().count()
        for n in range(start, start + count):
            kind = InterviewType.create(
                name=f"Round {n:03d}", duration_minutes=45, kit=Kit.create(name=f"Kit {n}")
            )
            for user in staff[: 1 + n % 3]:
                PanelMember.create(interview_type=kind, user=user)

    def statements_for_page() -> tuple[int, str]:
        executed: list[str] = []
        execute = runtime.db.execute_sql

        def counting(sql: str, *args: object, **kwargs: object) -> object:
            executed.append(sql)
            return execute(sql, *args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(runtime.db, "execute_sql", counting)
            text = client.get("/interview-types").text
        return len(executed), text

    sign_in(client, "recruiter@example.com")
    add_types(5)
    few, _ = statements_for_page()
    add_types(40)
    many, text = statements_for_page()
    assert many == few  # the page's queries do not grow with the rows
    assert "Round 044" in text and "Kit 44" in text
    assert "i0@example.com, i1@example.com, i2@example.com" in text
    add_types(10)
    first = client.get("/interview-types").text
    assert "55 interview types, page 1 of 2" in first and "Round 050" not in first
    assert "Round 054" in client.get("/interview-types?page=2").text
    found = client.get("/interview-types?q=round 05").text
    assert "5 interview types." in found and "Round 049" not in found


def _booked_ahead(runtime: Runtime) -> tuple[str, Interview]:
    """Cara's interview, booked through her link at the first time offered (12 hours or more
    ahead); returns her link's path and the interview."""
    recruiter = make_user(runtime, "recruiter")
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    every_day = [scheduling.WeeklyWindow(d, "00:00", "00:00") for d in range(7)]
    scheduling.set_availability(runtime.audit, "t", ivy, "UTC", every_day)
    kind = scheduling.create_interview_type(runtime.audit, "t", "Technical", 30, [ivy.id])
    cara = create_candidate(runtime.audit, "t", CandidateFields("Cara", "cara@example.com"))
    _, token = scheduling.invite(
        runtime.audit, "t", cara.id, kind.id, runtime.config.scheduling,
        scheduling.link_key(runtime.keys), recruiter,
    )  # fmt: skip
    slot = scheduling.free_slots(kind, runtime.config.scheduling)[0]
    interview = scheduling.book(runtime.audit, token, slot, "UTC", runtime.config.scheduling)
    return f"/i/{token}", interview


def _calendar_of(message: OutboxMessage) -> tuple[str, int]:
    calendar = Calendar.from_ical(message.ics)
    return str(calendar["METHOD"]), int(calendar.walk("VEVENT")[0]["SEQUENCE"])


def test_the_candidate_moves_then_cancels_from_their_link(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link, interview = _booked_ahead(runtime)
    booked = client.get(link).text
    assert "Need another time?" in booked and f'href="{link}?change=1' in booked

    choose = client.get(f"{link}?change=1").text
    assert "choose a new time" in choose and f'action="{link}/move"' in choose
    slots = re.findall(r'name="slot" value="([^"]+)"', choose)
    target = dt.datetime.fromisoformat(slots[5])
    confirm = post_form(client, f"{link}/move", {"slot": slots[5], "tz": "UTC"})
    assert confirm.status_code == 200 and "Move your interview to this time?" in confirm.text
    assert Interview.get_by_id(interview.id).sequence == 0
    moved = post_form(client, f"{link}/move", {"slot": slots[5], "tz": "UTC", "confirm": "yes"})
    assert moved.status_code == 303
    interview = Interview.get_by_id(interview.id)
    assert (interview.starts_at, interview.sequence) == (target.replace(tzinfo=None), 1)
    entry = AuditEntry.get(AuditEntry.action == "interview.reschedule")
    assert entry.actor == f"candidate:{interview.candidate_id}"
    assert json.loads(entry.details)["by"] == "candidate"
    updates = OutboxMessage.select().where(OutboxMessage.subject.startswith("Interview moved"))
    assert {m.recipient: _calendar_of(m) for m in updates} == {
        "cara@example.com": ("REQUEST", 1),
        "ivy@example.com": ("REQUEST", 1),
    }
    told = OutboxMessage.get(OutboxMessage.subject == "Cara moved their interview")
    assert told.recipient == "recruiter@example.com"

    cancelled = post_form(client, f"{link}/cancel", {"reason": "took another offer"})
    assert cancelled.status_code == 303
    assert Interview.get_by_id(interview.id).status == "cancelled"
    gone = OutboxMessage.select().where(OutboxMessage.subject.startswith("Interview cancelled"))
    assert {m.recipient: _calendar_of(m) for m in gone} == {
        "cara@example.com": ("CANCEL", 2),
        "ivy@example.com": ("CANCEL", 2),
    }
    assert OutboxMessage.get(OutboxMessage.subject == "Cara cancelled their interview")
    room = live_room_name(interview)
    assert ended(ended_rooms_dir(runtime.config.data_dir), runtime.keys.public_key, room)
    page = client.get(link).text
    assert "Your interview is cancelled" in page and "Need another time?" not in page
    again = post_form(client, f"{link}/move", {"slot": slots[6], "tz": "UTC", "confirm": "yes"})
    assert again.status_code == 409


def test_past_the_cut_off_the_candidate_is_sent_to_the_recruiter(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link, interview = _booked_ahead(runtime)
    soon = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=3)
    Interview.update(starts_at=soon, ends_at=soon + dt.timedelta(minutes=30)).where(
        Interview.id == interview.id
    ).execute()
    page = client.get(link).text
    assert "contact the recruiter" in page and "Need another time?" not in page
    assert 'name="slot"' not in client.get(f"{link}?change=1").text
    slot = (soon + dt.timedelta(days=2)).replace(minute=0).isoformat() + "+00:00"
    late = post_form(client, f"{link}/move", {"slot": slot, "tz": "UTC", "confirm": "yes"})
    assert late.status_code == 409 and "too late" in late.text
    refused = post_form(client, f"{link}/cancel", {})
    assert refused.status_code == 409 and "Too late to cancel" in refused.text
    assert Interview.get_by_id(interview.id).status == "scheduled"
    assert Interview.get_by_id(interview.id).starts_at == soon
