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
    """Encoder output for a batch of windows, kept on the execution device."""

    cross_k: ort.OrtValue
    cross_v: ort.OrtValue
    batch: int


@dataclass
class DecoderState:
    past_k: ort.OrtValue
    past_v: ort.OrtValue
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
        past = {i.name: i.shape for i in self.decoder.get_inputs()}["past_k"]
        self.layers, self.state_size = int(past[0]), int(past[3])

    @property
    def providers(self) -> list[str]:
        return list(self.decoder.get_providers())

    def _value(self, array: np.ndarray) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device_type, 0)

    def encode(self, mel: np.ndarray) -> AudioContext:
        """mel: [batch, n_mels, 3000]."""
        binding = self.encoder.io_binding()
        binding.bind_cpu_input("mel", np.ascontiguousarray(mel, dtype=self.dtype))
        binding.bind_output("cross_k", self.device_type)
        binding.bind_output("cross_v", self.device_type)
        self.encoder.run_with_iobinding(binding)
        cross_k, cross_v = binding.get_outputs()
        return AudioContext(cross_k, cross_v, int(mel.shape[0]))

    def audio_features(self, mel: np.ndarray) -> np.ndarray:
        """The encoder's final hidden states, on the host (checks and tests)."""
        (features,) = self.encoder.run(["audio_features"], {"mel": mel.astype(self.dtype)})
        return np.asarray(features, dtype=np.float32)

    def empty_state(self, rows: int) -> DecoderState:
        empty = np.zeros((self.layers, rows, 0, self.state_size), dtype=self.dtype)
        return DecoderState(self._value(empty), self._value(empty), rows, 0)

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
        binding.bind_ortvalue_input("past_k", state.past_k)
        binding.bind_ortvalue_input("past_v", state.past_v)
        binding.bind_ortvalue_input("cross_k", audio.cross_k)
        binding.bind_ortvalue_input("cross_v", audio.cross_v)
        binding.bind_output("logits", "cpu")
        binding.bind_output("present_k", self.device_type)
        binding.bind_output("present_v", self.device_type)
        if alignment:
            binding.bind_output("alignment", "cpu")
        self.decoder.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        logits = np.asarray(outputs[0].numpy(), dtype=np.float32)
        weights = np.asarray(outputs[3].numpy(), dtype=np.float32) if alignment else None
        new_state = DecoderState(outputs[1], outputs[2], rows, state.length + int(tokens.shape[1]))
        return logits, new_state, weights
