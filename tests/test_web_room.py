"""The live room over HTTP: the panel's page and calls, the candidate's lobby and join calls,
and that nothing of the kit, the scores or the notes reaches the candidate's side."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiortc.contrib.media import MediaPlayer
from litestar import Litestar
from litestar.testing import TestClient

from appliance.contracts.ended_rooms import ended, ended_rooms_dir
from appliance.contracts.join_token import verify
from appliance.contracts.recording_events import pending, spool_dir
from appliance.db.models import AuditEntry, Competency, Interview, Kit, Question, Recording
from appliance.interview import join as joining
from appliance.recordings.filing import ingest
from appliance.runtime import Runtime
from appliance.sfu.sealed_sinks import SealedRecordings
from tests.conftest import csrf_headers, post_form, sign_in
from tests.support.sfu_harness import Client, Sfu, make_clip, running_sfu
from tests.test_web_scheduling import _booked_soon

SECRET_NOTE = "hesitant on indexes"


def _kit(interview: Interview) -> tuple[Competency, Question]:
    kit = Kit.create(name="Backend")
    competency = Competency.create(kit=kit, name="Database design", guide_5="masterful")
    question = Question.create(kit=kit, competency=competency, text="Design a schema for invoices")
    Interview.update(kit=kit).where(Interview.id == interview.id).execute()
    return competency, question


async def join(sfu: Sfu, token: str) -> Client:
    """A participant who sends `join` with a token the web app issued."""
    ws = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
    person = Client(ws)
    person.task = asyncio.ensure_future(person.pump())
    await person.send({"type": "join", "token": token})
    return person


def test_candidate_and_panel_meet_through_the_lobby_and_the_candidate_sees_no_kit(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link = _booked_soon(runtime, client)
    interview = Interview.get()
    competency, question = _kit(interview)
    candidate = TestClient(app=client.app, base_url="http://127.0.0.1")
    with candidate:
        post_form(candidate, f"{link}/consent", {"recording": "yes"})
        room_page = candidate.get(link)
        assert 'id="check"' in room_page.text and "Join the interview" in room_page.text
        assert (
            candidate.post(f"{link}/lobby", headers=csrf_headers(candidate)).json()["state"]
            == "waiting"
        )
        waiting = candidate.get(f"{link}/join")
        assert waiting.status_code == 409 and waiting.json()["state"] == "waiting"

        sign_in(client, "ivy@example.com")
        home = client.get("/").text
        assert "waiting to be let in" in home and "Cara" in home
        assert f"/interviews/{interview.id}/room" in home
        assert f"/interviews/{interview.id}/room" in client.get(f"/interviews/{interview.id}").text
        page = client.get(f"/interviews/{interview.id}/room")
        assert page.status_code == 200
        assert question.text in page.text and "masterful" in page.text
        assert client.get(f"/api/interviews/{interview.id}/lobby").json()["state"] == "waiting"
        saved = client.put(
            f"/api/interviews/{interview.id}/scorecard",
            json={"notes": SECRET_NOTE, "scores": {str(competency.id): 4}, "asked": [question.id]},
            headers=csrf_headers(client),
        )
        assert saved.status_code == 200 and saved.json()["scores"] == {str(competency.id): 4}
        panel_token = client.get(f"/api/interviews/{interview.id}/room/token").json()
        claims = verify(runtime.keys.public_key, panel_token["token"])
        assert not claims.record and claims.permissions.end_room and claims.role == "interviewer"
        admitted = client.post(
            f"/api/interviews/{interview.id}/lobby/admit", headers=csrf_headers(client)
        )
        assert admitted.json()["state"] == "admitted"

        joined = candidate.get(f"{link}/join")
        assert joined.status_code == 200
        assert set(joined.json()) == {"state", "token", "recorded", "room"}
        assert verify(runtime.keys.public_key, joined.json()["token"]).room == panel_token["room"]
        # Everything the candidate's browser was given, searched for the kit, score and notes.
        seen = " ".join(
            r.text
            for r in (
                candidate.get(link),
                joined,
                candidate.get(f"{link}/lobby"),
                candidate.get("/static/js/candidate-room.js"),
                candidate.get("/static/js/room-view.js"),
            )
        )
        for secret in (question.text, competency.name, "masterful", SECRET_NOTE, "scorecard"):
            assert secret not in seen
        for path in (
            f"/interviews/{interview.id}/room",
            f"/api/interviews/{interview.id}/scorecard",
            f"/api/interviews/{interview.id}/room/token",
        ):
            assert candidate.get(path).status_code in (401, 303)

        ended = client.post(f"/api/interviews/{interview.id}/end", headers=csrf_headers(client))
        assert ended.json()["state"] == "ended"
        after = candidate.get(f"{link}/join")
        assert after.status_code == 409 and after.json()["state"] == "ended"
        assert client.get(f"/api/interviews/{interview.id}/room/token").status_code == 422
    reloaded = client.get(f"/api/interviews/{interview.id}/scorecard").json()
    assert reloaded["notes"] == SECRET_NOTE and reloaded["asked"] == [question.id]


def test_only_the_panel_enters_the_room_or_sees_its_scorecard(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    _booked_soon(runtime, client)
    interview = Interview.get()
    sign_in(client, "recruiter@example.com")
    assert client.get(f"/interviews/{interview.id}/room").status_code == 403
    assert client.get(f"/api/interviews/{interview.id}/room/token").status_code == 403
    assert (
        client.put(
            f"/api/interviews/{interview.id}/scorecard",
            json={"notes": "x"},
            headers=csrf_headers(client),
        ).status_code
        == 403
    )


def test_a_bad_scorecard_is_refused_and_the_saved_one_kept(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    _booked_soon(runtime, client)
    interview = Interview.get()
    competency, _ = _kit(interview)
    sign_in(client, "ivy@example.com")
    url = f"/api/interviews/{interview.id}/scorecard"
    good = {"notes": "kept", "scores": {str(competency.id): 3}, "asked": []}
    assert client.put(url, json=good, headers=csrf_headers(client)).status_code == 200
    for bad, status in (
        ({"notes": "x", "scores": {str(competency.id): 7}}, 400),
        ({"notes": "x", "scores": {"design": 2}}, 422),
        ({"notes": "x", "asked": [12345]}, 422),
        ({"notes": "x" * 20001}, 400),
        ({"notes": ["not", "text"]}, 400),
        ({"notes": "x", "mood": "tense"}, 400),
    ):
        response = client.put(url, json=bad, headers=csrf_headers(client))
        assert response.status_code == status, bad
    assert client.put(url, json=good).status_code == 403  # no CSRF token
    assert client.get(url).json()["notes"] == "kept"


def test_ending_the_interview_keeps_earlier_tokens_out_of_the_room_after_an_sfu_restart(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link = _booked_soon(runtime, client)
    interview = Interview.get()
    candidate = TestClient(app=client.app, base_url="http://127.0.0.1")
    with candidate:
        post_form(candidate, f"{link}/consent", {"recording": "yes"})
        candidate.post(f"{link}/lobby", headers=csrf_headers(candidate))
        sign_in(client, "ivy@example.com")
        client.post(f"/api/interviews/{interview.id}/lobby/admit", headers=csrf_headers(client))
        candidate_token = candidate.get(f"{link}/join").json()["token"]
    panel_token = client.get(f"/api/interviews/{interview.id}/room/token").json()["token"]

    def end() -> int:
        return client.post(
            f"/api/interviews/{interview.id}/end", headers=csrf_headers(client)
        ).status_code

    async def main() -> None:
        data_dir = runtime.config.data_dir
        async with running_sfu(data_dir, key=runtime.keys.signing_key) as sfu:
            cara = await join(sfu, candidate_token)
            assert (await cara.expect("joined"))["name"] == "Cara"
            # The panel ends the interview in the web app alone (no 'end' on the socket).
            assert await asyncio.to_thread(end) == 201
            assert (await cara.expect("room-ended"))["by"] == "ivy@example.com"
            again = await join(sfu, panel_token)
            assert (await again.expect("joined", "error"))["code"] == "room-ended"
            for person in (cara, again):
                await person.close()
        async with running_sfu(data_dir, key=runtime.keys.signing_key) as restarted:
            for token in (candidate_token, panel_token):
                late = await join(restarted, token)
                assert (await late.expect("joined", "error"))["code"] == "room-ended"
                await late.close()

    asyncio.run(main())


def test_the_recording_starts_when_the_admitted_candidate_comes_in_not_before(
    runtime: Runtime, client: TestClient[Litestar], tmp_path: Path
) -> None:
    """The panel waits in the room, talking and publishing, while the candidate who consented
    waits in the lobby: nothing is recorded until the admitted candidate joins."""
    link = _booked_soon(runtime, client)
    interview = Interview.get()
    clip = tmp_path / "clip.webm"
    make_clip(clip, 3.0)
    candidate = TestClient(app=client.app, base_url="http://127.0.0.1")

    def admit_and_join() -> str:
        client.post(f"/api/interviews/{interview.id}/lobby/admit", headers=csrf_headers(client))
        return str(candidate.get(f"{link}/join").json()["token"])

    async def main() -> None:
        sinks = SealedRecordings(runtime.config)
        async with running_sfu(runtime.config.data_dir, sinks, key=runtime.keys.signing_key) as sfu:
            ivy = await join(sfu, panel_token)
            assert (await ivy.expect("joined"))["recording"] is False
            await ivy.publish(MediaPlayer(str(clip), decode=False))
            await asyncio.sleep(1.0)
            assert pending(spool_dir(runtime.config.data_dir)) == []
            cara = await join(sfu, await asyncio.to_thread(admit_and_join))
            assert (await cara.expect("joined"))["recording"] is True
            assert (await ivy.expect("recording"))["recording"] is True
            await asyncio.sleep(1.0)
            for person in (cara, ivy):
                await person.close()
            await asyncio.sleep(1.5)  # the room's grace period: its recording is finished

    with candidate:
        post_form(candidate, f"{link}/consent", {"recording": "yes"})
        candidate.post(f"{link}/lobby", headers=csrf_headers(candidate))
        sign_in(client, "ivy@example.com")
        panel_token = client.get(f"/api/interviews/{interview.id}/room/token").json()["token"]
        asyncio.run(main())
    ingest(runtime)
    recording = Recording.get(Recording.interview == interview)
    order = [
        e.action
        for e in AuditEntry.select().order_by(AuditEntry.seq)
        if e.action in ("lobby.admit", "recording.start")
    ]
    assert order == ["lobby.admit", "recording.start"]
    assert recording.started_at >= Interview.get_by_id(interview.id).admitted_at


def test_cancelling_an_interview_closes_its_room_on_the_sfu(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    _booked_soon(runtime, client)
    interview = Interview.get()
    room = joining.room_name(interview)
    records = ended_rooms_dir(runtime.config.data_dir)
    assert ended(records, runtime.keys.public_key, room) is None
    sign_in(client, "recruiter@example.com")
    cancelled = post_form(client, f"/interviews/{interview.id}/cancel", {"reason": "filled"})
    assert cancelled.status_code == 303
    record = ended(records, runtime.keys.public_key, room)
    assert record is not None and record.room == room
