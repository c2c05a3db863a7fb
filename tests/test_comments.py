"""Comments on a recording: on a moment or a transcript span, one level of replies, visible to
everyone who may review; the author alone edits or deletes, every earlier text kept; @mentions
e-mail a link; the text is sealed, so it is never in the database file in the clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import (
    AuditEntry,
    Comment,
    CommentVersion,
    InterviewParticipant,
    OutboxMessage,
    Recording,
    TranscriptSegment,
    User,
)
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from tests.conftest import csrf_headers, make_user, sign_in
from tests.support.recordings import two_person_recording

SECRET = "zanzibarish"  # a word to look for in the database file's bytes


@pytest.fixture
def recording(runtime: Runtime, tmp_path: Path) -> Recording:
    """A 12 s two-person recording with a transcript span from 1 s to 9 s, Una on its panel."""
    recorded, _ = two_person_recording(runtime, tmp_path, seconds=12.0)
    recorded.started_at = recorded.ended_at = recorded.interview.starts_at
    recorded.save()
    TranscriptSegment.create(
        recording=recorded, speaker="Alex", start_ms=1000, end_ms=9000, sealed_text=b""
    )
    una = User.get(User.email == "una@example.com")
    InterviewParticipant.create(interview=recorded.interview, user=una)
    make_user(runtime, "recruiter")
    return recorded


def _as(client: TestClient[Litestar], email: str) -> TestClient[Litestar]:
    client.cookies.clear()
    assert sign_in(client, email) == 303
    return client


def _post(client: TestClient[Litestar], recording: Recording, **body: Any) -> httpx.Response:
    return client.post(
        f"/api/recordings/{recording.id}/comments", json=body, headers=csrf_headers(client)
    )


def test_reviewers_comment_reply_and_see_each_other(
    client: TestClient[Litestar], recording: Recording
) -> None:
    _as(client, "recruiter@example.com")
    first = _post(client, recording, body="Strong answer on budgets", at_ms=4500)
    assert first.status_code == 201, first.text
    span = _post(client, recording, body="this part", at_ms=2000, end_ms=3000)
    assert span.status_code == 201 and span.json()["end_ms"] == 3000
    _as(client, "una@example.com")
    reply = _post(
        client, recording, body="Agreed <script>alert(1)</script>", parent_id=first.json()["id"]
    )
    assert reply.status_code == 201 and reply.json()["at_ms"] == 4500  # a reply sits at its parent
    thread = client.get(f"/api/recordings/{recording.id}/comments").json()
    assert [(c["author"], c["parent_id"]) for c in thread] == [
        ("recruiter@example.com", None),
        ("recruiter@example.com", None),
        ("Una Park", first.json()["id"]),
    ]
    assert [c["at_ms"] for c in thread] == [2000, 4500, 4500]
    page = client.get(f"/interviews/{recording.interview_id}/review").text
    assert "Strong answer on budgets" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    actions = [
        e.action for e in AuditEntry.select().where(AuditEntry.action.startswith("comment."))
    ]
    assert actions == ["comment.add"] * 3


def test_only_the_author_edits_or_deletes_and_every_text_is_kept(
    runtime: Runtime, client: TestClient[Litestar], recording: Recording
) -> None:
    _as(client, "una@example.com")
    made = _post(client, recording, body="first thought", at_ms=1000).json()
    url = f"/api/comments/{made['id']}"
    edited = client.put(url, json={"body": "second thought"}, headers=csrf_headers(client))
    assert edited.status_code == 200 and edited.json()["body"] == "second thought"
    assert edited.json()["edited"]
    _as(client, "recruiter@example.com")
    assert (
        client.put(url, json={"body": "mine now"}, headers=csrf_headers(client)).status_code == 403
    )
    assert client.delete(url, headers=csrf_headers(client)).status_code == 403
    _as(client, "una@example.com")
    assert client.delete(url, headers=csrf_headers(client)).status_code == 204
    [shown] = client.get(f"/api/recordings/{recording.id}/comments").json()
    assert shown["deleted"] and shown["body"] == ""
    assert (
        "Deleted by its author." in client.get(f"/interviews/{recording.interview_id}/review").text
    )
    assert CommentVersion.select().count() == 2  # "first thought", then "second thought"
    actions = [
        e.action for e in AuditEntry.select().where(AuditEntry.action.startswith("comment."))
    ]
    assert actions == ["comment.add", "comment.edit", "comment.delete"]
    refused = client.put(url, json={"body": "again"}, headers=csrf_headers(client))
    assert refused.status_code == 422 and "deleted" in refused.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"body": "   ", "at_ms": 1000}, "Comment is required"),
        ({"body": "x" * 5001, "at_ms": 1000}, "at most 5000"),
        ({"body": "early", "at_ms": -1}, "outside the recording"),
        ({"body": "late", "at_ms": 600_000}, "outside the recording"),
        ({"body": "span", "at_ms": 2000, "end_ms": 9500}, "within the transcript"),
        ({"body": "span", "at_ms": 3000, "end_ms": 3000}, "starts before it ends"),
        ({"body": "reply", "parent_id": 999}, "no comment 999"),
        ({"at_ms": 1000}, ""),  # no body at all
        ({"body": "wrong type", "at_ms": "soon"}, ""),
    ],
)
def test_bad_comments_are_refused_and_nothing_is_stored(
    client: TestClient[Litestar], recording: Recording, body: dict[str, Any], reason: str
) -> None:
    _as(client, "recruiter@example.com")
    refused = _post(client, recording, **body)
    assert refused.status_code in (400, 404, 422), refused.text
    assert reason in refused.text
    assert Comment.select().count() == 0


def test_a_reply_to_a_reply_is_refused(client: TestClient[Litestar], recording: Recording) -> None:
    _as(client, "recruiter@example.com")
    first = _post(client, recording, body="one", at_ms=1000).json()
    reply = _post(client, recording, body="two", parent_id=first["id"]).json()
    assert _post(client, recording, body="three", parent_id=reply["id"]).status_code == 404


def test_a_mention_emails_a_link_to_those_who_may_review(
    runtime: Runtime, client: TestClient[Litestar], recording: Recording
) -> None:
    make_user(runtime, "interviewer", "otto@example.com")  # not on the panel
    _as(client, "recruiter@example.com")
    made = _post(client, recording, body=f"@una and @otto: listen here, {SECRET}", at_ms=4000)
    assert made.status_code == 201
    [message] = OutboxMessage.select()
    assert message.recipient == "una@example.com"
    assert (
        f"/interviews/{recording.interview_id}/review#comment-{made.json()['id']}" in message.body
    )
    assert SECRET not in message.body and SECRET not in message.subject


def test_the_text_is_sealed_and_goes_with_the_candidate(
    runtime: Runtime, client: TestClient[Litestar], recording: Recording
) -> None:
    _as(client, "recruiter@example.com")
    made = _post(client, recording, body=f"remember {SECRET}", at_ms=4000)
    client.put(
        f"/api/comments/{made.json()['id']}",
        json={"body": f"{SECRET} again"},
        headers=csrf_headers(client),
    )
    runtime.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database = runtime.config.data_dir / "appliance.db"
    assert SECRET.encode() not in database.read_bytes()
    erase_candidate(runtime, "recruiter@example.com", recording.interview.candidate_id, "request")
    assert Comment.select().count() == 0 and CommentVersion.select().count() == 0
    assert client.get(f"/api/recordings/{recording.id}/comments").status_code == 410


def test_only_reviewers_read_or_write_comments(
    runtime: Runtime, client: TestClient[Litestar], recording: Recording
) -> None:
    make_user(runtime, "interviewer", "otto@example.com")
    _as(client, "otto@example.com")
    assert client.get(f"/api/recordings/{recording.id}/comments").status_code == 403
    assert _post(client, recording, body="hi", at_ms=1000).status_code == 403
    assert Comment.select().count() == 0
