"""Media muxed the way the SFU records it (appliance/sfu/recorder.py): encoded packets muxed
with add_mux_stream, a millisecond time base and pts = dts, into a sink that cannot seek, so
the file has no size, no Duration and no Cues."""

from __future__ import annotations

import fractions
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

MS = fractions.Fraction(1, 1000)
FPS = 30
GOP = 30  # a keyframe every second, as a publisher asked for one would send


class StreamSink:
    """Where the SFU's muxer writes: write and flush, no seek (a SealWriter)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


@dataclass(frozen=True)
class Encoded:
    kind: str  # "video" or "audio"
    pts_ms: int
    data: bytes
    keyframe: bool


def video_packets(
    codec: str, seconds: float, size: tuple[int, int] = (160, 120), fps: int = FPS
) -> list[Encoded]:
    """`seconds` of a moving picture, encoded as a WebRTC publisher would (VP8 in real time,
    or H.264 without B-frames), a keyframe every GOP frames."""
    width, height = size
    context: Any = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, fps)
    context.framerate = fps
    context.gop_size = GOP
    if codec == "libvpx":
        context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:  # as a WebRTC publisher encodes H.264: no B-frames, SPS and PPS with each keyframe
        context.options = {"preset": "ultrafast", "tune": "zerolatency", "bframes": "0"}
    packets: list[Encoded] = []

    def add(packet: Any) -> None:
        packets.append(
            Encoded("video", packet.pts * 1000 // fps, bytes(packet), packet.is_keyframe)
        )

    for index in range(int(seconds * fps)):
        image = np.full((height, width, 3), (index * 5) % 256, np.uint8)
        image[:, (index * 3) % width] = 255  # a moving line: every frame differs
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in [*context.encode(frame)]:
            packets.append(
                Encoded("video", packet.pts * 1000 // fps, bytes(packet), packet.is_keyframe)
            )
    for packet in context.encode(None):
        packets.append(
            Encoded("video", packet.pts * 1000 // fps, bytes(packet), packet.is_keyframe)
        )
    return packets


def audio_packets(seconds: float) -> list[Encoded]:
    """`seconds` of a 440 Hz tone as 20 ms Opus packets."""
    rate, size = 48000, 960
    context: Any = av.CodecContext.create("libopus", "w")
    context.sample_rate, context.layout, context.format = rate, "mono", "s16"
    tone = (np.sin(np.arange(int(seconds * rate)) * 2 * math.pi * 440 / rate) * 8000).astype(
        np.int16
    )
    packets = []
    for start in range(0, len(tone) - size + 1, size):
        frame = av.AudioFrame.from_ndarray(tone[None, start : start + size], "s16", "mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, fractions.Fraction(1, rate)
        for packet in context.encode(frame):
            packets.append(Encoded("audio", start * 1000 // rate, bytes(packet), True))
    return packets


def mux_live(
    container: str,
    video: str | None,
    packets: Iterable[Encoded],
    size: tuple[int, int] = (160, 120),
    sink: Any = None,
) -> bytes:
    """The packets (in time order, or sorted here when a list) muxed the SFU's way; the file's
    bytes, or b"" when written to `sink`."""
    into = StreamSink() if sink is None else sink
    out: Any = av.open(into, "w", format=container)
    streams = {}
    if video is not None:
        streams["video"] = out.add_mux_stream(video, rate=FPS, width=size[0], height=size[1])
    streams["audio"] = out.add_mux_stream("opus", rate=48000)
    for stream in streams.values():
        stream.time_base = MS
    if isinstance(packets, list):
        packets = sorted(packets, key=lambda p: (p.pts_ms, p.kind != "video"))
    for item in packets:
        packet = av.Packet(item.data)
        packet.stream = streams[item.kind]
        packet.pts = packet.dts = item.pts_ms
        packet.time_base = MS
        packet.is_keyframe = item.keyframe
        out.mux(packet)
    out.close()
    return b"".join(into.parts) if sink is None else b""


def speech_packets(samples: np.ndarray, offset_seconds: float) -> list[Encoded]:
    """16 kHz speech as the 20 ms Opus packets a browser publishes, timed from
    `offset_seconds` on the room's clock."""
    rate, size = 48000, 960
    upsampled = np.interp(
        np.arange(len(samples) * 3) / rate, np.arange(len(samples)) / 16000, samples
    )
    pcm = (np.clip(upsampled, -1, 1) * 32767).astype(np.int16)
    context: Any = av.CodecContext.create("libopus", "w")
    context.sample_rate, context.layout, context.format = rate, "mono", "s16"
    packets = []
    for start in range(0, len(pcm) - size + 1, size):
        frame = av.AudioFrame.from_ndarray(pcm[None, start : start + size], "s16", "mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, fractions.Fraction(1, rate)
        for packet in context.encode(frame):
            at = int(offset_seconds * 1000) + start * 1000 // rate
            packets.append(Encoded("audio", at, bytes(packet), True))
    return packets


def tone(hz: float, seconds: float) -> np.ndarray:
    """A steady tone at 16 kHz, as speech_packets takes it."""
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def participant_track(
    offset: float, seconds: float, hz: float, size: tuple[int, int] = (320, 240)
) -> bytes:
    """A participant's track as the SFU records it: VP8 and Opus from `offset` on the room's
    clock, the picture moving, the audio a steady tone."""
    moved = [
        Encoded(p.kind, p.pts_ms + int(offset * 1000), p.data, p.keyframe)
        for p in video_packets("libvpx", seconds, size)
    ]
    return mux_live("webm", "vp8", moved + speech_packets(tone(hz, seconds), offset), size)
