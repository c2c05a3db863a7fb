"""Seekable renditions of live recordings: the SFU's tracks, muxed for a stream that cannot
seek, remuxed with a Duration, a Segment size and Cues, every block unchanged; made by the
worker once per track, sealed beside the source, and played by the review page.

The media are real: frames encoded with libvpx, libx264 and libopus, muxed with PyAV into a
sink without `seek`, as appliance/sfu/recorder.py does. The structure is checked with the
small EBML reader below, written from the Matroska specification apart from the code under
test, and the playback with PyAV (ffmpeg's demuxer).
"""

from __future__ import annotations

import io
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest

from appliance.db.database import utcnow
from appliance.db.models import AuditEntry, Interview, Recording, RecordingBlob
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings import bundle, rendition, review, transcription
from appliance.recordings.ebml import EbmlError
from appliance.recordings.rendition import make_rendition, make_renditions
from appliance.recordings.seekable import render, scan
from appliance.recordings.store import (
    BlobSpec,
    blob_store,
    open_blob,
    seal_blob,
    start_recording,
)
from appliance.runtime import Runtime
from appliance.storage.recipients import generate_identity
from appliance.storage.sealed import HEADER_BYTES
from appliance.worker import TranscriptionRunner
from tests.support.live_media import FPS, audio_packets, mux_live, video_packets
from tests.support.speech import participant_webm, write_wav

SECONDS = 6.0

SEGMENT, INFO, TRACKS, CLUSTER, CUES = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675, 0x1C53BB6B
DURATION, TIMESTAMP, SIMPLE_BLOCK, BLOCK_GROUP = 0x4489, 0xE7, 0xA3, 0xA0
BLOCK, REFERENCE_BLOCK = 0xA1, 0xFB
CUE_POINT, CUE_TIME, CUE_TRACK_POSITIONS, CUE_TRACK, CUE_CLUSTER_POSITION = (
    0xBB,
    0xB3,
    0xB7,
    0xF7,
    0xF1,
)


@cache
def live_media(name: str) -> bytes:
    """vp8: VP8 and Opus in WebM; h264: H.264 and Opus in Matroska (which ffmpeg writes with
    CRC-32s); opus: audio only; vp8-unsized: the VP8 file with every cluster's size
    rewritten as unknown, as a muxer that streams clusters writes them."""
    if name == "vp8-unsized":  # the very bytes of vp8 (no two encodings are quite alike)
        return unsized_clusters(live_media("vp8"))
    audio = audio_packets(SECONDS)
    if name == "opus":
        return mux_live("webm", None, audio)
    if name == "h264":
        return mux_live("matroska", "h264", video_packets("libx264", SECONDS) + audio)
    return mux_live("webm", "vp8", video_packets("libvpx", SECONDS) + audio)


MEDIA = ["vp8", "h264", "opus", "vp8-unsized"]


# --- an EBML reader written from the specification, apart from appliance/ --------------------


def vint(data: bytes, at: int, *, marker: bool) -> tuple[int | None, int]:
    length = 9 - data[at].bit_length()
    raw = int.from_bytes(data[at : at + length], "big")
    if marker:
        return raw, length
    value = raw & ((1 << (7 * length)) - 1)
    return (None if value == (1 << (7 * length)) - 1 else value), length


@dataclass(frozen=True)
class El:
    id: int
    start: int
    data: int
    size: int | None

    @property
    def end(self) -> int:
        assert self.size is not None
        return self.data + self.size


def elements(data: bytes, start: int, end: int) -> Iterator[El]:
    at = start
    while at < end:
        element_id, id_length = vint(data, at, marker=True)
        size, size_length = vint(data, at + id_length, marker=False)
        assert element_id is not None
        found = El(element_id, at, at + id_length + size_length, size)
        yield found
        if size is None:
            return
        at = found.end


def top_level(data: bytes) -> tuple[El, list[El]]:
    """(the Segment, its children), for files whose clusters have known sizes."""
    header = next(elements(data, 0, len(data)))
    segment = next(elements(data, header.end, len(data)))
    end = len(data) if segment.size is None else segment.end
    return segment, list(elements(data, segment.data, end))


def child(data: bytes, parent: El, element_id: int) -> El | None:
    return next((e for e in elements(data, parent.data, parent.end) if e.id == element_id), None)


def uint(data: bytes, element: El) -> int:
    return int.from_bytes(data[element.data : element.end], "big")


def first_keyframe(data: bytes, cluster: El, track: int) -> int | None:
    """The time of the first keyframe block of `track` in the cluster."""
    timestamp = child(data, cluster, TIMESTAMP)
    assert timestamp is not None
    for block in elements(data, cluster.data, cluster.end):
        if block.id == SIMPLE_BLOCK:
            keyframe, body = True, block
        elif block.id == BLOCK_GROUP:
            keyframe = child(data, block, REFERENCE_BLOCK) is None
            found = child(data, block, BLOCK)
            assert found is not None
            body = found
        else:
            continue
        number, length = vint(data, body.data, marker=False)
        flags = data[body.data + length + 2]
        relative = int.from_bytes(data[body.data + length : body.data + length + 2], "big")
        if block.id == SIMPLE_BLOCK:
            keyframe = bool(flags & 0x80)
        if number == track and keyframe:
            return uint(data, timestamp) + relative
    return None


def unsized_clusters(data: bytes) -> bytes:
    """The file with each cluster's size made "unknown" (all ones, in as many bytes)."""
    out = bytearray(data)
    _, children = top_level(data)
    for cluster in (e for e in children if e.id == CLUSTER):
        width = cluster.data - cluster.start - 4
        out[cluster.start + 4 : cluster.data] = ((2 << (7 * width)) - 1).to_bytes(width, "big")
    return bytes(out)


def crc_32s_hold(data: bytes) -> bool:
    """Whether each top-level element that starts with a CRC-32 matches it (the IEEE CRC of
    the rest of its data, little-endian)."""
    _, children = top_level(data)
    for parent in children:
        first = next(elements(data, parent.data, parent.end), None)
        if first is not None and first.id == 0xBF:
            stored = int.from_bytes(data[first.data : first.end], "little")
            if stored != zlib.crc32(data[first.end : parent.end]):
                return False
    return True


# --- what a player sees ----------------------------------------------------------------------


Packet = tuple[int, bytes, int | None, bool]  # stream, bytes, pts, keyframe


def packets(data: bytes) -> list[Packet]:
    with av.open(io.BytesIO(data)) as container:
        return [
            (p.stream.index, bytes(p), p.pts, bool(p.is_keyframe))
            for p in container.demux()
            if p.size
        ]


def make(data: bytes) -> bytes:
    source = io.BytesIO(data)
    return b"".join(render(source, scan(source)))


# --- the source, and the rendition of it ----------------------------------------------------


@pytest.mark.parametrize("name", MEDIA)
def test_a_live_recording_has_no_size_no_duration_and_no_cues(name: str) -> None:
    data = live_media(name)
    segment, children = top_level(data)
    assert segment.size is None
    assert CUES not in {e.id for e in children}
    info = next(e for e in children if e.id == INFO)
    assert child(data, info, DURATION) is None
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is None


@pytest.mark.parametrize("name", MEDIA)
def test_the_rendition_knows_its_duration_and_every_cue_points_at_a_keyframe(name: str) -> None:
    source = live_media(name)
    made = make(source)
    last = max(p[2] or 0 for p in packets(source)) / 1000
    frame = 1 / FPS if name != "opus" else 0.020
    with av.open(io.BytesIO(made)) as container:
        assert container.duration is not None
        # The end of the last frame: its time, plus how long it lasts.
        assert last < container.duration / 1_000_000 <= last + frame + 1e-6

    segment, children = top_level(made)
    assert segment.size is not None and segment.end == len(made)
    assert [e.id for e in children][:3] == [0x114D9B74, INFO, TRACKS]
    clusters = [e for e in children if e.id == CLUSTER]
    cues = next(e for e in children if e.id == CUES)
    assert children[-1] == cues
    points = [e for e in elements(made, cues.data, cues.end) if e.id == CUE_POINT]
    assert len(points) >= int(SECONDS) - 1
    indexed = set()
    for point in points:
        time, positions = child(made, point, CUE_TIME), child(made, point, CUE_TRACK_POSITIONS)
        assert time is not None and positions is not None
        track, position = (
            child(made, positions, CUE_TRACK),
            child(made, positions, CUE_CLUSTER_POSITION),
        )
        assert track is not None and position is not None
        at = segment.data + uint(made, position)
        cluster = next(e for e in clusters if e.start == at)  # the position is a cluster's
        assert made[at : at + 4] == bytes.fromhex("1f43b675")
        assert first_keyframe(made, cluster, uint(made, track)) == uint(made, time)
        indexed.add((uint(made, track), cluster.start))
    # Every cluster that holds a keyframe of the cue track has its cue, and only those.
    (cue_track,) = {track for track, _ in indexed}
    holding = {c.start for c in clusters if first_keyframe(made, c, cue_track) is not None}
    assert {start for _, start in indexed} == holding


@pytest.mark.parametrize("name", MEDIA)
def test_the_rendition_holds_every_packet_of_the_source_unchanged(name: str) -> None:
    source = live_media(name)
    made = make(source)
    assert packets(made) == packets(source)
    # The blocks' bytes, not only what the demuxer makes of them: every cluster's data is in
    # the rendition as it is in the source (bar a CRC-32 over a cluster cut short).
    _, children = top_level(made)
    for cluster in (e for e in children if e.id == CLUSTER):
        assert made[cluster.data : cluster.end] in source
    assert crc_32s_hold(made)


@pytest.mark.parametrize("name", ["vp8", "h264", "vp8-unsized"])
def test_seeking_the_rendition_lands_on_the_last_keyframe_before_the_target(name: str) -> None:
    made = make(live_media(name))
    keyframes = sorted(p[2] or 0 for p in packets(made) if p[0] == 0 and p[3])
    assert len(keyframes) >= int(SECONDS)
    with av.open(io.BytesIO(made)) as container:
        video = container.streams.video[0]
        for target in (0.5, 1.2, 2.0, 3.75, 4.9, 5.5, 1.0):
            container.seek(int(target * 1_000_000))
            landed = next(p for p in container.demux(video) if p.size)
            assert landed.is_keyframe
            assert landed.pts is not None and landed.pts <= target * 1000
            assert landed.pts == max(k for k in keyframes if k <= target * 1000)


def _cuts(data: bytes) -> list[int]:
    """About 150 offsets evenly spread, and either side of the edges of every top-level element
    and of the first and last blocks of each cluster: in the EBML header, the Segment's header,
    the SeekHead, the Info, the Tracks, a cluster's header, a block, and at each boundary."""
    edges = {0, len(data)}
    segment, children = top_level(data)
    edges |= {segment.start, segment.data}
    for element in children:
        edges |= {element.start, element.data, element.end}
        if element.id == CLUSTER:
            blocks = list(elements(data, element.data, element.end))
            edges |= {e.start for e in blocks[:3] + blocks[-1:]}
    near = {e + d for e in edges for d in (-1, 0, 1, 2)}
    spread = set(range(0, len(data), len(data) // 150))
    return sorted(c for c in near | spread if 0 <= c <= len(data))


@pytest.mark.parametrize("name", MEDIA)
def test_a_source_cut_anywhere_keeps_its_whole_blocks_or_is_refused(name: str) -> None:
    source = live_media(name)
    whole = packets(source)
    sized = live_media(name.removesuffix("-unsized"))  # the same bytes where sizes are known
    _, children = top_level(sized)
    clusters = [e for e in children if e.id == CLUSTER]
    refused, kept = [], 0
    for cut in _cuts(sized):
        prefix = source[:cut]
        try:
            made = make(prefix)
        except EbmlError as exc:
            assert str(exc)
            refused.append(cut)
            continue
        got = packets(made)
        assert got == whole[: len(got)], f"cut at {cut}"
        in_whole_clusters = sum(
            1
            for c in clusters
            if c.end <= cut
            for e in elements(sized, c.data, c.end)
            if e.id in (SIMPLE_BLOCK, BLOCK_GROUP)
        )
        assert len(got) >= in_whole_clusters, f"cut at {cut}"
        assert crc_32s_hold(made), f"cut at {cut}"  # a cluster cut short lost its CRC-32
        with av.open(io.BytesIO(made)) as container:
            assert container.duration is not None
        kept += 1
    assert refused and max(refused) < clusters[0].end  # refused only before a first whole block
    assert kept > 100


# --- sealed blobs of a recording -------------------------------------------------------------


def live_recording(runtime: Runtime, tracks: dict[str, tuple[bytes, str, str]]) -> Recording:
    """A finished recording whose tracks were sealed as the SFU seals them:
    identity -> (bytes, filename, media type)."""
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    now = utcnow()
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    recording = start_recording(runtime, interview)
    for identity, (data, filename, media_type) in tracks.items():
        spec = BlobSpec(identity, "media", filename, media_type)
        seal_blob(runtime, "sfu", recording, spec, [data])
    recording.status = "complete"
    recording.save()
    return recording


def opened(runtime: Runtime, blob: RecordingBlob) -> bytes:
    with open_blob(runtime, "test", blob, "test") as reader:
        return b"".join(reader.stream())


def test_the_rendition_is_sealed_beside_its_source_and_named_after_it(runtime: Runtime) -> None:
    recording = live_recording(
        runtime,
        {
            "candidate": (live_media("vp8"), "candidate.webm", "video/webm"),
            "staff-1": (live_media("h264"), "staff-1.mkv", "video/x-matroska"),
        },
    )
    for source in transcription.track_blobs(recording):
        made = make_rendition(runtime, source)
        assert made is not None
        assert (made.kind, made.status) == ("rendition", "complete")
        assert made.participant_identity == source.participant_identity
        assert made.media_type == source.media_type
        stem, extension = source.filename.rsplit(".", 1)
        assert made.filename == f"{stem}.{source.object_id}.seekable.{extension}"
        assert opened(runtime, made) == make(opened(runtime, source))
    assert len(transcription.track_blobs(recording)) == 2  # transcription ignores renditions
    readings = AuditEntry.select().where(
        (AuditEntry.action == "recording.open") & (AuditEntry.actor == "worker")
    )
    assert sorted(json.loads(e.details)["purpose"] for e in readings) == ["rendition"] * 2


def _cut_blob(runtime: Runtime, recording: Recording, data: bytes, chunks: int) -> RecordingBlob:
    """A blob as filing leaves a crashed SFU's: its first `chunks` chunks, marked truncated."""
    blob = seal_blob(
        runtime, "sfu", recording, BlobSpec("candidate", "media", "c.webm", "video/webm"), [data]
    )
    path = blob_store(runtime).path(bytes.fromhex(blob.object_id))
    chunk = runtime.config.storage.chunk_size
    with path.open("r+b") as file:
        file.truncate(HEADER_BYTES + chunks * (chunk + 16))
    blob.status, blob.plaintext_bytes = "truncated", chunks * chunk
    blob.save()
    return blob


def test_a_recording_cut_short_gets_a_rendition_of_what_was_saved_or_none(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.config.storage.chunk_size = 1024
    source = live_media("vp8")
    whole = packets(source)
    recording = live_recording(runtime, {})
    kept = []
    for chunks in range(1, len(source) // 1024 + 1, 2):
        blob = _cut_blob(runtime, recording, source, chunks)
        caplog.clear()
        with caplog.at_level(logging.WARNING, "appliance.recordings.rendition"):
            result = make_rendition(runtime, blob)
        if result is None:  # nothing whole to play: said so, and the source plays as it is
            assert "no seekable rendition" in caplog.text
            continue
        got = packets(opened(runtime, result))
        assert got and got == whole[: len(got)]
        kept.append(len(got))
    assert len(kept) >= 10 and kept == sorted(kept) and kept[-1] > kept[0]


def test_media_that_is_not_live_matroska_gets_no_rendition(
    runtime: Runtime, tmp_path: Path
) -> None:
    tone = (np.sin(np.arange(16000) / 5) * 0.3).astype(np.float32)
    seekable = participant_webm(tmp_path / "seekable.webm", tone, 0.0).read_bytes()
    wav = write_wav(tmp_path / "tone.wav", tone).read_bytes()
    recording = live_recording(
        runtime,
        {
            "seekable": (seekable, "seekable.webm", "video/webm"),  # written to a file
            "mislabelled": (wav, "tone.webm", "video/webm"),
            "wav": (wav, "tone.wav", "audio/x-wav"),
        },
    )
    assert make_renditions(runtime, recording) == []
    assert not RecordingBlob.select().where(RecordingBlob.kind == "rendition").exists()


def test_the_worker_makes_each_rendition_once_and_the_review_plays_it(runtime: Runtime) -> None:
    recording = live_recording(
        runtime,
        {
            "candidate": (live_media("vp8"), "candidate.webm", "video/webm"),
            "guest": (live_media("opus"), "guest.webm", "video/webm"),
        },
    )
    sources = {b.participant_identity: b for b in transcription.track_blobs(recording)}
    runner = TranscriptionRunner(runtime)
    for _ in range(2):
        transcription.queue_transcription(recording, again=True)
        assert runner.run_one()  # no speech model here: the job fails, after the renditions
    made = list(RecordingBlob.select().where(RecordingBlob.kind == "rendition"))
    assert sorted(b.participant_identity for b in made) == ["candidate", "guest"]

    tiles = review.review(runtime, "reviewer", recording.interview).tiles
    by_identity = {b.participant_identity: b for b in made}
    assert [(t.identity, t.name) for t in tiles] == [("candidate", "Alex"), ("guest", "guest")]
    for tile in tiles:
        assert tile.object_id == by_identity[tile.identity].object_id
        assert tile.object_id != sources[tile.identity].object_id
        assert tile.media_type == "video/webm"

    # A bundle carries the tracks, not their copies, even one a dead worker left half-written.
    RecordingBlob.create(
        recording=recording,
        object_id="ab" * 16,
        participant_identity="candidate",
        kind="rendition",
        status="writing",
    )
    out = runtime.config.data_dir / "bundle.tar"
    bundle.export(runtime, "t", recording.id, generate_identity().recipient, out)
    assert bundle.verify(out).blobs == len(sources)


def test_a_failing_rendition_leaves_the_transcription_to_run(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    recording = live_recording(runtime, {"candidate": (live_media("vp8"), "c.webm", "video/webm")})
    transcription.queue_transcription(recording)

    def broken(*_: object) -> list[RecordingBlob]:
        raise OSError("disk full")

    monkeypatch.setattr(rendition, "make_renditions", broken)
    with caplog.at_level(logging.ERROR):
        assert TranscriptionRunner(runtime).run_one()
    assert "making seekable renditions of recording" in caplog.text
    job = transcription.job_for(recording.id)
    assert job is not None and job.status == "failed" and "disk full" not in job.error
    tiles = review.review(runtime, "reviewer", recording.interview).tiles
    assert [t.object_id for t in tiles] == [transcription.track_blobs(recording)[0].object_id]
