"""The versioned API beyond interviews and candidates, as an applicant tracking system uses it
with a token: positions and interview types to choose from, invitations (a self-scheduling link,
or an interview scheduled at a time), submitted scorecards, decisions, recordings' metadata and
transcripts (only with the candidate's consent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from appliance.asr_onnx.transcript import Segment, Transcript
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Consent,
    Interview,
    Invitation,
    OutboxMessage,
    User,
    WebhookEvent,
)
from appliance.hiring import scheduling
from appliance.hiring.scheduling import WeeklyWindow
from appliance.integrations import webhook_delivery, webhook_endpoints
from appliance.interview.consent import RECORDING
from appliance.recordings import transcription
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.store import start_recording
from appliance.runtime import Runtime
from appliance.staff import api_tokens
from tests.conftest import make_user
from tests.support.scoring import Panel, signed_in_as, submit
from tests.support.webhooks import Receiver


def _token(runtime: Runtime, *scopes: str) -> dict[str, str]:
    admin = User.get_or_none(User.email == "admin@example.com") or make_user(runtime, "admin")
    secret = api_tokens.create(runtime.audit, admin, "ATS", list(scopes), 30)[1]
    return {"authorization": f"Bearer {secret}", "accept": "application/json"}


def _interview_type(runtime: Runtime, panel: Panel) -> int:
    """Ana and Ben interview together, on weekdays from 09:00 to 17:00 Paris time."""
    for user in (panel.ana, panel.ben):
        windows = [WeeklyWindow(day, "09:00", "17:00") for day in range(5)]
        scheduling.set_availability(runtime.audit, "t", user, "Europe/Paris", windows)
    return scheduling.create_interview_type(
        runtime.audit, "t", "Technical", 60, [panel.ana.id, panel.ben.id]
    ).id


def _next_monday(hour: int) -> str:
    """Next week's Monday at `hour`:00 Paris time (UTC+1 in winter, +2 in summer), as sent."""
    today = utcnow().date()
    monday = today + dt.timedelta(days=7 - today.weekday())
    moment = dt.datetime(monday.year, monday.month, monday.day, hour, tzinfo=dt.UTC)
    offset = scheduling.zone("Europe/Paris").utcoffset(moment)
    assert offset is not None
    return (moment - offset).astimezone(dt.timezone(offset)).isoformat()


def test_an_ats_picks_a_position_and_type_then_invites_by_link_or_at_a_time(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    panel = Panel(runtime)
    type_id = _interview_type(runtime, panel)
    reader = _token(runtime, "interviews:read", "interviews:write")
    positions = client.get("/api/v1/positions", headers=reader).json()
    assert positions["items"][0] == {
        "id": panel.position.id, "title": "Backend engineer", "department": "", "location": "",
        "status": "open",
    }  # fmt: skip
    kinds = client.get("/api/v1/interview-types", headers=reader).json()
    assert kinds["items"][0]["panel"] == [panel.ana.id, panel.ben.id]
    assert kinds["next_cursor"] is None

    link = client.post(
        "/api/v1/invitations",
        json={"candidate_id": panel.candidate.id, "interview_type_id": type_id},
        headers=reader,
    )
    assert link.status_code == 201, link.text
    body = link.json()
    assert body["status"] == "open" and body["interview_id"] is None
    assert body["link"].startswith(f"{runtime.config.public_url}/i/")
    (mail,) = OutboxMessage.select().where(OutboxMessage.recipient == "sam@example.com")
    assert body["link"] in mail.body

    start = _next_monday(10)
    booked = client.post(
        "/api/v1/invitations",
        json={"candidate_id": panel.candidate.id, "interview_type_id": type_id,
              "starts_at": start, "timezone": "Europe/Paris"},
        headers={**reader, "Idempotency-Key": "booking-1"},
    )  # fmt: skip
    assert booked.status_code == 201, booked.text
    interview = Interview.get_by_id(booked.json()["interview_id"])
    assert interview.status == "scheduled" and interview.timezone == "Europe/Paris"
    assert scheduling.as_utc(interview.starts_at) == dt.datetime.fromisoformat(start)
    assert {p.id for p in scheduling.interviewers(interview)} == {panel.ana.id, panel.ben.id}
    assert Invitation.get_by_id(booked.json()["id"]).status == "booked"
    # The candidate and the panel are sent the interview.
    sent = {m.recipient for m in OutboxMessage.select().where(OutboxMessage.interview == interview)}
    assert sent == {"sam@example.com", "ana@example.com", "ben@example.com"}
    # A retry with the same key books nothing more.
    again = client.post(
        "/api/v1/invitations",
        json={"candidate_id": panel.candidate.id, "interview_type_id": type_id,
              "starts_at": start, "timezone": "Europe/Paris"},
        headers={**reader, "Idempotency-Key": "booking-1"},
    )  # fmt: skip
    assert again.json() == booked.json() and Interview.select().count() == 2

    # The panel is now busy then; and nobody works at 03:00.
    for when, why in ((start, "another interview"), (_next_monday(3), "not available")):
        busy = client.post(
            "/api/v1/invitations",
            json={"candidate_id": panel.candidate.id, "interview_type_id": type_id,
                  "starts_at": when, "timezone": "Europe/Paris"},
            headers=reader,
        )  # fmt: skip
        assert busy.status_code == 409 and why in busy.json()["detail"], busy.text
    assert Interview.select().count() == 2 and Invitation.select().count() == 2
    refused: list[tuple[dict[str, Any], int, str]] = [
        ({"starts_at": start.replace("+01:00", "").replace("+02:00", "")}, 400, "offset"),
        ({"starts_at": "2020-01-06T10:00:00+01:00"}, 409, "passed"),
        ({"timezone": "Mars/Olympus", "starts_at": _next_monday(11)}, 422, "time zone"),
        ({"interview_type_id": 999999}, 404, "999999"),
        ({"candidate_id": 999999}, 404, "999999"),
    ]
    for change, status, words in refused:
        bad = client.post(
            "/api/v1/invitations",
            json={"candidate_id": panel.candidate.id, "interview_type_id": type_id, **change},
            headers=reader,
        )
        assert bad.status_code == status and words in bad.json()["detail"], bad.text
    assert Interview.select().count() == 2 and Invitation.select().count() == 2
    # Writing needs its scope; a browser session cannot write through the token route.
    only_read = _token_named(runtime, "Reader", "interviews:read")
    assert client.post("/api/v1/invitations", json={}, headers=only_read).status_code == 403


def _token_named(runtime: Runtime, name: str, *scopes: str) -> dict[str, str]:
    admin = User.get(User.email == "admin@example.com")
    secret = api_tokens.create(runtime.audit, admin, name, list(scopes), 30)[1]
    return {"authorization": f"Bearer {secret}"}


def test_submitted_scorecards_and_decisions_are_read_with_their_scopes(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    panel = Panel(runtime)
    ana = signed_in_as(client, "ana@example.com")
    assert submit(client, panel, ana, panel.card(4, 3, summary="Clear")).status_code == 201
    ben = signed_in_as(client, "ben@example.com")
    draft = {"scores": {str(panel.design.id): 2}}
    saved = client.put(f"/api/interviews/{panel.interview.id}/scorecard", json=draft, headers=ben)
    assert saved.status_code == 200, saved.text
    client.cookies.clear()
    cards = _token(runtime, "scorecards:read")
    listed = client.get(f"/api/v1/interviews/{panel.interview.id}/scorecards", headers=cards)
    assert listed.status_code == 200, listed.text
    (card,) = listed.json()  # Ben's draft is not given
    assert card["author_id"] == panel.ana.id and card["version"] == 1
    assert [s["score"] for s in card["scores"]] == [4, 3] and card["summary"] == "Clear"
    missing = client.get("/api/v1/interviews/999999/scorecards", headers=cards)
    assert missing.status_code == 404
    assert client.get("/api/v1/decisions", headers=cards).status_code == 403

    admin = signed_in_as(client, "admin@example.com")
    for outcome in ("hold", "advance"):
        decided = client.post(
            f"/api/candidates/{panel.candidate.id}/decisions",
            json={"outcome": outcome, "reason": "Because", "position_id": panel.position.id,
                  "without_all_scorecards": True},
            headers=admin,
        )  # fmt: skip
        assert decided.status_code in (200, 201), decided.text
    client.cookies.clear()
    reader = _token_named(runtime, "Decisions", "decisions:read")
    first = client.get("/api/v1/decisions?limit=1", headers=reader).json()
    (hold,) = first["items"]
    assert hold["outcome"] == "hold" and hold["in_force"] is False
    assert hold["candidate_id"] == panel.candidate.id and hold["position_id"] == panel.position.id
    rest = client.get(f"/api/v1/decisions?after={first['next_cursor']}", headers=reader).json()
    (advance,) = rest["items"]
    assert advance["outcome"] == "advance" and advance["in_force"] is True
    assert rest["next_cursor"] is None
    one = client.get(f"/api/v1/decisions/{advance['id']}", headers=reader).json()
    assert one == advance
    other = client.get("/api/v1/decisions?candidate_id=999999", headers=reader).json()
    assert other == {"items": [], "next_cursor": None}
    assert client.get("/api/v1/decisions/999999", headers=reader).status_code == 404


def test_recordings_give_metadata_and_transcripts_need_consent_and_the_scope(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    panel = Panel(runtime)
    interview_id = panel.interview.id
    recording = start_recording(runtime, panel.interview)
    recording.status = "complete"
    recording.save()
    said = [
        Segment(0.0, 2.5, " Tell me about a system you designed.", speaker=f"staff-{panel.ana.id}"),
        Segment(3.0, 7.0, " A queue for payments.", speaker="candidate"),
    ]
    transcription.store_transcript(runtime, recording, Transcript("en", 600.0, said, "test"))
    reader = _token(runtime, "interviews:read", "transcripts:read")
    (listed,) = client.get(f"/api/v1/interviews/{interview_id}/recordings", headers=reader).json()
    assert listed["id"] == recording.id and listed["status"] == "complete"
    assert listed["tracks"] == []  # no media in this one, only its transcript
    assert "key" not in str(listed)

    refused = client.get(f"/api/v1/interviews/{interview_id}/transcript", headers=reader)
    assert refused.status_code == 403 and "did not consent" in refused.json()["detail"]
    Consent.create(interview=panel.interview, kind=RECORDING, granted=True, text_shown="t")
    given = client.get(f"/api/v1/interviews/{interview_id}/transcript", headers=reader)
    assert given.status_code == 200, given.text
    body = given.json()
    assert body["recording_id"] == recording.id and body["language"] == "en"
    assert [(s["speaker"], s["text"]) for s in body["segments"]] == [
        (f"staff-{panel.ana.id}", "Tell me about a system you designed."),
        ("candidate", "A queue for payments."),
    ]
    opened = AuditEntry.select().where(
        (AuditEntry.action == "recording.open") & (AuditEntry.actor == "token:ATS")
    )
    assert opened.count() == 1
    no_scope = _token_named(runtime, "No transcripts", "interviews:read")
    assert client.get(f"/api/v1/interviews/{interview_id}/transcript",
                      headers=no_scope).status_code == 403  # fmt: skip

    erase_candidate(runtime, "admin@example.com", panel.candidate.id, "asked to")
    for path in ("transcript", "recordings"):
        gone = client.get(f"/api/v1/interviews/{interview_id}/{path}", headers=reader)
        assert gone.status_code == 410, gone.text


def test_a_webhook_tells_the_ats_of_the_interview_it_scheduled(
    runtime: Runtime, client: TestClient[Litestar], receiver: Receiver
) -> None:
    panel = Panel(runtime)
    type_id = _interview_type(runtime, panel)
    headers = _token(runtime, "interviews:write")
    webhook_endpoints.create(
        runtime.audit, "admin@example.com", receiver.url,
        ["interview.scheduled"], True,
    )  # fmt: skip
    booked = client.post(
        "/api/v1/invitations",
        json={"candidate_id": panel.candidate.id, "interview_type_id": type_id,
              "starts_at": _next_monday(14), "timezone": "Europe/Paris"},
        headers=headers,
    )  # fmt: skip
    assert booked.status_code == 201, booked.text
    (event,) = WebhookEvent.select()
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 1
    (_, body), = receiver.received  # fmt: skip
    assert event.kind == "interview.scheduled"
    assert f'"interview_id":{booked.json()["interview_id"]}'.encode() in body
