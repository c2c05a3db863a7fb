"""Decodes any audio or video file (or file object) PyAV reads into 16 kHz mono float32."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import av
import numpy as np

from appliance.asr_onnx.errors import AudioError
from appliance.asr_onnx.mel import SAMPLE_RATE

# A gap in the timestamps longer than this is filled with silence, so words keep their time.
GAP_SECONDS = 0.1


@dataclass
class Track:
    samples: np.ndarray
    # The time of the first sample on the file's own clock (a room recording's clock).
    start: float


def decode_audio(source: Path | IO[bytes] | io.RawIOBase) -> np.ndarray:
    return decode_track(source).samples


def decode_track(source: Path | IO[bytes] | io.RawIOBase, stream_index: int = 0) -> Track:
    """The `stream_index`-th audio stream, resampled, with timestamp gaps kept as silence."""
    start = 0.0
    parts: list[np.ndarray] = []
    for first, samples in track_pieces(source, stream_index):
        start = first
        parts.append(samples)
    samples = (
        np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
    )
    return Track(samples, start)


def track_pieces(
    source: Path | IO[bytes] | io.RawIOBase, stream_index: int = 0
) -> Iterator[tuple[float, np.ndarray]]:
    """The `stream_index`-th audio stream decoded as it is read: each piece of 16 kHz mono
    samples (timestamp gaps as silence) with the time of the stream's first sample, so a
    stream still being written is transcribed as it grows."""
    name = str(source) if isinstance(source, Path) else "input"
    try:
        container: Any = av.open(str(source) if isinstance(source, Path) else source, "r")
    except FileNotFoundError:
        raise AudioError(f"{name}: no such file") from None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioError(f"{name} is not a readable audio or video file ({exc})") from None
    with container:
        streams = container.streams.audio
        if len(streams) <= stream_index:
            raise AudioError(f"{name} has no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        written = 0
        start: float | None = None
        try:
            for frame in container.decode(streams[stream_index]):
                if frame.time is not None:
                    start = frame.time if start is None else start
                    behind = int((frame.time - start) * SAMPLE_RATE) - written
                    if behind > GAP_SECONDS * SAMPLE_RATE:
                        yield max(0.0, start), np.zeros(behind, dtype=np.float32)
                        written += behind
                for out in resampler.resample(frame):
                    piece = out.to_ndarray().reshape(-1)
                    written += piece.size
                    yield max(0.0, start or 0.0), piece
        except (av.error.FFmpegError, ValueError) as exc:
            if not written:
                raise AudioError(f"{name}: the audio cannot be decoded ({exc})") from None
            # A truncated file: keep what decoded (a recording cut short by a crash).
        for out in resampler.resample(None):
            yield max(0.0, start or 0.0), out.to_ndarray().reshape(-1)
