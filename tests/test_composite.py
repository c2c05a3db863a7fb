"""The single-file export: every participant's track composed into one WebM (a grid of named
tiles, the mixed audio, the transcript as WebVTT subtitles), sealed, made seekable, downloaded
with each download audited, erased with the recording; a job killed halfway or a full disk
leaves no half file behind."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.asr_onnx.transcript import Segment, Transcript
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    CompositeJob,
    Consent,
    Decision,
    Interview,
    InterviewParticipant,
    Recording,
    RecordingBlob,
    Scorecard,
    ScorecardVersion,
    User,
)
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings import bundle, composite, composite_jobs, transcription
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.seekable import scan
from appliance.recordings.store import BlobSpec, seal_blob, start_recording
from appliance.runtime import Runtime
from appliance.storage.recipients import generate_identity
from tests.conftest import PASSWORD, api_headers, make_user, post_form, sign_in
from tests.support.disks import small_disk
from tests.support.live_media import participant_track


def _recording(runtime: Runtime, seconds: float = 4.0) -> Recording:
    """Una (300 Hz) from the start, Alex (1000 Hz) from 2 s, both to `seconds`; transcribed."""
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    now = utcnow()
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    una = make_user(runtime, "interviewer", "una@example.com")
    InterviewParticipant.create(interview=interview, user=una)
    recording = start_recording(runtime, interview)
    for identity, offset, hz in ((f"staff-{una.id}", 0.0, 300.0), ("candidate", 2.0, 1000.0)):
        spec = BlobSpec(identity, "media", f"{identity}.webm", "video/webm")
        track = participant_track(offset, seconds - offset, hz)
        seal_blob(runtime, "sfu", recording, spec, [track])
    recording.status, recording.ended_at = "complete", recording.started_at
    recording.save()
    transcription.store_transcript(
        runtime,
        recording,
        Transcript(
            "en",
            seconds,
            [
                Segment(0.5, 1.5, "Tell me about it.", speaker="una@example.com"),
                Segment(2.5, 3.5, "Gladly.", speaker="Alex"),
            ],
            "test",
        ),
    )
    return recording


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def _blank_tile(image: np.ndarray, column: int) -> bool:
    """Whether the tile at `column` shows the dark "not on camera" picture (45, 50, 60)."""
    tile = image[: 480 - composite.LABEL_HEIGHT, column * 640 : (column + 1) * 640]
    return bool(np.abs(tile.mean(axis=(0, 1)) - (45, 50, 60)).max() < 12)


def test_the_composite_plays_every_participant_with_mixed_audio_and_subtitles(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    recording = _recording(runtime)
    assert sign_in(client, "una@example.com") == 303
    headers = api_headers(client)
    url = f"/api/recordings/{recording.id}/composite"
    assert client.get(url).json()["status"] == "none"
    missing = client.get(f"/recordings/{recording.id}/composite.webm")
    assert missing.status_code == 422 and "make one first" in missing.text
    asked = client.post(url, headers=headers)
    assert asked.status_code == 201 and asked.json()["status"] == "queued"
    assert client.post(url, headers=headers).json()["status"] == "queued"  # asked twice: one job
    job = composite_jobs.next_job()
    assert job is not None
    composite_jobs.run(runtime, job)
    state = client.get(url).json()
    assert state["status"] == "done" and state["progress"] == 1.0 and state["bytes"] > 0
    page = client.get(f"/interviews/{recording.interview_id}/review").text
    assert "Download the file" in page and "Ready:" in page

    download = client.get(f"/recordings/{recording.id}/composite.webm")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    data = download.content
    assert len(data) == state["bytes"]
    assert scan(io.BytesIO(data)).seekable  # Cues, Duration, a Segment of known size

    container = av.open(io.BytesIO(data))
    kinds = {s.type: s.codec_context.name for s in container.streams if s.codec_context}
    assert kinds == {"video": "vp8", "audio": "opus", "subtitle": "webvtt"}
    assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 480)
    frames = {}
    for frame in container.decode(video=0):
        for moment in (1.0, 3.0):
            if moment not in frames and frame.time >= moment:
                frames[moment] = frame.to_ndarray(format="rgb24")
    assert not _blank_tile(frames[1.0], 0) and _blank_tile(frames[1.0], 1)  # Alex joins at 2 s
    assert not _blank_tile(frames[3.0], 1)
    container.seek(0)
    sound = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]).astype(
        np.float32
    )
    rate = 48000
    assert abs(_peak_hz(sound[int(0.5 * rate) : int(1.5 * rate)], rate) - 300) < 5
    later = sound[int(2.5 * rate) : int(3.5 * rate)]
    spectrum = np.abs(np.fft.rfft(later))
    assert spectrum[1000] > 10 * np.median(spectrum) and spectrum[300] > 10 * np.median(spectrum)
    container.seek(0)
    cues = [bytes(p).decode() for p in container.demux(subtitles=0) if p.size]
    assert cues == ["una@example.com: Tell me about it.", "Alex: Gladly."]

    client.get(f"/recordings/{recording.id}/composite.webm", headers={"range": "bytes=0-99"})
    downloads = AuditEntry.select().where(AuditEntry.action == "recording.download")
    assert downloads.count() == 2 and all(e.actor == "una@example.com" for e in downloads)
    assert AuditEntry.select().where(AuditEntry.action == "composite.request").count() == 1

    erase_candidate(runtime, "test", recording.interview.candidate_id, "asked")
    assert not RecordingBlob.select().where(RecordingBlob.kind == composite.KIND).exists()
    assert client.get(f"/recordings/{recording.id}/composite.webm").status_code == 410


def test_only_reviewers_ask_for_or_download_it(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    recording = _recording(runtime, seconds=2.5)
    make_user(runtime, "interviewer", "ivo@example.com")
    assert sign_in(client, "ivo@example.com") == 303
    url = f"/api/recordings/{recording.id}/composite"
    assert client.post(url, headers=api_headers(client)).status_code == 403
    assert client.get(f"/recordings/{recording.id}/composite.webm").status_code == 403
    assert CompositeJob.select().count() == 0
    client.cookies.clear()
    assert sign_in(client, "una@example.com") == 303
    asked = post_form(client, f"/recordings/{recording.id}/composite", {})
    assert asked.status_code == 303 and asked.headers["location"].endswith("#export")
    Recording.update(status="recording").execute()
    busy = composite_jobs.next_job()
    assert busy is not None
    composite_jobs.run(runtime, busy)
    failed = client.get(url).json()
    assert failed["status"] == "failed" and "not finished" in failed["error"]


def _blob_files(runtime: Runtime) -> set[str]:
    return {p.name for p in runtime.config.blob_dir.rglob("*") if p.is_file()}


def test_a_job_killed_halfway_starts_again_and_offers_no_half_file(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    recording = _recording(runtime, seconds=40.0)
    before = _blob_files(runtime)
    user = make_user(runtime, "admin", "root@example.com")
    composite_jobs.request(runtime, user, recording.id)
    script = (
        "import sys; from pathlib import Path;"
        "from appliance.core.config import load_config;"
        "from appliance.runtime import open_runtime;"
        "from appliance.recordings import composite_jobs;"
        "rt = open_runtime(load_config(Path(sys.argv[1]), environ={}));"
        "composite_jobs.run(rt, composite_jobs.next_job())"
    )
    worker = subprocess.Popen([sys.executable, "-c", script, str(runtime.config.data_dir)])
    try:
        deadline = time.monotonic() + 120
        while (
            not RecordingBlob.select()
            .where(RecordingBlob.kind == composite.FIRST_PASS_KIND)
            .exists()
        ):
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # writing the first pass
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait()
    assert CompositeJob.get().status == "running"  # as the killed worker left it
    assert client.get("/healthz").status_code in (200, 503)
    assert composite.composite_of(recording) is None
    assert sign_in(client, "root@example.com") == 303
    assert client.get(f"/recordings/{recording.id}/composite.webm").status_code == 422

    assert composite_jobs.resume_interrupted(runtime) == 1
    assert _blob_files(runtime) == before  # the half-written pass is gone from the disk
    job = composite_jobs.next_job()
    assert job is not None
    composite_jobs.run(runtime, job)
    assert CompositeJob.get().status == "done"
    made = composite.composite_of(recording)
    assert made is not None
    assert _blob_files(runtime) == before | {f"{made.object_id}.sealed"}
    assert (
        len(client.get(f"/recordings/{recording.id}/composite.webm").content)
        == made.plaintext_bytes
    )


def test_a_full_disk_fails_the_job_clearly_and_keeps_nothing(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    blobs = runtime.config.blob_dir
    saved = {p.relative_to(blobs): p.read_bytes() for p in blobs.rglob("*") if p.is_file()}
    with small_disk(blobs, "4m"):
        for name, data in saved.items():  # what was there before moves onto the small disk
            (blobs / name).parent.mkdir(parents=True, exist_ok=True)
            (blobs / name).write_bytes(data)
        recording = _recording(runtime, seconds=20.0)
        before = _blob_files(runtime)
        filler = blobs / "filler"
        free = os.statvfs(blobs).f_bavail * os.statvfs(blobs).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 64 * 1024))
        user = make_user(runtime, "admin", "root@example.com")
        composite_jobs.request(runtime, user, recording.id)
        job = composite_jobs.next_job()
        assert job is not None
        composite_jobs.run(runtime, job)
        failed = CompositeJob.get()
        assert failed.status == "failed" and failed.error.startswith("the disk is full")
        assert _blob_files(runtime) == before | {"filler"}
        assert (
            not RecordingBlob.select()
            .where(RecordingBlob.kind.in_([composite.KIND, composite.FIRST_PASS_KIND]))
            .exists()
        )
        filler.unlink()
        composite_jobs.request(runtime, user, recording.id)
        again = composite_jobs.next_job()
        assert again is not None
        composite_jobs.run(runtime, again)
        assert CompositeJob.get().status == "done"


def test_the_compliance_bundle_carries_the_composite_and_the_decision_when_asked(
    runtime: Runtime, tmp_path: Path
) -> None:
    recording = _recording(runtime, seconds=3.0)
    interview = recording.interview
    Consent.create(interview=interview, kind="recording", granted=True, text_shown="NOTICE")
    una = User.get(User.email == "una@example.com")
    card = Scorecard.create(
        interview=interview, author=una, submitted_at=utcnow(), version=1, recommendation="yes"
    )
    ScorecardVersion.create(scorecard=card, number=1, content='{"summary": "SUMMARY"}')
    Decision.create(candidate=interview.candidate, outcome="advance", reason="REASON")
    officer = generate_identity()

    plain = tmp_path / "plain.bundle"
    bundle.export(runtime, "officer", recording.id, officer.recipient, plain)
    names = sorted(p.name for p in bundle.decrypt(plain, officer, tmp_path / "a"))
    assert [n.rsplit("-", 1)[-1] for n in names] == ["candidate.webm", "transcript.json", "1.webm"]
    assert composite.composite_of(recording) is None  # not made unless asked for

    full = tmp_path / "full.bundle"
    report = bundle.export(
        runtime, "officer", recording.id, officer.recipient, full, with_composite=True
    )
    assert report.blobs == 5  # two tracks, the transcript, the composite, the record
    files = {p.name.split("-", 2)[-1]: p for p in bundle.decrypt(full, officer, tmp_path / "b")}
    assert av.open(str(files[f"interview-{interview.id}.webm"])).streams.video[0].width == 1280
    record = json.loads(files["decision-record.json"].read_text())
    assert record["consents"][0]["text_shown"] == "NOTICE"
    assert record["scorecards"][0]["versions"][0]["content"]["summary"] == "SUMMARY"
    assert record["decisions"][0]["reason"] == "REASON"
    assert record["candidate"]["name"] == "Alex"
    assert b"REASON" not in full.read_bytes()  # sealed, like the recording


def test_someone_who_published_twice_has_one_tile() -> None:
    first = participant_track(0.0, 1.0, 300.0)
    again = participant_track(1.5, 1.0, 300.0)  # reconnected: a second track
    other = participant_track(0.0, 2.5, 1000.0)
    sources = [
        composite.Source(name, io.BytesIO(data), composite.TILE)
        for name, data in (("Una", first), ("Alex", other), ("Una", again))
    ]
    made = b"".join(composite.compose(sources, [], 2.5))
    container = av.open(io.BytesIO(made))
    assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 480)
    frames = {}
    for frame in container.decode(video=0):
        for moment in (0.5, 1.3, 2.0):
            if moment not in frames and frame.time >= moment:
                frames[moment] = frame.to_ndarray(format="rgb24")
    assert not _blank_tile(frames[0.5], 0)  # Una's first track
    assert not _blank_tile(frames[1.3], 0)  # between her tracks: her last picture is held
    assert not _blank_tile(frames[2.0], 0)  # her second track


@pytest.mark.browser
def test_the_composite_plays_in_firefox(runtime: Runtime, served: str) -> None:
    from tests.support.firefox import page_promise, page_value, start_firefox, wait_until

    recording = _recording(runtime, seconds=4.0)
    made = composite.make_composite(runtime, recording)
    assert made.plaintext_bytes
    firefox = start_firefox()
    try:
        firefox.navigate(f"{served}/login")
        firefox.find_element("css selector", "input[name=email]").send_keys("una@example.com")
        firefox.find_element("css selector", "input[name=password]").send_keys(PASSWORD)
        firefox.find_element("css selector", "form button[type=submit]").click()
        wait_until(firefox, "location.pathname === '/'")
        firefox.navigate(f"{served}/interviews/{recording.interview_id}/review")
        wait_until(firefox, "document.getElementById('composite-download') !== null")
        page_value(
            firefox,
            "(() => { const v = document.createElement('video'); v.id = 'made'; v.muted = true;"
            f" v.src = '/recordings/{recording.id}/composite.webm';"
            " document.body.append(v); return true; })()",
        )
        wait_until(firefox, "document.getElementById('made').readyState >= 2")
        assert page_value(firefox, "document.getElementById('made').videoWidth") == 1280
        duration = page_value(firefox, "document.getElementById('made').duration")
        assert 3.5 < duration < 5, duration
        assert page_promise(firefox, "document.getElementById('made').play()") is None
        wait_until(firefox, "document.getElementById('made').currentTime > 0.5", 20)
    finally:
        firefox.cleanup()
