"""Recordings as tests need them: sealed the way the SFU seals them, with real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from appliance.db.database import utcnow
from appliance.db.models import Interview, Recording
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings.store import BlobSpec, seal_blob, start_recording
from appliance.runtime import Runtime
from appliance.staff.accounts import create_user
from tests.conftest import PASSWORD
from tests.support.speech import clip, participant_webm, silence


def two_person_recording(
    runtime: Runtime, tmp_path: Path, seconds: float = 0.0
) -> tuple[Recording, dict[str, str]]:
    """A finished two-person recording: the interviewer asks at 0.4 s, the candidate answers
    from 4.0 s, each on their own track, as the SFU seals them. With `seconds`, each track
    goes on in silence until then, as a participant who stays in the room does."""
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    now = utcnow()
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    recording = start_recording(runtime, interview)
    panel = create_user(runtime.audit, "t", "una@example.com", "interviewer", PASSWORD, "Una Park")
    said = {}
    # The room's identities; the transcript calls them by name.
    for identity, speaker, name, offset in (
        (f"staff-{panel.id}", "Una Park", "project", 0.4),
        ("candidate", "Alex", "numbers", 4.0),
    ):
        samples, said[speaker] = clip(name, tmp_path)
        samples = np.concatenate(
            [samples, silence(max(0.0, seconds - offset - len(samples) / 16000))]
        )
        path = participant_webm(tmp_path / f"{identity}.webm", samples, offset)
        spec = BlobSpec(identity, "media", path.name, "video/webm")
        seal_blob(runtime, "sfu", recording, spec, [path.read_bytes()])
    recording.status = "complete"
    recording.save()
    return recording, said
