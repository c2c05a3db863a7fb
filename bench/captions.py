"""Live caption latency: end of a spoken phrase → its final caption, on a scripted conversation.

Run: .venv/bin/python bench/captions.py [--model whisper-base-int8] [--turns 8] [--threads 2]

Two speakers (espeak-ng voices) take turns, streamed at the speed of speech in 100 ms chunks
into one CaptionEngine, each on their own stream, as the SFU feeds it. For every phrase the
latency is the time from its last sample to the final caption that covers its last word.
Prints p50/p95, the caption WER against the script, and the engine's dropped audio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.asr_onnx.models import vad_path
from appliance.asr_onnx.service import open_transcriber
from appliance.asr_onnx.streaming import Caption, CaptionEngine, StreamOptions
from appliance.asr_onnx.vad import SileroVad
from appliance.core.config import AsrConfig
from bench.asr import SCRIPT, normalize
from tests.support.speech import models_dir, silence, speak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="whisper-base-int8")
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import jiwer

    from appliance.asr_onnx.audio import decode_audio
    from tests.support.speech import int8_models_dir

    models = models_dir()
    int8_models_dir()
    settings = AsrConfig(device="cpu", threads=args.threads, vad=False)
    engine = CaptionEngine(
        open_transcriber(models, settings, args.model),
        SileroVad(vad_path(models)),
        StreamOptions(language="en"),
    )
    lock = threading.Lock()
    finals: list[tuple[float, Caption]] = []

    def emit(caption: Caption) -> None:
        if caption.final:
            with lock:
                finals.append((time.monotonic(), caption))

    speakers = ["interviewer", "candidate"]
    streams = {s: engine.open(s, s, emit) for s in speakers}
    phrases = []
    with tempfile.TemporaryDirectory() as scratch:
        for i, (voice, text) in enumerate(SCRIPT[: args.turns]):
            audio = decode_audio(speak(text, Path(scratch) / f"{i}.wav", voice, 165))
            phrases.append((speakers[i % 2], audio, text))
    started, pushed = time.monotonic(), 0.0
    ends: list[tuple[str, float, float]] = []  # speaker, wall time, stream time
    for speaker, audio, _ in phrases:
        padded = np.concatenate([audio, silence(1.2)])
        for start in range(0, len(padded), 1600):
            chunk = padded[start : start + 1600]
            for who, stream in streams.items():
                stream.push(chunk if who == speaker else np.zeros_like(chunk))
            if start <= len(audio) < start + 1600:
                ends.append((speaker, time.monotonic(), pushed + (len(audio) - start) / 16000))
            pushed += len(chunk) / 16000
            time.sleep(max(0.0, started + pushed - time.monotonic()))
    time.sleep(3)
    engine.close()
    latencies = []
    for speaker, wall, stream_end in ends:
        covering = [t for t, c in finals if c.speaker == speaker and c.end >= stream_end - 0.6]
        if covering:
            latencies.append(min(t for t in covering if t >= wall - 5) - wall)
    heard = " ".join(c.text for _, c in sorted(finals, key=lambda f: f[1].start))
    script = " ".join(text for _, _, text in phrases)
    cuts = (
        statistics.quantiles(latencies, n=20, method="inclusive")
        if len(latencies) > 1
        else latencies * 19
    )
    print(f"model {args.model}, {args.threads} threads, {len(phrases)} phrases, {pushed:.0f} s")
    print(
        f"final caption latency: p50 {statistics.median(latencies):.2f} s, "
        f"p95 {cuts[18]:.2f} s, max {max(latencies):.2f} s ({len(latencies)}/{len(ends)} phrases)"
    )
    print(f"caption WER {jiwer.wer(normalize(script), normalize(heard)):.3f}; "
          f"dropped audio {engine.stats()['dropped_seconds']:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
