"""Decodes any audio or video file (or file object) PyAV reads into 16 kHz mono float32."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import av
import numpy as np

from appliance.asr_onnx.errors import AudioError
from appliance.asr_onnx.mel import SAMPLE_RATE


def decode_audio(source: Path | IO[bytes], stream_index: int = 0) -> np.ndarray:
    """The `stream_index`-th audio stream, resampled; an error names what is wrong."""
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
        parts: list[np.ndarray] = []
        try:
            for frame in container.decode(streams[stream_index]):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
        except (av.error.FFmpegError, ValueError) as exc:
            if not parts:
                raise AudioError(f"{name}: the audio cannot be decoded ({exc})") from None
            # A truncated file: keep what decoded (a recording cut short by a crash).
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)
