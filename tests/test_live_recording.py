"""From a live room to a compliance export: the SFU seals, the worker files, the officer reads."""

import asyncio
import dataclasses
import hashlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import av
import pytest
from aiohttp import web
from aiortc.contrib.media import MediaPlayer

from appliance.contracts.recording_events import (
    BlobOpened,
    SfuStarted,
    pending,
    spool_dir,
    write_event,
)
from appliance.db.database import utcnow
from appliance.db.models import AuditEntry, Interview, Recording, RecordingBlob, TranscriptionJob
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings import bundle
from appliance.recordings.filing import ingest
from appliance.recordings.store import open_blob
from appliance.runtime import Runtime
from appliance.sfu.ice import gather_on_loopback_only
from appliance.sfu.sealed_sinks import SealedRecordings
from appliance.sfu.server import create_app
from appliance.storage.recipients import generate_identity
from appliance.storage.sealed_file import SealedFile
from tests.support.disks import small_disk
from tests.support.sfu_harness import Sfu, make_clip


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.webm"
    make_clip(path, 3.0)
    return path


def _interview(runtime: Runtime) -> Interview:
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    now = utcnow()
    return Interview.create(candidate=candidate, starts_at=now, ends_at=now)


async def _session(runtime: Runtime, clip: Path, interview_id: int | None) -> None:
    gather_on_loopback_only()
    config = dataclasses.replace(
        runtime.config, sfu=dataclasses.replace(runtime.config.sfu, room_grace_seconds=1)
    )
    app = create_app(config, runtime.keys.public_key, SealedRecordings(config))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as http:
            sfu = Sfu(f"http://127.0.0.1:{port}", runtime.keys.signing_key, http)
            room = {"room": "interview-room", "interview_id": interview_id}
            async with sfu.client("bob", **room) as bob, sfu.client("alice", **room) as alice:
                assert next(e for e in alice.events if e["type"] == "joined")["recording"] is (
                    interview_id is not None
                )
                await alice.publish(MediaPlayer(str(clip), decode=False))
                alice_id = next(e["participant_id"] for e in alice.events if e["type"] == "joined")
                async with asyncio.timeout(15):
                    while len(bob.frames_from(alice_id, "video")) < 60:
                        await asyncio.sleep(0.05)
            await asyncio.sleep(1.6)  # grace period: the room closes and seals its manifest
    finally:
        await runner.cleanup()


def test_a_live_room_is_sealed_filed_and_exportable(
    runtime: Runtime, clip: Path, tmp_path: Path
) -> None:
    interview = _interview(runtime)
    asyncio.run(_session(runtime, clip, interview.id))

    assert ingest(runtime) >= 6  # started, two blobs opened and closed, finished
    assert pending(spool_dir(runtime.config.data_dir)) == []
    recording = Recording.get(Recording.interview == interview)
    assert (recording.status, recording.source) == ("complete", "live")
    blobs = {b.kind: b for b in RecordingBlob.select().where(RecordingBlob.recording == recording)}
    assert set(blobs) == {"media", "manifest"} and all(
        b.status == "complete" for b in blobs.values()
    )

    media = b"".join(open_blob(runtime, "ivy@example.com", blobs["media"], "playback").stream())
    with av.open(io.BytesIO(media)) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 60
    manifest = json.loads(
        b"".join(open_blob(runtime, "ivy@example.com", blobs["manifest"], "review").stream())
    )
    [alice] = manifest["participants"]
    assert alice["identity"] == "alice" and {t["kind"] for t in alice["tracks"]} == {
        "audio",
        "video",
    }
    actions = [
        e.action
        for e in AuditEntry.select().where(AuditEntry.subject == f"recording:{recording.id}")
    ]
    assert actions[:1] == ["recording.start"] and actions.count("recording.seal") == 2

    officer = generate_identity()
    out = tmp_path / "case.bundle"
    bundle.export(runtime, "cora@example.com", recording.id, officer.recipient, out)
    written = bundle.decrypt(out, officer, tmp_path / "plain")
    assert media in [p.read_bytes() for p in written]


def test_a_room_without_an_interview_is_not_recorded(runtime: Runtime, clip: Path) -> None:
    asyncio.run(_session(runtime, clip, None))
    assert pending(spool_dir(runtime.config.data_dir)) == []
    assert Recording.select().count() == 0


def test_events_that_cannot_be_filed_are_set_aside_not_lost(runtime: Runtime) -> None:
    directory = spool_dir(runtime.config.data_dir)
    write_event(directory, BlobOpened("00" * 16, "ab" * 16, "alice", "media", "a.webm", "x/y"))
    directory.joinpath("00000000000000000001-garbage.json").write_text("{not json")
    directory.joinpath("00000000000000000002-mystery.json").write_text('{"event": "mystery"}')
    short = '{"event": "blob-closed", "key_id": "%s", "object_id": "ab"}' % ("00" * 16)
    directory.joinpath("00000000000000000003-short.json").write_text(short)
    assert ingest(runtime) == 0
    reasons = {
        p.name.removesuffix(".json.reason").split("-")[-1]: p.read_text()
        for p in (directory / "rejected").glob("*.reason")
    }
    assert len(list((directory / "rejected").glob("*.json"))) == 4
    assert "unreadable event" in reasons["garbage"]
    assert "unknown recording event 'mystery'" in reasons["mystery"]
    assert "object_id is not 32 hexadecimal digits" in reasons["short"]
    assert any("no recording" in reason for reason in reasons.values())


def test_a_candidate_erased_while_the_room_was_live_gets_nothing_filed(
    runtime: Runtime, clip: Path
) -> None:
    from appliance.db.models import DataKey
    from appliance.recordings.erasure import erase_candidate
    from appliance.recordings.store import blob_store

    interview = _interview(runtime)
    asyncio.run(_session(runtime, clip, interview.id))
    sealed = list(blob_store(runtime).root.rglob("*.sealed"))
    assert len(sealed) == 2
    erase_candidate(runtime, "cora@example.com", interview.candidate_id, "request")
    ingest(runtime)
    assert pending(spool_dir(runtime.config.data_dir)) == []
    recording = Recording.get(Recording.interview == interview)
    assert recording.status == "erased"
    assert DataKey.select().where(DataKey.key_id == recording.key_id).count() == 0
    assert RecordingBlob.select().count() == 0
    assert not any(path.exists() for path in sealed)


def test_a_recorded_room_where_nobody_publishes_files_nothing(runtime: Runtime) -> None:
    from appliance.sfu.sealed_sinks import SealedRecordings

    room = SealedRecordings(runtime.config).start("empty-room", _interview(runtime).id)
    assert room is not None
    room.finish({"room": "empty-room", "participants": []})
    assert pending(spool_dir(runtime.config.data_dir)) == []


def test_a_recording_cut_short_by_an_sfu_crash_is_closed_when_the_node_restarts(
    runtime: Runtime, clip: Path, tmp_path: Path
) -> None:
    interview = _interview(runtime)
    data_dir = str(runtime.config.data_dir)
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "scenarios" / "sfu_recording_server.py"),
            "--data-dir",
            data_dir,
        ],
        stdout=subprocess.PIPE,
        text=True,
        # Small chunks, so the two seconds before the crash fill several of them.
        env={**os.environ, "APPLIANCE_STORAGE_CHUNK_SIZE": "4096"},
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())

    async def crash_mid_session() -> None:
        async with aiohttp.ClientSession() as http:
            sfu = Sfu(f"http://127.0.0.1:{port}", runtime.keys.signing_key, http)
            room = {"room": "interview-room", "interview_id": interview.id}
            async with sfu.client("bob", **room) as bob, sfu.client("alice", **room) as alice:
                await alice.publish(MediaPlayer(str(clip), decode=False))
                alice_id = next(e["participant_id"] for e in alice.events if e["type"] == "joined")
                async with asyncio.timeout(15):
                    while len(bob.frames_from(alice_id, "video")) < 60:
                        await asyncio.sleep(0.05)
                server.send_signal(signal.SIGKILL)
                server.wait()

    asyncio.run(crash_mid_session())
    ingest(runtime)
    recording = Recording.get(Recording.interview == interview)
    [media] = RecordingBlob.select().where(RecordingBlob.recording == recording)
    assert (recording.status, media.status) == ("recording", "writing")

    # Another node restarting leaves this node's recording alone; this node's restart closes it.
    write_event(spool_dir(runtime.config.data_dir), SfuStarted("other", time.time()))
    ingest(runtime)
    assert Recording.get_by_id(recording.id).status == "recording"
    SealedRecordings(runtime.config).announce_start()
    ingest(runtime)

    recording = Recording.get_by_id(recording.id)
    media = RecordingBlob.get_by_id(media.id)
    assert recording.status == "interrupted" and recording.ended_at is not None
    assert media.status == "truncated" and media.plaintext_bytes > 0
    stored = runtime.config.blob_dir
    assert (
        media.sealed_sha256
        == hashlib.sha256(
            next(p for p in stored.rglob(f"*{media.object_id}*")).read_bytes()
        ).hexdigest()
    )
    assert TranscriptionJob.get(TranscriptionJob.recording == recording).status == "queued"
    interrupt = AuditEntry.get(AuditEntry.action == "recording.interrupt")
    assert interrupt.subject == f"recording:{recording.id}"

    with (
        SealedFile(open_blob(runtime, "ivy@example.com", media, "playback"), prefix=True) as prefix,
        av.open(prefix) as container,
    ):
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 30

    officer = generate_identity()
    out = tmp_path / "case.bundle"
    bundle.export(runtime, "cora@example.com", recording.id, officer.recipient, out)
    [written] = bundle.decrypt(out, officer, tmp_path / "plain")
    assert written.stat().st_size == media.plaintext_bytes


def test_a_blob_store_that_fills_up_stops_the_recording_not_the_call(
    runtime: Runtime, clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The call goes on; the SFU says in one line why the recording stopped; what was sealed
    before the disk filled is filed, readable, and the recording is marked cut short."""
    interview = _interview(runtime)
    blobs = tmp_path / "blobs"
    runtime.config.storage.blob_dir = str(blobs)
    runtime.config.storage.chunk_size = 4096
    with small_disk(blobs, "8k"), caplog.at_level(logging.ERROR):
        asyncio.run(_session(runtime, clip, interview.id))  # Bob got 60 frames meanwhile
        ingest(runtime)
        recording = Recording.get(Recording.interview == interview)
        [media] = RecordingBlob.select().where(
            (RecordingBlob.recording == recording) & (RecordingBlob.kind == "media")
        )
        assert (recording.status, media.status) == ("interrupted", "truncated")
        reader = open_blob(runtime, "ivy@example.com", media, "playback")
        with SealedFile(reader, prefix=True) as prefix:
            assert len(prefix.read()) == media.plaintext_bytes >= 4096
    said = [r for r in caplog.records if r.name.startswith("appliance.sfu")]
    assert said and all(r.exc_info is None for r in said), [r.getMessage() for r in said]
    assert any("No space left on device" in r.getMessage() for r in said)
    assert AuditEntry.get(AuditEntry.action == "recording.interrupt").subject == (
        f"recording:{recording.id}"
    )
