"""Forwarding encoded media: reassemble a publisher's frames from RTP, fan them out unchanged.

Nothing here decodes or re-encodes. Video frames are released the moment the packet carrying
the marker bit completes them in sequence; audio packets are released as they arrive. After a
gap that is not repaired within `gap_timeout`, video waits for the next keyframe. A subscriber
sees no video until a keyframe, and a slow subscriber loses frames rather than slowing anyone.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from appliance.sfu.codecs import VideoCodec

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
MAX_PENDING_PACKETS = 2048
SUBSCRIBER_QUEUE = 120
KEYFRAME_REQUEST_INTERVAL = 0.3


# Video frames since this process started: received from publishers, handed to subscribers'
# senders, and dropped for subscribers too slow to take them (for monitoring; never reset).
VIDEO_FRAMES = {"video_frames_in": 0, "video_frames_out": 0, "video_frames_dropped": 0}


@dataclass(frozen=True)
class EncodedFrame:
    data: bytes
    timestamp: int  # the publisher's RTP timestamp, unwrapped past 32 bits
    keyframe: bool
    received_at: float  # time.monotonic() when the frame completed


@dataclass(frozen=True)
class RtpPiece:
    """What the assembler needs of one RTP packet, codec descriptor already removed."""

    sequence: int
    timestamp: int
    marker: bool
    frame_start: bool  # first packet of a frame, as the codec's payload descriptor says
    data: bytes


def seq_newer(a: int, b: int) -> bool:
    """Whether 16-bit sequence number `a` comes after `b`."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


class TimestampUnwrapper:
    def __init__(self) -> None:
        self._last: int | None = None
        self._offset = 0

    def unwrap(self, timestamp: int) -> int:
        if self._last is not None:
            if timestamp < self._last and self._last - timestamp > 0x80000000:
                self._offset += 1 << 32
            elif timestamp > self._last and timestamp - self._last > 0x80000000:
                return timestamp + self._offset - (1 << 32)  # a late packet from before a wrap
        self._last = timestamp
        return timestamp + self._offset


class VideoFrameAssembler:
    """Turns a codec's RTP pieces into complete frames, strictly in order, from a keyframe."""

    def __init__(self, codec: VideoCodec, gap_timeout: float = 0.25) -> None:
        self.codec = codec
        self.gap_timeout = gap_timeout
        self._pending: dict[int, RtpPiece] = {}
        self._next: int | None = None  # sequence number of the next frame's first packet
        self._need_keyframe = True  # frames before the first keyframe (or after a resync) go
        self._stalled_since: float | None = None
        self._unwrapper = TimestampUnwrapper()
        self.resyncs = 0

    def push(self, piece: RtpPiece, now: float) -> tuple[list[EncodedFrame], bool]:
        """Add a piece; returns the frames it completes and whether a keyframe is needed."""
        if self._next is None:
            if not piece.frame_start:
                return [], True
            self._next = piece.sequence
            self._pending.clear()
        elif piece.sequence != self._next and not seq_newer(piece.sequence, self._next):
            return [], False  # late duplicate or retransmission of a frame already released
        self._pending[piece.sequence] = piece
        frames = self._drain(now)
        progressed = bool(frames)
        need_keyframe = False
        if self._need_keyframe and frames:
            while frames and not frames[0].keyframe:
                frames.pop(0)  # complete, in order, but undecodable without a keyframe before
            self._need_keyframe = need_keyframe = not frames
        if self._pending and not progressed:
            if self._stalled_since is None:
                self._stalled_since = now
            elif now - self._stalled_since > self.gap_timeout or (
                len(self._pending) > MAX_PENDING_PACKETS
            ):
                self._resync()
                return [], True
        elif progressed:
            self._stalled_since = now if self._pending else None
        return frames, need_keyframe

    def _drain(self, now: float) -> list[EncodedFrame]:
        frames = []
        while self._next is not None:
            first = self._pending.get(self._next)
            if first is None:
                break
            parts = []
            seq = self._next
            complete = False
            while (piece := self._pending.get(seq)) is not None:
                if piece.timestamp != first.timestamp:
                    break  # the frame's marker packet was lost: wait for a repair or resync
                parts.append(piece)
                if piece.marker:
                    complete = True
                    break
                seq = (seq + 1) & 0xFFFF
            if not complete:
                break
            for part in parts:
                del self._pending[part.sequence]
            data = b"".join(p.data for p in parts)
            frames.append(
                EncodedFrame(
                    data=data,
                    timestamp=self._unwrapper.unwrap(first.timestamp),
                    keyframe=self.codec.is_keyframe(data),
                    received_at=now,
                )
            )
            self._next = (seq + 1) & 0xFFFF
        return frames

    def _resync(self) -> None:
        self.resyncs += 1
        self._pending.clear()
        self._next = None
        self._stalled_since = None
        self._need_keyframe = True


class AudioPacketSequencer:
    """Releases each audio packet at once, dropping ones older than the last released."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._unwrapper = TimestampUnwrapper()

    def push(self, piece: RtpPiece, now: float) -> list[EncodedFrame]:
        if self._last is not None and not seq_newer(piece.sequence, self._last):
            return []
        self._last = piece.sequence
        return [EncodedFrame(piece.data, self._unwrapper.unwrap(piece.timestamp), True, now)]


class ForwardedTrack(MediaStreamTrack):
    """A subscriber's copy of a published track: hands aiortc's sender encoded packets."""

    def __init__(self, source: TrackForwarder) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self._queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._time_base = fractions.Fraction(
            1, VIDEO_CLOCK if source.kind == "video" else AUDIO_CLOCK
        )
        self.waiting_for_keyframe = source.kind == "video"
        self.dropped = 0
        self.delivered = 0

    def offer(self, frame: EncodedFrame) -> None:
        if self.readyState != "live":
            return
        if self.waiting_for_keyframe:
            if not frame.keyframe:
                return
            self.waiting_for_keyframe = False
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.kind == "video":
                VIDEO_FRAMES["video_frames_dropped"] += 1
                # Frames after a dropped one would not decode: wait for a fresh keyframe.
                self.waiting_for_keyframe = True
                self.source.request_keyframe()
            if self.dropped % 100 == 1:
                logger.warning(
                    "a subscriber of %s is too slow: %d frames dropped",
                    self.source.name,
                    self.dropped,
                )

    def finish(self) -> None:
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.dts = frame.timestamp
        packet.time_base = self._time_base
        self.delivered += 1
        if self.kind == "video":
            VIDEO_FRAMES["video_frames_out"] += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self.source.remove(self)


class TrackForwarder:
    """One published track: its frames go to every subscriber's ForwardedTrack and to taps."""

    def __init__(
        self,
        kind: str,
        name: str,
        request_keyframe: Callable[[], None],
        codec: VideoCodec | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.codec = codec  # the video codec the publisher sends; None for audio
        self._request_keyframe = request_keyframe
        self._last_request = 0.0
        self._subscribers: set[ForwardedTrack] = set()
        self.taps: list[Callable[[EncodedFrame], None]] = []
        self.frames = 0

    def subscribe(self) -> ForwardedTrack:
        track = ForwardedTrack(self)
        self._subscribers.add(track)
        if self.kind == "video":
            self.request_keyframe()
        return track

    def remove(self, track: ForwardedTrack) -> None:
        self._subscribers.discard(track)

    def deliver(self, frame: EncodedFrame) -> None:
        self.frames += 1
        if self.kind == "video":
            VIDEO_FRAMES["video_frames_in"] += 1
        for track in list(self._subscribers):
            track.offer(frame)
        for tap in self.taps:
            tap(frame)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per KEYFRAME_REQUEST_INTERVAL."""
        now = time.monotonic()
        if now - self._last_request >= KEYFRAME_REQUEST_INTERVAL:
            self._last_request = now
            self._request_keyframe()

    def close(self) -> None:
        for track in list(self._subscribers):
            track.finish()
        self._subscribers.clear()
