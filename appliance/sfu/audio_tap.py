"""The caption tap: one participant's audio, decoded to 16 kHz mono for speech recognition.

Only audio is decoded, on a thread of its own fed by a bounded queue: when recognition falls
behind, packets are dropped and counted, and forwarding never waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import av

from appliance.sfu.feed import BoundedFeed
from appliance.sfu.forwarder import AUDIO_CLOCK, EncodedFrame, TrackForwarder

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
QUEUE_PACKETS = 500  # 10 s of 20 ms Opus packets
# Packets dropped because recognition was behind, over the process's life (for /healthz).
CAPTION_DROPS = {"caption_packets_dropped": 0}


class CaptionSink(Protocol):
    def audio(self, identity: str, pcm: bytes, at_seconds: float) -> None:
        """16-bit little-endian mono PCM at 16 kHz, starting `at_seconds` on the track's clock."""
        ...

    def ended(self, identity: str) -> None: ...


class CaptionService(Protocol):
    """Speech recognition for the SFU: one sink per room, publishing the room's captions."""

    def for_room(self, room: str, publish: Callable[[dict[str, Any]], None]) -> CaptionSink:
        """`publish` may be called from any thread; it delivers one event to the room."""
        ...


class AudioTap:
    def __init__(self, identity: str, sink: CaptionSink) -> None:
        self.identity = identity
        self.sink = sink
        self.dropped = 0
        self.decode_errors = 0
        self._feed: BoundedFeed[EncodedFrame] = BoundedFeed(QUEUE_PACKETS)
        self._first: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"captions-{identity}", daemon=True)
        self._thread.start()

    def attach(self, forwarders: list[TrackForwarder]) -> None:
        for forwarder in forwarders:
            if forwarder.kind == "audio":
                forwarder.taps.append(self.offer)

    def offer(self, frame: EncodedFrame) -> None:
        if not self._feed.offer(frame):
            self.dropped += 1
            CAPTION_DROPS["caption_packets_dropped"] += 1
            if self.dropped % 250 == 1:
                logger.warning(
                    "captions for %s are behind: %d packets dropped", self.identity, self.dropped
                )

    def close(self, timeout: float = 5.0) -> None:
        if not self._feed.finish(self._thread, timeout):
            logger.error("caption tap for %s did not stop in %.0f s", self.identity, timeout)

    def _run(self) -> None:
        decoder = av.CodecContext.create("opus", "r")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in self._feed:
                if self._first is None:
                    self._first = frame.timestamp
                at = (frame.timestamp - self._first) / AUDIO_CLOCK
                try:
                    decoded = decoder.decode(av.Packet(frame.data))
                except av.FFmpegError:
                    self.decode_errors += 1
                    continue
                for audio in decoded:
                    for resampled in resampler.resample(audio):
                        self.sink.audio(
                            self.identity, bytes(resampled.planes[0])[: resampled.samples * 2], at
                        )
        except Exception:  # a failing recognizer must not take the SFU down
            logger.exception("caption tap for %s stopped", self.identity)
        finally:
            self.sink.ended(self.identity)
