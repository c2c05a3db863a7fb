"""Batch transcripts of sealed recordings: per-speaker tracks merged on the room's clock,
stored sealed, served over the API, and failures that say what went wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.asr_onnx.transcriber import Transcriber
from appliance.core.config import AsrConfig
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Interview,
    InterviewParticipant,
    Recording,
    RecordingBlob,
    TranscriptionJob,
    WebhookEvent,
)
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.integrations import webhook_endpoints
from appliance.recordings import transcription
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.store import BlobSpec, blob_store, seal_blob, start_recording
from appliance.runtime import Runtime
from appliance.staff.accounts import create_user
from appliance.worker import TranscriptionRunner
from tests.conftest import PASSWORD, make_user, post_form, sign_in
from tests.support.recordings import two_person_recording
from tests.support.speech import link_models, wer

SETTINGS = AsrConfig(device="cpu", threads=2)


def _told_of_transcripts(runtime: Runtime) -> None:
    """A webhook endpoint for transcript.ready, so the event is written (not sent: no worker)."""
    url = "http://127.0.0.1:9/x"
    webhook_endpoints.create(runtime.audit, "admin", url, ["transcript.ready"], True)


def test_a_recording_gets_one_transcript_with_a_speaker_on_every_word(
    runtime: Runtime, tmp_path: Path, transcriber: Transcriber
) -> None:
    recording, said = two_person_recording(runtime, tmp_path)
    webhook_endpoints.create(
        runtime.audit, "admin", "http://127.0.0.1:9/x", ["transcript.ready"], True
    )
    fractions: list[float] = []
    result = transcription.transcribe_recording(
        runtime, recording.id, transcriber, SETTINGS, fractions.append
    )
    (ready,) = WebhookEvent.select()
    assert json.loads(ready.payload)["data"] == {
        "recording_id": recording.id, "interview_id": recording.interview.id,
        "candidate_id": recording.interview.candidate_id, "external_id": None,
    }  # fmt: skip
    speakers = [s.speaker for s in result.segments]
    assert speakers[0] == "Una Park" and speakers[-1] == "Alex"
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)
    for speaker, text in said.items():
        spoken = " ".join(s.text for s in result.segments if s.speaker == speaker)
        assert wer(text, spoken) <= 0.3
    words = [w for s in result.segments for w in s.words]
    assert all(w.speaker in said for w in words)
    first_answer = next(w for w in words if w.speaker == "Alex")
    assert 3.6 < first_answer.start < 4.8  # on the room's clock, not the track's
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)

    job = TranscriptionJob.get(TranscriptionJob.recording == recording)
    assert (job.status, job.progress, job.model) == ("done", 1.0, "whisper-base")
    stored = transcription.load_transcript(runtime, "ivy@example.com", recording.id)
    assert stored == result
    rows = transcription.segment_texts(runtime, recording.id)
    assert [text for _, text in rows] == [s.text for s in result.segments]
    assert [row.speaker for row, _ in rows] == speakers
    opened = AuditEntry.select().where(AuditEntry.action == "recording.open")
    purposes = [json.loads(e.details)["purpose"] for e in opened]
    assert purposes.count("transcription") == 2 and purposes.count("transcript") == 1
    blob = RecordingBlob.get(RecordingBlob.kind == "transcript")
    sealed = blob_store(runtime).path(bytes.fromhex(blob.object_id)).read_bytes()
    assert b"Alex" not in sealed and said["Alex"].split()[2].encode() not in sealed

    again = transcription.transcribe_recording(runtime, recording.id, transcriber, SETTINGS)
    assert again == result
    assert RecordingBlob.select().where(RecordingBlob.kind == "transcript").count() == 1


def test_the_worker_transcribes_finished_recordings_and_survives_failures(
    runtime: Runtime, tmp_path: Path, speech_models: Path
) -> None:
    link_models(runtime.config.data_dir, speech_models)
    runtime.config.asr = AsrConfig(device="cpu", threads=2)
    recording, _ = two_person_recording(runtime, tmp_path)
    silent = start_recording(runtime, recording.interview)
    seal_blob(runtime, "sfu", silent, BlobSpec("x", "media", "notes.txt"), [b"not media at all"])
    transcription.queue_transcription(silent)
    transcription.queue_transcription(recording)
    runner = TranscriptionRunner(runtime)
    assert runner.run_one() and runner.run_one() and not runner.run_one()
    failed = TranscriptionJob.get(TranscriptionJob.recording == silent)
    assert failed.status == "failed"
    assert "has no audio to transcribe" in failed.error
    done = TranscriptionJob.get(TranscriptionJob.recording == recording)
    assert done.status == "done"

    TranscriptionJob.update(status="running").where(TranscriptionJob.id == done.id).execute()
    assert transcription.requeue_interrupted() == 1
    assert transcription.next_queued() == done


def test_damaged_or_erased_recordings_fail_with_a_reason_and_keep_their_data(
    runtime: Runtime, tmp_path: Path, transcriber: Transcriber
) -> None:
    recording, _ = two_person_recording(runtime, tmp_path)
    webhook_endpoints.create(
        runtime.audit, "admin", "http://127.0.0.1:9/x", ["transcript.ready"], True
    )
    blob = RecordingBlob.get(RecordingBlob.participant_identity == "candidate")
    path = blob_store(runtime).path(bytes.fromhex(blob.object_id))
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    with pytest.raises(ApplianceError):
        transcription.transcribe_recording(runtime, recording.id, transcriber, SETTINGS)
    job = TranscriptionJob.get(TranscriptionJob.recording == recording)
    assert job.status == "failed" and "does not authenticate" in job.error
    assert not WebhookEvent.select().where(WebhookEvent.kind == "transcript.ready").exists()
    assert path.read_bytes() == bytes(damaged)
    assert RecordingBlob.select().where(RecordingBlob.recording == recording).count() == 2

    path.write_bytes(original)
    erase_candidate(runtime, "t", recording.interview.candidate_id, "request")
    with pytest.raises(ApplianceError, match="erased"):
        transcription.transcribe_recording(runtime, recording.id, transcriber, SETTINGS)


def test_the_api_serves_progress_and_exports_to_the_panel_only(
    runtime: Runtime, client: TestClient[Litestar], tmp_path: Path, transcriber: Transcriber
) -> None:
    recording, _ = two_person_recording(runtime, tmp_path)
    base = f"/api/recordings/{recording.id}"
    make_user(runtime, "recruiter")
    sign_in(client, "recruiter@example.com")
    assert client.get(f"{base}/transcription").json()["status"] == "none"
    assert client.get(f"{base}/transcript").status_code == 404
    listed = client.get("/recordings")
    assert "Alex" in listed.text and ">Transcribe</button>" in listed.text
    assert post_form(client, f"/recordings/{recording.id}/transcription", {}).status_code == 303
    assert client.get(f"{base}/transcription").json()["status"] == "queued"
    assert 'http-equiv="refresh"' in client.get("/recordings").text
    transcription.transcribe_recording(runtime, recording.id, transcriber, SETTINGS)
    status = client.get(f"{base}/transcription").json()
    assert (status["status"], status["progress"]) == ("done", 1.0)
    assert f"/api/recordings/{recording.id}/transcript?format=vtt" in client.get("/recordings").text
    vtt = client.get(f"{base}/transcript", params={"format": "vtt"})
    assert vtt.headers["content-type"] == "text/vtt; charset=utf-8"
    assert "<v Alex>" in vtt.text and "<v Una Park>" in vtt.text
    assert client.get(f"{base}/transcript", params={"format": "doc"}).status_code == 400
    assert client.get("/api/recordings/9999/transcription").status_code == 404

    outsider = make_user(runtime, "interviewer", "ian@example.com")
    sign_in(client, "ian@example.com")
    assert client.get(f"{base}/transcript").status_code == 403
    InterviewParticipant.create(interview=recording.interview, user=outsider)
    payload = client.get(f"{base}/transcript").json()
    assert {s["speaker"] for s in payload["segments"]} == {"Una Park", "Alex"}


def test_the_command_transcribes_a_recording_and_prints_its_transcript(
    runtime: Runtime, tmp_path: Path, speech_models: Path
) -> None:
    link_models(runtime.config.data_dir, speech_models)
    recording, _ = two_person_recording(runtime, tmp_path)
    base = [sys.executable, "-m", "appliance", "recordings"]
    where = ["--data-dir", str(runtime.config.data_dir)]
    env = {**os.environ, "APPLIANCE_ASR_THREADS": "2"}
    done = subprocess.run(
        [*base, "transcribe", str(recording.id), *where], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "segments from 2 speakers" in done.stdout
    assert "100%" in done.stderr
    shown = subprocess.run(
        [*base, "transcript", str(recording.id), "--format", "srt", *where],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "\nUna Park: " in shown.stdout and "\nAlex: " in shown.stdout
    missing = subprocess.run([*base, "transcript", "999", *where], capture_output=True, text=True)
    assert missing.returncode == 1 and "no recording with id 999" in missing.stderr


def test_without_a_model_the_job_fails_saying_how_to_install_one(
    runtime: Runtime, tmp_path: Path
) -> None:
    recording, _ = two_person_recording(runtime, tmp_path)
    transcription.queue_transcription(recording)
    assert TranscriptionRunner(runtime).run_one()
    job = TranscriptionJob.get(TranscriptionJob.recording == recording)
    assert job.status == "failed" and "appliance models install" in job.error


def test_speakers_are_named_and_two_people_with_one_name_told_apart(runtime: Runtime) -> None:
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Sam Lee", "sam@example.com"))
    now = utcnow()
    recording = start_recording(
        runtime, Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    )
    namesake = create_user(
        runtime.audit, "t", "sam@corp.example", "interviewer", PASSWORD, "Sam Lee"
    )
    nameless = create_user(runtime.audit, "t", "kim@corp.example", "interviewer", PASSWORD)
    names = transcription.speaker_names(
        recording,
        ["candidate", f"staff-{namesake.id}", f"staff-{nameless.id}", "staff-999", "guest"],
    )
    assert names == {
        "candidate": "Sam Lee (candidate)",
        f"staff-{namesake.id}": f"Sam Lee (staff-{namesake.id})",
        f"staff-{nameless.id}": "kim@corp.example",
        "staff-999": "staff-999",
        "guest": "guest",
    }
    erase_candidate(runtime, "t", candidate.id, "request")
    assert transcription.speaker_names(Recording.get_by_id(recording.id), ["candidate"]) == {
        "candidate": "candidate"
    }
