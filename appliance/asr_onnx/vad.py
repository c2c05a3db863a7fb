"""Voice activity detection with Silero VAD's ONNX model (from the `silero-vad` wheel's data).

The model takes 512-sample frames at 16 kHz, each with the previous frame's last 64 samples
as context, and carries a recurrent state between frames.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from appliance.asr_onnx.errors import ModelError
from appliance.asr_onnx.mel import SAMPLE_RATE

FRAME = 512
CONTEXT = 64


@dataclass
class VadOptions:
    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 2000
    speech_pad_ms: int = 400


class VadStream:
    """Speech probability per 32 ms frame, fed incrementally (one stream per speaker)."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros((1, CONTEXT), dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)
        self.sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        self.pending = np.concatenate([self.pending, samples.astype(np.float32)])
        whole = len(self.pending) // FRAME
        probs = np.empty(whole, dtype=np.float32)
        for i in range(whole):
            frame = self.pending[i * FRAME : (i + 1) * FRAME][None]
            x = np.concatenate([self.context, frame], axis=1)
            out, self.state = self.session.run(
                None, {"input": x, "state": self.state, "sr": self.sr}
            )
            self.context = x[:, -CONTEXT:]
            probs[i] = float(out.reshape(-1)[0])
        self.pending = self.pending[whole * FRAME :]
        return probs


class SileroVad:
    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelError(f"cannot load the voice activity model {path}: {exc}") from None

    def stream(self) -> VadStream:
        return VadStream(self.session)

    def speech_chunks(
        self, audio: np.ndarray, options: VadOptions | None = None
    ) -> list[tuple[int, int]]:
        """(start, end) sample ranges that hold speech, padded, never overlapping."""
        opts = options or VadOptions()
        stream = self.stream()
        probs = stream.feed(np.concatenate([audio, np.zeros(-len(audio) % FRAME, np.float32)]))
        return chunks_from_probabilities(probs, len(audio), opts)


def chunks_from_probabilities(
    probs: np.ndarray, total: int, opts: VadOptions
) -> list[tuple[int, int]]:
    per_ms = SAMPLE_RATE // 1000
    min_speech, min_silence = opts.min_speech_ms * per_ms, opts.min_silence_ms * per_ms
    pad = opts.speech_pad_ms * per_ms
    off = opts.threshold - 0.15
    speeches: list[list[int]] = []
    start: int | None = None
    silence_from = 0
    for i, p in enumerate(probs):
        at = i * FRAME
        if p >= opts.threshold:
            silence_from = 0
            if start is None:
                start = at
        elif p < off and start is not None:
            silence_from = silence_from or at
            if at - silence_from >= min_silence:
                if silence_from - start > min_speech:
                    speeches.append([start, silence_from])
                start, silence_from = None, 0
    if start is not None and total - start > min_speech:
        speeches.append([start, total])
    for i, speech in enumerate(speeches):
        speech[0] = max(0, speech[0] - pad) if i == 0 else speech[0]
        if i + 1 < len(speeches):
            gap = speeches[i + 1][0] - speech[1]
            if gap < 2 * pad:
                speech[1] += gap // 2
                speeches[i + 1][0] -= gap // 2
            else:
                speech[1] += pad
                speeches[i + 1][0] -= pad
        else:
            speech[1] = min(total, speech[1] + pad)
    return [(s, e) for s, e in speeches]


class ChunkClock:
    """Maps times in the audio made of the speech chunks back to the original's clock."""

    def __init__(self, chunks: list[tuple[int, int]]) -> None:
        self.starts: list[float] = []
        self.offsets: list[float] = []
        kept = 0
        for start, end in chunks:
            self.starts.append(kept / SAMPLE_RATE)
            self.offsets.append((start - kept) / SAMPLE_RATE)
            kept += end - start

    def original(self, seconds: float) -> float:
        if not self.starts:
            return seconds
        index = max(0, bisect.bisect_right(self.starts, seconds) - 1)
        return seconds + self.offsets[index]
