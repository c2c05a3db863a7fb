"""The composite export: every participant's track of a recording composed into one file that
plays anywhere, sealed as a derived blob of the recording (kind `composite`).

- Video: a grid of tiles, one per participant, each with their name under it; a participant
  who has not joined yet, has left, or sends no video shows as their name on a dark tile.
- Audio: every participant's audio mixed into one track.
- Subtitles: the transcript, each turn as a cue "Speaker: words", as a WebVTT track.

VP8 and Opus in WebM, which Chromium and Firefox both play and PyAV's wheels encode, with the
WebVTT track muxed in beside them. The tracks are decrypted a window at a time and the result
sealed as it is made, so nothing decrypted reaches the disk. The muxer cannot seek back into a
sealed blob, so the file is then made seekable (recordings/seekable.py) into the final blob and
the first pass is deleted.
"""

from __future__ import annotations

import fractions
import io
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from appliance.asr_onnx.transcript import Transcript
from appliance.core.errors import ApplianceError
from appliance.db.models import Recording, RecordingBlob
from appliance.recordings.seekable import render, scan
from appliance.recordings.store import BlobSpec, delete_blobs, open_file, seal_blob
from appliance.recordings.transcription import (
    TRANSCRIPT_KIND,
    load_transcript,
    speaker_names,
    track_blobs,
)
from appliance.runtime import Runtime

logger = logging.getLogger(__name__)

ACTOR = "worker"
KIND = "composite"
FIRST_PASS_KIND = "composite-pass"  # the file before it is made seekable; deleted after
MEDIA_TYPE = "video/webm"
FPS = 30
TILE = (640, 480)
LABEL_HEIGHT = 32
RATE = 48000
SAMPLES_PER_FRAME = RATE // FPS
HOLD_SECONDS = 1.0  # a track's last frame stays this long before the tile shows it has ended
VIDEO_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
VIDEO_BITRATE = 1_200_000  # per 640x480 tile
PROGRESS_SECONDS = 2.0
MS = fractions.Fraction(1, 1000)
Progress = Callable[[float], None]


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def cues(transcript: Transcript) -> list[Cue]:
    """The subtitles: each transcript segment as "Speaker: words", in time order."""
    made = [
        Cue(s.start, max(s.end, s.start + 0.5), f"{s.speaker}: {s.text.strip()}".strip(": "))
        for s in transcript.segments
        if s.text.strip()
    ]
    return sorted(made, key=lambda c: c.start)


def grid(count: int) -> tuple[int, int]:
    """(columns, rows) for `count` tiles: as square as it gets, wider than tall."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return columns, max(1, math.ceil(count / columns))


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def _planes(frame: av.VideoFrame) -> Planes:
    """The Y, U and V planes of a yuv420p frame, without the rows' padding."""
    out = []
    for index, plane in enumerate(frame.planes):
        width = frame.width if index == 0 else frame.width // 2
        height = frame.height if index == 0 else frame.height // 2
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        out.append(rows[:height, :width])
    return out[0], out[1], out[2]


def _rgb_planes(image: np.ndarray) -> Planes:
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    y, u, v = _planes(frame)
    return y.copy(), u.copy(), v.copy()


def _label(name: str, width: int) -> Planes:
    """The name bar under a tile: white text on near-black."""
    image = Image.new("RGB", (width, LABEL_HEIGHT), (24, 27, 33))
    font = ImageFont.load_default(size=LABEL_HEIGHT * 5 // 8)
    ImageDraw.Draw(image).text((10, LABEL_HEIGHT // 6), name[:60], font=font, fill="white")
    return _rgb_planes(np.asarray(image))


def _blank(width: int, height: int, name: str) -> Planes:
    """The tile of someone not on camera: their name in the middle of a dark tile."""
    image = Image.new("RGB", (width, height), (45, 50, 60))
    font = ImageFont.load_default(size=height // 12)
    draw = ImageDraw.Draw(image)
    box = draw.textbbox((0, 0), name[:40], font=font)
    at = ((width - (box[2] - box[0])) // 2, (height - (box[3] - box[1])) // 2)
    draw.text(at, name[:40], font=font, fill=(220, 224, 230))
    return _rgb_planes(np.asarray(image))


class Source:
    """One participant's track, decoded as the composite needs it: the video frame showing at
    a time, and the audio for a span of samples on the room's clock."""

    def __init__(self, name: str, file: Any, picture: tuple[int, int]) -> None:
        self.name = name
        self.container = av.open(file, mode="r")
        self.video = self.container.streams.video[0] if self.container.streams.video else None
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        wanted = [s for s in (self.video, self.audio) if s is not None]
        if not wanted:
            raise ApplianceError(f"the track of {name} holds neither audio nor video")
        for stream in wanted:
            stream.thread_type = "AUTO"
        self.frames = self._decode(wanted)
        self.picture = picture
        self.pending: deque[av.VideoFrame] = deque()
        self.shown: Planes | None = None
        self.shown_time = -1.0
        self.chunks: deque[tuple[int, np.ndarray]] = deque()
        self.audio_end = 0  # sample index where the audio decoded so far ends
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self.last_time = 0.0
        self.done = False

    def _decode(self, streams: list[Any]) -> Iterator[Any]:
        for packet in self.container.demux(streams):
            try:
                yield from packet.decode()
            except av.error.InvalidDataError:  # one damaged packet; the rest still plays
                continue

    def _pull(self) -> None:
        try:
            frame = next(self.frames)
        except StopIteration:
            self.done = True
            return
        if frame.time is None:
            return
        if isinstance(frame, av.VideoFrame):
            self.pending.append(frame)
            self.last_time = max(self.last_time, float(frame.time))
            return
        start = round(float(frame.time) * RATE)
        for out in self.resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1).astype(np.float32)
            self.chunks.append((start, samples))
            start += len(samples)
            self.audio_end = max(self.audio_end, start)
        self.last_time = max(self.last_time, self.audio_end / RATE)

    def picture_at(self, t: float) -> Planes | None:
        """The frame on show at `t` (scaled into the tile), or None when there is none."""
        if self.video is None:
            return None
        while not self.done and not (self.pending and self.pending[-1].time > t):
            self._pull()
        newest = None
        while self.pending and self.pending[0].time <= t:
            newest = self.pending.popleft()
        if newest is not None:
            width, height = self.picture
            scaled = newest.reformat(width=width, height=height, format="yuv420p")
            self.shown, self.shown_time = _planes(scaled), float(newest.time)
        if self.shown is None or (self.finished and t - self.shown_time > HOLD_SECONDS):
            return None  # not on camera yet, or gone
        return self.shown

    def samples(self, start: int, count: int) -> np.ndarray | None:
        """Its audio from sample `start` for `count` samples; None when it has none there."""
        if self.audio is None:
            return None
        while not self.done and self.audio_end < start + count:
            self._pull()
        while self.chunks and self.chunks[0][0] + len(self.chunks[0][1]) <= start:
            self.chunks.popleft()
        out = None
        for begin, data in self.chunks:
            if begin >= start + count:
                break
            lo, hi = max(begin, start), min(begin + len(data), start + count)
            if lo < hi:
                if out is None:
                    out = np.zeros(count, np.float32)
                out[lo - start : hi - start] += data[lo - begin : hi - begin]
        return out

    @property
    def finished(self) -> bool:
        return self.done and not self.pending

    def close(self) -> None:
        self.container.close()


class Sink(io.RawIOBase):
    """Where the muxer writes: collected until the caller takes it, never seeked."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def compose(
    sources: list[Source],
    subtitles: list[Cue],
    expected_seconds: float,
    progress: Progress | None = None,
) -> Iterator[bytes]:
    """The composite WebM, a piece at a time, from the participants' decoded tracks. A
    participant with more than one track (they published again) has one tile, showing
    whichever of their tracks has a picture, newest first."""
    names = list(dict.fromkeys(s.name for s in sources))
    tiles = [[s for s in reversed(sources) if s.name == name] for name in names]
    columns, rows = grid(len(tiles))
    tile_w, tile_h = TILE
    picture = (tile_w, tile_h - LABEL_HEIGHT)
    width, height = columns * tile_w, rows * tile_h
    labels = [_label(name, tile_w) for name in names]
    blanks = [_blank(tile_w, tile_h - LABEL_HEIGHT, name) for name in names]
    for source in sources:
        source.picture = picture
    sink = Sink()
    out = av.open(sink, mode="w", format="webm")
    video = out.add_stream("libvpx", rate=FPS, options=dict(VIDEO_OPTIONS))
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.bit_rate = VIDEO_BITRATE * len(tiles)
    video.gop_size = FPS * 2
    video.thread_count = 2
    audio = out.add_stream("libopus", rate=RATE, layout="mono")
    audio.bit_rate = 48000
    text = out.add_mux_stream("webvtt")
    text.time_base = MS
    y = np.full((height, width), 16, np.uint8)
    u = np.full((height // 2, width // 2), 128, np.uint8)
    v = np.full((height // 2, width // 2), 128, np.uint8)
    waiting = deque(subtitles)
    last_report = time.monotonic()
    index = 0
    try:
        while not all(s.finished for s in sources) or index / FPS <= max(
            (s.last_time for s in sources), default=0.0
        ):
            t = index / FPS
            while waiting and waiting[0].start <= t:
                _mux_cue(out, text, waiting.popleft())
            for n, tracks in enumerate(tiles):
                pictures = [source.picture_at(t) for source in tracks]
                shown = next((p for p in pictures if p is not None), blanks[n])
                top, left = (n // columns) * tile_h, (n % columns) * tile_w
                _paste(y, u, v, shown, top, left)
                _paste(y, u, v, labels[n], top + tile_h - LABEL_HEIGHT, left)
            frame = av.VideoFrame.from_ndarray(
                np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(
                    height * 3 // 2, width
                ),
                format="yuv420p",
            )
            frame.pts = index
            for packet in video.encode(frame):
                out.mux(packet)
            mixed = np.zeros(SAMPLES_PER_FRAME, np.float32)
            for source in sources:
                part = source.samples(index * SAMPLES_PER_FRAME, SAMPLES_PER_FRAME)
                if part is not None:
                    mixed += part
            sound = av.AudioFrame.from_ndarray(
                np.clip(mixed, -1.0, 1.0)[None, :], format="flt", layout="mono"
            )
            sound.sample_rate, sound.pts = RATE, index * SAMPLES_PER_FRAME
            sound.time_base = fractions.Fraction(1, RATE)
            for packet in audio.encode(sound):
                out.mux(packet)
            index += 1
            if progress is not None and time.monotonic() - last_report >= PROGRESS_SECONDS:
                last_report = time.monotonic()
                progress(min(0.99, t / expected_seconds) if expected_seconds > 0 else 0.0)
            piece = sink.take()
            if piece:
                yield piece
        while waiting:
            _mux_cue(out, text, waiting.popleft())
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    finally:
        out.close()
    tail = sink.take()
    if tail:
        yield tail


def _paste(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, planes: Planes, top: int, left: int
) -> None:
    py, pu, pv = planes
    y[top : top + py.shape[0], left : left + py.shape[1]] = py
    half_top, half_left = top // 2, left // 2
    u[half_top : half_top + pu.shape[0], half_left : half_left + pu.shape[1]] = pu
    v[half_top : half_top + pv.shape[0], half_left : half_left + pv.shape[1]] = pv


def _mux_cue(out: Any, stream: Any, cue: Cue) -> None:
    packet = av.Packet(cue.text.encode("utf-8"))
    packet.stream = stream
    packet.time_base = MS
    packet.pts = packet.dts = round(cue.start * 1000)
    packet.duration = max(1, round((cue.end - cue.start) * 1000))
    out.mux(packet)


# --- the job's steps, over the recording store ------------------------------------------------


def composite_of(recording: Recording) -> RecordingBlob | None:
    """The recording's finished composite, if one was made."""
    found: RecordingBlob | None = (
        RecordingBlob.select()
        .where(
            (RecordingBlob.recording == recording)
            & (RecordingBlob.kind == KIND)
            & (RecordingBlob.status == "complete")
        )
        .order_by(RecordingBlob.id.desc())
        .first()
    )
    return found


def _transcript_cues(runtime: Runtime, recording: Recording) -> list[Cue]:
    made = (
        RecordingBlob.select()
        .where((RecordingBlob.recording == recording) & (RecordingBlob.kind == TRANSCRIPT_KIND))
        .exists()
    )
    return cues(load_transcript(runtime, ACTOR, recording.id)) if made else []


def discard_unfinished(runtime: Runtime, recording: Recording | None = None) -> int:
    """Delete composite blobs a stopped job left half made (and first passes): none of them is
    ever offered. Returns how many went."""
    query = RecordingBlob.select().where(
        (RecordingBlob.kind == FIRST_PASS_KIND)
        | ((RecordingBlob.kind == KIND) & (RecordingBlob.status != "complete"))
    )
    if recording is not None:
        query = query.where(RecordingBlob.recording == recording)
    return delete_blobs(runtime, query)


def make_composite(
    runtime: Runtime, recording: Recording, progress: Progress | None = None
) -> RecordingBlob:
    """Compose, seal and make seekable the recording's composite; any earlier one is replaced
    once the new one is whole."""
    if recording.status == "erased" or recording.key_id is None:
        raise ApplianceError(f"recording {recording.id} was erased")
    if recording.status != "complete":
        raise ApplianceError("the recording is not finished; compose it once the interview ended")
    blobs = track_blobs(recording)
    if not blobs:
        raise ApplianceError(f"recording {recording.id} has no tracks to compose")
    names = speaker_names(recording, [b.participant_identity for b in blobs])
    subtitles = _transcript_cues(runtime, recording)
    expected = 0.0
    if recording.ended_at is not None:
        expected = (recording.ended_at - recording.started_at).total_seconds()
    discard_unfinished(runtime, recording)
    files = [open_file(runtime, ACTOR, blob, "composite") for blob in blobs]
    sources: list[Source] = []
    try:
        for blob, file in zip(blobs, files, strict=True):
            sources.append(Source(names[blob.participant_identity], file, TILE))
        first = seal_blob(
            runtime,
            ACTOR,
            recording,
            BlobSpec("", FIRST_PASS_KIND, "composite-pass.webm", MEDIA_TYPE),
            compose(sources, subtitles, expected, progress),
            durable=False,
        )
    finally:
        for source in sources:
            source.close()
        for file in files:
            file.close()
    try:
        with open_file(runtime, ACTOR, first, "composite") as file:
            layout = scan(file)
            final = seal_blob(
                runtime,
                ACTOR,
                recording,
                BlobSpec("", KIND, f"interview-{recording.interview_id}.webm", MEDIA_TYPE),
                render(file, layout),
            )
    finally:
        delete_blobs(runtime, [first])
    delete_blobs(
        runtime,
        RecordingBlob.select().where(
            (RecordingBlob.recording == recording)
            & (RecordingBlob.kind == KIND)
            & (RecordingBlob.id != final.id)
        ),
    )
    if progress is not None:
        progress(1.0)
    return final
