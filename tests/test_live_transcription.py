"""Transcribing a recording while it is made: the worker follows a track as the SFU seals it,
transcribes each stretch of speech once a pause closes it, and when the interview ends the
transcript needs only the last words."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from appliance.asr_onnx.transcriber import Transcriber
from appliance.core.config import AsrConfig
from appliance.db.database import utcnow
from appliance.db.models import AuditEntry, Interview, Recording, RecordingBlob
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings import transcription
from appliance.recordings.live_transcription import LiveTranscription
from appliance.recordings.store import blob_store, start_recording
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.blobstore import HashingFile
from appliance.storage.sealed import SealedReader, SealWriter, new_object_id
from appliance.storage.sealed_file import FollowedFile
from tests.support.live_media import mux_live, speech_packets
from tests.support.speech import clip, silence, wer

SETTINGS = AsrConfig(device="cpu", threads=2)
KEY = bytes(32)
KEY_ID = bytes(16)


def test_a_followed_file_reads_what_is_sealed_as_it_is_sealed(tmp_path: Path) -> None:
    """Every byte arrives, in order, while the writer is still writing; the end is the end."""
    path = tmp_path / "object"
    data = np.random.default_rng(3).bytes(50_000)
    object_id = new_object_id()
    out = path.open("wb")
    writer = SealWriter(out, KEY, KEY_ID, object_id, chunk_size=1024, durable=True)
    written = threading.Event()

    def write() -> None:
        for start in range(0, len(data), 700):
            writer.write(data[start : start + 700])
            time.sleep(0.002)
        writer.close()
        out.close()
        written.set()

    source = path.open("rb")
    followed = FollowedFile(SealedReader(source, KEY, KEY_ID, object_id), written.is_set, 0.01)
    thread = threading.Thread(target=write)
    thread.start()
    read = bytearray()
    early = 0
    while chunk := followed.read(4096):
        read += chunk
        if not written.is_set():
            early = len(read)
    thread.join()
    assert bytes(read) == data
    assert early > 0  # some of it was read before the writer finished
    assert followed.read(10) == b""


@pytest.mark.parametrize("cut", [0, 1, 1023, 1024 + 28, 5000])
def test_a_followed_file_whose_writer_died_ends_with_what_was_sealed(
    tmp_path: Path, cut: int
) -> None:
    path = tmp_path / "object"
    object_id = new_object_id()
    with path.open("wb") as out:
        writer = SealWriter(out, KEY, KEY_ID, object_id, chunk_size=1024, durable=True)
        writer.write(bytes(range(256)) * 40)  # 10 240 bytes: ten whole chunks, no final one
    sealed = path.read_bytes()
    path.write_bytes(sealed[: len(sealed) - cut])
    reader = SealedReader(path.open("rb"), KEY, KEY_ID, object_id)
    sealed_so_far = reader.prefix_size()
    with io.BufferedReader(FollowedFile(reader, lambda: True, 0.01)) as followed:
        got = followed.read()
    assert got == (bytes(range(256)) * 40)[:sealed_so_far]
    assert (sealed_so_far == 10 * 1024) == (cut == 0)


def _live_track(runtime: Runtime, identity: str) -> tuple[Recording, RecordingBlob]:
    """A recording being made, with one track the SFU has opened and is writing."""
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    now = utcnow()
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    recording = start_recording(runtime, interview)
    blob = RecordingBlob.create(
        recording=recording,
        object_id=new_object_id().hex(),
        participant_identity=identity,
        kind="media",
        filename=f"{identity}.webm",
        media_type="video/webm",
    )
    return recording, blob


def test_speech_is_transcribed_during_the_call_and_the_end_needs_only_the_last_words(
    runtime: Runtime, tmp_path: Path, transcriber: Transcriber
) -> None:
    recording, blob = _live_track(runtime, "candidate")
    first, said_first = clip("project", tmp_path)
    second, said_second = clip("numbers", tmp_path)
    speech = np.concatenate([first, silence(2.0), second, silence(1.0)])
    media = mux_live("webm", None, speech_packets(speech, 1.5))
    key_id = bytes.fromhex(str(recording.key_id))
    data_key = keystore.unwrap(runtime.config.data_dir, key_id)
    object_id = bytes.fromhex(blob.object_id)
    out = blob_store(runtime).create(object_id)
    sink = HashingFile(out)
    writer = SealWriter(sink, data_key, key_id, object_id, chunk_size=4096, durable=True)
    seconds = len(speech) / 16000

    live = LiveTranscription(runtime, lambda: transcriber, window=3.0)
    assert live.follow_new_tracks() == 1
    assert live.follow_new_tracks() == 0  # one follower per track
    follower = live.followers[blob.object_id]
    # Where the first sentence and the pause after it end in the media.
    first_part = len(media) * (len(first) + 2 * 16000) // len(speech)

    def speak() -> None:
        """In real time, as a room would; after the first sentence the room goes on only once
        it is heard (a busy machine transcribes slower than real time, and this test is about
        when the words are heard, not how fast)."""
        step = max(1, len(media) // 200)
        waited = False
        for start in range(0, len(media), step):
            writer.write(media[start : start + step])
            time.sleep(seconds / 200)
            if not waited and start + step >= first_part:
                deadline = time.monotonic() + 120
                while not follower.track.segments and time.monotonic() < deadline:
                    time.sleep(0.05)
                waited = True
        writer.close()
        out.close()

    room = threading.Thread(target=speak)
    room.start()
    heard_during_the_call = ""
    while room.is_alive():
        heard_during_the_call = " ".join(s.text for s in follower.track.segments)
        time.sleep(0.05)
    assert wer(said_first, heard_during_the_call) <= 0.3  # before the call ended

    # The SFU closes the track; the worker files it and the recording's end.
    blob.status, blob.plaintext_bytes = "complete", writer.plaintext_bytes
    blob.sealed_sha256 = sink.sha256.hexdigest()
    blob.save()
    recording.status = "complete"
    recording.save()
    transcription.queue_transcription(recording)
    followed = live.take(recording)
    assert list(followed) == [blob.object_id] and followed[blob.object_id].finished
    result = transcription.transcribe_recording(
        runtime, recording.id, transcriber, SETTINGS, followed=followed
    )

    text = " ".join(s.text for s in result.segments)
    assert wer(f"{said_first} {said_second}", text) <= 0.3
    assert {s.speaker for s in result.segments} == {"Alex"}
    words = [w for s in result.segments for w in s.words]
    assert 1.3 < words[0].start < 2.5  # on the room's clock: the track began at 1.5 s
    answer = next(w for w in words if w.word.strip(" ,.").lower() in said_second.lower().split())
    assert answer.start > 1.5 + len(first) / 16000 + 1.5  # after the pause
    opened = AuditEntry.select().where(
        (AuditEntry.action == "recording.open") & AuditEntry.details.contains("transcription")
    )
    assert opened.count() == 1  # the follower's reading; the job decoded nothing again
    job = transcription.job_for(recording.id)
    assert job is not None and job.status == "done"
