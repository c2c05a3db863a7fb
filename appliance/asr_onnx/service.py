"""Opening the configured model: the one place that turns configuration into a Transcriber."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from appliance.asr_onnx.decoding import DecodeOptions
from appliance.asr_onnx.engine import WhisperEngine
from appliance.asr_onnx.models import load_installed, vad_path
from appliance.asr_onnx.tokens import WhisperTokens
from appliance.asr_onnx.transcriber import Transcriber
from appliance.asr_onnx.vad import SileroVad
from appliance.core.config import AsrConfig


def open_transcriber(
    models_dir: Path, settings: AsrConfig, model: str | None = None
) -> Transcriber:
    installed = load_installed(models_dir, model or settings.model)
    dtype = np.float16 if installed.manifest.get("variant") == "fp16" else np.float32
    engine = WhisperEngine(
        installed.directory, device=settings.device, threads=settings.threads, dtype=dtype
    )
    tokens = WhisperTokens(installed.directory / "tokenizer.json")
    vad = SileroVad(vad_path(models_dir)) if settings.vad else None
    return Transcriber(
        engine, tokens, installed.suppress_ids, installed.n_mels, vad, installed.name
    )


def decode_options(settings: AsrConfig, *, words: bool = True) -> DecodeOptions:
    return DecodeOptions(
        language=settings.language or None,
        beam_size=settings.beam_size,
        word_timestamps=words,
    )
