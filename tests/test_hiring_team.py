"""A position's hiring team: staff who were not on a panel review that position's interviews
(list them, stream their recordings), and nobody else's; every change is audited."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, Candidate, Interview, Position, RecordingBlob
from appliance.recordings.store import import_files
from appliance.runtime import Runtime
from tests.conftest import make_user, post_form, sign_in


def _recorded_interview(runtime: Runtime, tmp_path: Path, position: Position, email: str) -> str:
    """An interview of `position` with an imported recording; the recording's media URL."""
    name = email.split("@")[0].capitalize()
    candidate = Candidate.create(name=name, email=email, position=position)
    now = dt.datetime(2026, 11, 30, 10, 0)
    interview = Interview.create(
        candidate=candidate, position=position, starts_at=now, ends_at=now, status="completed"
    )
    media = tmp_path / f"{email}.webm"
    media.write_bytes(os.urandom(5000))
    recording = import_files(runtime, "test", [media], email, interview.id)
    blob = RecordingBlob.get(RecordingBlob.recording == recording)
    return f"/recordings/{recording.id}/media/{blob.object_id}"


def test_a_hiring_team_member_reviews_that_positions_interviews_only(
    runtime: Runtime, client: TestClient[Litestar], tmp_path: Path
) -> None:
    backend = Position.create(title="Backend engineer")
    design = Position.create(title="Designer")
    backend_media = _recorded_interview(runtime, tmp_path, backend, "alex@example.com")
    design_media = _recorded_interview(runtime, tmp_path, design, "dee@example.com")
    make_user(runtime, "recruiter")
    hana = make_user(runtime, "interviewer", "hana@example.com")
    cleo = make_user(runtime, "compliance", "cleo@example.com")

    assert sign_in(client, "recruiter@example.com") == 303
    page = client.get(f"/positions/{backend.id}")
    assert "Nobody yet" in page.text and "hana@example.com" in page.text
    assert "cleo@example.com" not in page.text  # compliance officers audit; they do not review
    refused = post_form(client, f"/positions/{backend.id}/team", {"user_id": str(cleo.id)})
    assert refused.status_code == 422 and "compliance" in refused.text.lower()
    added = post_form(client, f"/positions/{backend.id}/team", {"user_id": str(hana.id)})
    assert added.status_code == 303
    post_form(client, f"/positions/{backend.id}/team", {"user_id": str(hana.id)})  # twice: once
    assert "Nobody yet" not in client.get(f"/positions/{backend.id}").text

    client.cookies.clear()
    assert sign_in(client, "hana@example.com") == 303
    assert client.get(backend_media, headers={"range": "bytes=0-9"}).status_code == 206
    assert client.get(design_media, headers={"range": "bytes=0-9"}).status_code == 403
    listed = client.get("/interviews?view=all").text
    assert "Alex" in listed and "dee@example.com" not in listed and "Dee" not in listed

    client.cookies.clear()
    assert sign_in(client, "recruiter@example.com") == 303
    removed = post_form(client, f"/positions/{backend.id}/team/{hana.id}/remove", {})
    assert removed.status_code == 303
    client.cookies.clear()
    assert sign_in(client, "hana@example.com") == 303
    assert client.get(backend_media, headers={"range": "bytes=0-9"}).status_code == 403

    changes = [
        (e.action, e.details)
        for e in AuditEntry.select()
        .where(AuditEntry.subject == f"position:{backend.id}")
        .order_by(AuditEntry.seq)
        if e.action.startswith("position.team")
    ]
    assert [action for action, _ in changes] == ["position.team.add", "position.team.remove"]
    assert all("hana@example.com" in details for _, details in changes)
