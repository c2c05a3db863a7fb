"""Speech recognition: WER and speed of the ONNX path against faster-whisper on the same weights.

Run: .venv/bin/python bench/asr.py [--minutes 2] [--threads 2] [--beam 1]

Builds one recording from scripted interview sentences spoken by espeak-ng (two voices, with
pauses), then transcribes it with each engine in its own process, so each reports its own peak
memory: this ONNX path in fp32 and int8, and faster-whisper (CTranslate2) int8 and fp32, all
greedy (or --beam N), VAD off so each engine decodes the same audio. Prints WER against the script
(lower-cased, punctuation removed), audio seconds per second, the ratio against faster-whisper
int8, and peak RSS. The model must be installed (tests/support/speech.py or
`appliance models install`).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCRIPT = [
    ("en-us", "Thanks for making the time today. Let's start with your background."),
    ("en-gb", "I studied physics and then spent 6 years building data pipelines for retailers."),
    ("en-us", "What was the hardest technical problem you solved in that role?"),
    ("en-gb", "We had to reconcile 40 million orders a night, and the old system took 9 hours."),
    ("en-us", "How did you bring that down?"),
    ("en-gb", "We split the work by region and moved the joins into the database."),
    ("en-us", "Tell me about a time you disagreed with your manager."),
    ("en-gb", "My manager wanted a rewrite, and I argued for fixing the slowest step first."),
]


def build_recording(directory: Path, minutes: float) -> tuple[np.ndarray, str]:
    from appliance.asr_onnx.audio import decode_audio
    from tests.support.speech import silence, speak

    lines = []
    for i, (voice, text) in enumerate(SCRIPT):
        lines.append((decode_audio(speak(text, directory / f"{i}.wav", voice, 165)), text))
    parts, words = [], []
    while sum(len(p) for p in parts) < minutes * 60 * 16000:
        for audio, text in lines:
            parts += [audio, silence(0.8)]
            words.append(text)
    return np.concatenate(parts), " ".join(words)


def normalize(text: str) -> str:
    import jiwer

    return " ".join(jiwer.RemovePunctuation()(text.lower()).split())


def run_one(engine: str, audio_path: Path, threads: int, beam: int) -> dict[str, float | str]:
    from tests.support.speech import SHARED

    audio = np.load(audio_path)
    if engine.startswith("onnx"):
        from appliance.asr_onnx.decoding import DecodeOptions
        from appliance.asr_onnx.service import open_transcriber
        from appliance.core.config import AsrConfig

        name = "whisper-base-int8" if engine == "onnx-int8" else "whisper-base"
        settings = AsrConfig(device="cpu", threads=threads, vad=False)
        transcriber = open_transcriber(SHARED / "models", settings, name)
        warm = audio[: 16000 * 5]
        transcriber.transcribe(warm, DecodeOptions(language="en", beam_size=beam))
        start = time.perf_counter()
        text = transcriber.transcribe(audio, DecodeOptions(language="en", beam_size=beam)).text
    else:
        from faster_whisper import WhisperModel

        compute = engine.removeprefix("faster-whisper-")
        model = WhisperModel(
            str(SHARED / "ct2-whisper-base"),
            device="cpu",
            compute_type=compute,
            cpu_threads=threads,
        )
        list(model.transcribe(audio[: 16000 * 5], language="en", beam_size=beam)[0])
        start = time.perf_counter()
        segments, _ = model.transcribe(audio, language="en", beam_size=beam, vad_filter=False)
        text = " ".join(s.text.strip() for s in segments)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"text": text, "seconds": seconds, "peak_mib": peak_mib}


ENGINES = ["onnx-fp32", "onnx-int8", "faster-whisper-int8", "faster-whisper-float32"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, Path(args.audio), args.threads, args.beam)))
        return

    import jiwer

    from tests.support.speech import int8_models_dir, models_dir

    models_dir()
    int8_models_dir()
    with tempfile.TemporaryDirectory() as scratch:
        audio, script = build_recording(Path(scratch), args.minutes)
        audio_path = Path(scratch) / "audio.npy"
        np.save(audio_path, audio)
        duration = len(audio) / 16000
        print(
            f"recording: {duration:.0f} s, {len(script.split())} words; beam {args.beam}; "
            f"{args.threads} threads"
        )
        results = {}
        for engine in ENGINES:
            done = subprocess.run(
                [sys.executable, __file__, "--one", engine, "--audio", str(audio_path),
                 "--threads", str(args.threads), "--beam", str(args.beam)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    baseline = duration / float(results["faster-whisper-int8"]["seconds"])
    print(f"{'engine':<24}{'WER':>7}{'audio s/s':>11}{'vs fw-int8':>12}{'peak MiB':>10}")
    for engine, result in results.items():
        wer = jiwer.wer(normalize(script), normalize(str(result["text"])))
        speed = duration / float(result["seconds"])
        print(f"{engine:<24}{wer:>7.3f}{speed:>11.1f}{speed / baseline:>11.2f}x"
              f"{float(result['peak_mib']):>10.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
