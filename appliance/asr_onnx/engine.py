"""ONNX Runtime sessions for one built model, and the device-resident decoding state.

Every decoder call goes through IOBinding: the cross-attention keys and values and the
self-attention cache stay where the execution provider keeps them (GPU memory under CUDA),
and only the last position's logits come back to the host each step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from appliance.asr_onnx.errors import ModelError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def choose_providers(device: str) -> list[str]:
    """`auto` takes CUDA when this onnxruntime offers it; `cuda` insists; `cpu` never uses it."""
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA not in available:
            raise ModelError(
                "the CUDA execution provider is not available (install onnxruntime-gpu)"
            )
        return [CUDA, CPU]
    if device != "auto":
        raise ModelError(f"unknown device {device!r}: use auto, cpu or cuda")
    return [CUDA, CPU] if CUDA in available else [CPU]


@dataclass
class AudioContext:
    """Encoder output for a batch of windows (keys and values per layer), on the device."""

    cross: list[tuple[str, ort.OrtValue]]
    batch: int


@dataclass
class DecoderState:
    """The self-attention cache per layer, on the device."""

    cache: list[tuple[str, ort.OrtValue]]
    rows: int
    length: int


class WhisperEngine:
    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "auto",
        threads: int = 0,
        dtype: Any = np.float32,
    ) -> None:
        providers = choose_providers(device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.encoder = ort.InferenceSession(
                str(model_dir / "encoder.onnx"), options, providers=providers
            )
            self.decoder = ort.InferenceSession(
                str(model_dir / "decoder.onnx"), options, providers=providers
            )
        except Exception as exc:  # onnxruntime raises its own unrelated exception classes
            raise ModelError(f"cannot load the model in {model_dir}: {exc}") from None
        self.dtype = np.dtype(dtype)
        self.on_gpu = self.decoder.get_providers()[0] == CUDA
        self.device_type = "cuda" if self.on_gpu else "cpu"
        past = {i.name: i.shape for i in self.decoder.get_inputs()}["past_k_0"]
        self.heads, self.head_dim = int(past[1]), int(past[3])
        self.cross_names = [
            o.name for o in self.encoder.get_outputs() if o.name.startswith("cross_")
        ]
        self.cache_names = [i.name for i in self.decoder.get_inputs() if i.name.startswith("past_")]

    @property
    def providers(self) -> list[str]:
        return list(self.decoder.get_providers())

    def _value(self, array: np.ndarray) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device_type, 0)

    def encode(self, mel: np.ndarray) -> AudioContext:
        """mel: [batch, n_mels, 3000]."""
        binding = self.encoder.io_binding()
        binding.bind_cpu_input("mel", np.ascontiguousarray(mel, dtype=self.dtype))
        for name in self.cross_names:
            binding.bind_output(name, self.device_type)
        self.encoder.run_with_iobinding(binding)
        values = binding.get_outputs()
        return AudioContext(list(zip(self.cross_names, values, strict=True)), int(mel.shape[0]))

    def split(self, audio: AudioContext) -> list[AudioContext]:
        """One context per window of a batch. The keys and values pass through the host once
        (a few megabytes a window, against hundreds of decoder steps that read them)."""
        if audio.batch == 1:
            return [audio]
        arrays = [(name, value.numpy()) for name, value in audio.cross]
        return [
            AudioContext([(name, self._value(array[i : i + 1])) for name, array in arrays], 1)
            for i in range(audio.batch)
        ]

    def audio_features(self, mel: np.ndarray) -> np.ndarray:
        """The encoder's final hidden states, on the host (checks and tests)."""
        (features,) = self.encoder.run(["audio_features"], {"mel": mel.astype(self.dtype)})
        return np.asarray(features, dtype=np.float32)

    def empty_state(self, rows: int) -> DecoderState:
        empty = np.zeros((rows, self.heads, 0, self.head_dim), dtype=self.dtype)
        return DecoderState([(name, self._value(empty)) for name in self.cache_names], rows, 0)

    def step(
        self,
        audio: AudioContext,
        state: DecoderState,
        tokens: np.ndarray,
        reorder: np.ndarray | None = None,
        *,
        alignment: bool = False,
    ) -> tuple[np.ndarray, DecoderState, np.ndarray | None]:
        """Feeds `tokens` [rows, new]; row r continues cached row reorder[r]."""
        rows = int(tokens.shape[0])
        if reorder is None:
            reorder = np.arange(rows, dtype=np.int64)
        binding = self.decoder.io_binding()
        binding.bind_cpu_input("tokens", np.ascontiguousarray(tokens, dtype=np.int64))
        binding.bind_cpu_input("reorder", np.ascontiguousarray(reorder, dtype=np.int64))
        for name, value in [*state.cache, *audio.cross]:
            binding.bind_ortvalue_input(name, value)
        binding.bind_output("logits", "cpu")
        presents = [name.replace("past_", "present_") for name in self.cache_names]
        for name in presents:
            binding.bind_output(name, self.device_type)
        if alignment:
            binding.bind_output("alignment", "cpu")
        self.decoder.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        logits = np.asarray(outputs[0].numpy(), dtype=np.float32)
        cache = list(zip(self.cache_names, outputs[1 : 1 + len(presents)], strict=True))
        weights = np.asarray(outputs[-1].numpy(), dtype=np.float32) if alignment else None
        new_state = DecoderState(cache, rows, state.length + int(tokens.shape[1]))
        return logits, new_state, weights
