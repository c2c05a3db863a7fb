"""The recording tap: each participant's forwarded packets, muxed unchanged into one file
(WebM for VP8, Matroska for H.264; Opus audio in either).

Off the forwarding path: taps only enqueue (a bounded queue; when the writer falls behind,
frames are dropped and counted, never waited for), and a thread per participant muxes with
PyAV (`add_mux_stream`, no codec context, nothing decoded) into a sink such as a SealWriter.
The file is written for a non-seekable stream, so whatever reached the sink before a crash is
a playable prefix.
"""

from __future__ import annotations

import fractions
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import av

from appliance.sfu.codecs import VP8, VideoCodec
from appliance.sfu.feed import BoundedFeed
from appliance.sfu.forwarder import AUDIO_CLOCK, VIDEO_CLOCK, EncodedFrame, TrackForwarder

logger = logging.getLogger(__name__)

MILLISECONDS = fractions.Fraction(1, 1000)
QUEUE_FRAMES = 900  # about 15 s of audio + video at 30 fps
# Frames dropped because the disk was behind, over the process's life (for /healthz).
RECORDING_DROPS = {"recording_frames_dropped": 0}
# A recording waiting for a keyframe asks the publisher at most this often, and only once its
# writer has room: keyframes go to every subscriber too, and cost them bandwidth.
RESYNC_REQUEST_SECONDS = 2.0
HEADER_WAIT_FRAMES = 300  # start without a kind that has not shown up by then


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class RoomSinks(Protocol):
    """Where one room's recording goes: one sink per participant, then the room's manifest."""

    def open(self, participant_identity: str, container: str) -> Sink:
        """A sink for one participant's recording in `container` (a key of CONTAINERS)."""
        ...

    def close(self, participant_identity: str, sink: Any) -> None: ...

    def abandon(self, participant_identity: str, sink: Any) -> None:
        """Stop a sink whose writing failed (a full disk) without sealing more: what it holds
        was written chunk by chunk, and the worker keeps its readable prefix."""
        ...

    def finish(self, manifest: dict[str, Any]) -> None: ...


class RecordingSinks(Protocol):
    def start(self, room: str, interview_id: int | None) -> RoomSinks | None:
        """Sinks for a room's recording, or None when this room cannot be recorded."""
        ...


@dataclass
class TrackRecord:
    kind: str
    first_timestamp: int | None = None
    offset_ms: int = 0  # when the track's first frame arrived, on the room recording's clock
    frames: int = 0
    last_pts_ms: int = 0
    dropped: int = 0
    # After a dropped video frame the ones that follow would not decode: skip to a keyframe.
    resync: bool = False
    asked_at: float = 0.0  # time.monotonic() of the last keyframe request while resyncing


@dataclass
class ParticipantRecorder:
    identity: str
    sink: Sink
    kinds: list[str]
    clock_origin: float  # time.monotonic() when the room's recording started
    video: VideoCodec = VP8
    tracks: dict[str, TrackRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._feed: BoundedFeed[tuple[str, EncodedFrame]] = BoundedFeed(QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name=f"record-{self.identity}")
        self._thread.daemon = True
        self.tracks = {kind: TrackRecord(kind) for kind in self.kinds}
        self.error: str | None = None
        self.sink_failed = False  # writing to the sink failed: it is abandoned, not sealed
        self._thread.start()

    def tap(
        self, kind: str, ask_keyframe: Callable[[], None] | None = None
    ) -> Callable[[EncodedFrame], None]:
        """What the forwarder calls with each frame of `kind` (on the event loop: never blocks).

        `ask_keyframe` asks the publisher for a keyframe, so a video track that lost a frame to
        a slow disk is recorded again soon after the disk has caught up.
        """
        record = self.tracks[kind]

        def drop() -> None:
            record.dropped += 1
            RECORDING_DROPS["recording_frames_dropped"] += 1
            if record.dropped % 100 == 1:
                logger.warning(
                    "recording of %s is behind: %d %s frames dropped",
                    self.identity,
                    record.dropped,
                    kind,
                )

        def offer(frame: EncodedFrame) -> None:
            if record.resync and not frame.keyframe:
                drop()
                now = time.monotonic()
                if (
                    ask_keyframe is not None
                    and self._feed.has_room()
                    and now - record.asked_at >= RESYNC_REQUEST_SECONDS
                ):
                    record.asked_at = now
                    ask_keyframe()
                return
            if self._feed.offer((kind, frame)):
                record.resync = False
                return
            drop()
            if kind == "video":
                record.resync = True

        return offer

    def attach(self, forwarders: list[TrackForwarder]) -> None:
        for forwarder in forwarders:
            if forwarder.kind in self.tracks:
                forwarder.taps.append(self.tap(forwarder.kind, forwarder.request_keyframe))

    def close(self, timeout: float = 10.0) -> bool:
        """Write what is queued and close the container; False if the writer is still busy."""
        finished = self._feed.finish(self._thread, timeout)
        if not finished:
            self.error = self.error or f"the writer did not finish within {timeout:.0f} s"
        return finished

    def manifest(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "tracks": [
                {
                    "kind": t.kind,
                    "codec": self.video.mux_name if t.kind == "video" else "opus",
                    "start_offset_ms": t.offset_ms,
                    "frames": t.frames,
                    "duration_ms": max(0, t.last_pts_ms - t.offset_ms),
                    "dropped": t.dropped,
                }
                for t in self.tracks.values()
                if t.first_timestamp is not None
            ],
            "error": self.error,
        }

    # --- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[tuple[str, EncodedFrame]] = []
        container: Any = None
        streams: dict[str, Any] = {}
        try:
            for item in self._feed:
                kind, frame = item
                record = self.tracks[kind]
                if record.first_timestamp is None:
                    if kind == "video" and not self._starts_video(frame):
                        continue  # wait for a keyframe: it carries the picture size
                    record.first_timestamp = frame.timestamp
                    record.offset_ms = int((frame.received_at - self.clock_origin) * 1000)
                if container is None:
                    pending.append(item)
                    ready = all(t.first_timestamp is not None for t in self.tracks.values())
                    if ready or len(pending) > HEADER_WAIT_FRAMES:
                        container, streams = self._open(pending)
                        for waiting in pending:
                            self._mux(container, streams, *waiting)
                        pending.clear()
                    continue
                self._mux(container, streams, kind, frame)
        except OSError as exc:  # the disk: said in one line, the call goes on unrecorded
            self.error = f"{type(exc).__name__}: {exc}"
            self.sink_failed = True
            logger.error("recording of %s stopped: %s", self.identity, exc)
        except Exception as exc:  # a broken sink must not take the SFU down
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("recording of %s failed", self.identity)
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception as exc:
                    self.error = self.error or f"{type(exc).__name__}: {exc}"
                    self.sink_failed = self.sink_failed or isinstance(exc, OSError)

    def _starts_video(self, frame: EncodedFrame) -> bool:
        return self.video.is_keyframe(frame.data) and self.video.dimensions(frame.data) is not None

    def _open(self, pending: list[tuple[str, EncodedFrame]]) -> tuple[Any, dict[str, Any]]:
        container = av.open(self.sink, "w", format=self.video.container)
        streams: dict[str, Any] = {}
        for kind in ("video", "audio"):
            record = self.tracks.get(kind)
            if record is None or record.first_timestamp is None:
                continue
            if kind == "video":
                first = next(f for k, f in pending if k == "video")
                width, height = self.video.dimensions(first.data) or (0, 0)
                stream = container.add_mux_stream(
                    self.video.mux_name, rate=30, width=width, height=height
                )
            else:
                stream = container.add_mux_stream("opus", rate=AUDIO_CLOCK)
            stream.time_base = MILLISECONDS
            streams[kind] = stream
        return container, streams

    def _mux(self, container: Any, streams: dict[str, Any], kind: str, frame: EncodedFrame) -> None:
        stream = streams.get(kind)
        record = self.tracks[kind]
        if stream is None or record.first_timestamp is None:
            return
        clock = VIDEO_CLOCK if kind == "video" else AUDIO_CLOCK
        pts = record.offset_ms + (frame.timestamp - record.first_timestamp) * 1000 // clock
        if pts < record.last_pts_ms:
            return  # a timestamp jump backwards (publisher restarted its clock): keep order
        packet = av.Packet(frame.data)
        packet.stream = stream
        packet.pts = packet.dts = pts
        packet.time_base = MILLISECONDS
        packet.is_keyframe = frame.keyframe
        container.mux(packet)
        record.frames += 1
        record.last_pts_ms = pts


class RoomRecording:
    """A room's recording: one recorder per publishing participant, one manifest at the end."""

    def __init__(self, room: str, sinks: RoomSinks) -> None:
        self.room = room
        self.sinks = sinks
        self.started_at = time.monotonic()
        self.started_wall = time.time()
        self.recorders: dict[str, ParticipantRecorder] = {}
        self.finished: list[dict[str, Any]] = []
        # add/remove/finish run on worker threads; a participant leaving while the room closes
        # must be in the manifest, so they take turns.
        self._lock = threading.Lock()

    def add(self, identity: str, forwarders: list[TrackForwarder]) -> None:
        with self._lock:
            self._remove(identity)
            self._add(identity, forwarders)

    def _add(self, identity: str, forwarders: list[TrackForwarder]) -> None:
        video = next((f.codec for f in forwarders if f.codec is not None), VP8)
        sink = self.sinks.open(identity, video.container)
        recorder = ParticipantRecorder(
            identity, sink, [f.kind for f in forwarders], self.started_at, video
        )
        recorder.attach(forwarders)
        self.recorders[identity] = recorder

    def remove(self, identity: str) -> None:
        with self._lock:
            self._remove(identity)

    def _remove(self, identity: str) -> None:
        recorder = self.recorders.pop(identity, None)
        if recorder is None:
            return
        if not recorder.close():
            # Closing the sink under a thread still writing would corrupt it; leave it open.
            logger.error("recording of %s: %s", identity, recorder.error)
        elif recorder.sink_failed:
            self.sinks.abandon(identity, recorder.sink)
        else:
            try:
                self.sinks.close(identity, recorder.sink)
            except OSError as exc:  # sealing its last part failed: keep what was sealed before
                recorder.error = f"{type(exc).__name__}: {exc}"
                logger.error("recording of %s: its last part was not saved: %s", identity, exc)
                self.sinks.abandon(identity, recorder.sink)
        self.finished.append(recorder.manifest())

    def finish(self) -> dict[str, Any]:
        with self._lock:
            for identity in list(self.recorders):
                self._remove(identity)
            finished = list(self.finished)
        manifest = {
            "room": self.room,
            "started_at": self.started_wall,
            "participants": finished,
        }
        self.sinks.finish(manifest)
        return manifest
