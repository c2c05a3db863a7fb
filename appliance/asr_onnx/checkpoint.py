"""A Whisper checkpoint as named float arrays, from either format an administrator may bring.

Names follow CTranslate2's (`decoder/layer_0/self_attention/linear_0/weight`, with q, k and v
fused in one matrix) so the graph builder has one vocabulary. A Hugging Face checkpoint
(safetensors) is mapped and fused into the same names.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from appliance.asr_onnx.ct2_reader import read_ct2_model
from appliance.asr_onnx.errors import ModelError

TOKENIZER_FILE = "tokenizer.json"


@dataclass
class Dims:
    n_mels: int
    n_audio_ctx: int
    n_text_ctx: int
    n_state: int
    n_heads: int
    n_encoder_layers: int
    n_decoder_layers: int
    n_vocab: int


@dataclass
class Checkpoint:
    """Weights plus what decoding needs to know about the model."""

    dims: Dims
    tensors: dict[str, np.ndarray]
    alignment_heads: list[tuple[int, int]]
    suppress_ids: list[int]
    suppress_ids_begin: list[int]
    source_format: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.alignment_heads:
            # Whisper's own default when a checkpoint names none: every head of the upper half.
            layers = self.dims.n_decoder_layers
            self.alignment_heads = [
                (layer, head)
                for layer in range(layers // 2, layers)
                for head in range(self.dims.n_heads)
            ]

    def tensor(self, name: str) -> np.ndarray:
        try:
            return self.tensors[name]
        except KeyError:
            raise ModelError(f"checkpoint has no weight {name!r}") from None


def _count_layers(names: list[str], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)/")
    found = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    if not found or found != set(range(len(found))):
        raise ModelError(f"checkpoint has no complete {prefix!r} layers")
    return len(found)


def _dims(tensors: dict[str, np.ndarray], n_heads: int) -> Dims:
    names = list(tensors)
    conv1 = tensors["encoder/conv1/weight"]
    embeddings = tensors["decoder/embeddings/weight"]
    return Dims(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(tensors["encoder/position_encodings/encodings"].shape[0]),
        n_text_ctx=int(tensors["decoder/position_encodings/encodings"].shape[0]),
        n_state=int(embeddings.shape[1]),
        n_heads=n_heads,
        n_encoder_layers=_count_layers(names, "encoder/layer_"),
        n_decoder_layers=_count_layers(names, "decoder/layer_"),
        n_vocab=int(embeddings.shape[0]),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path.parent} has no {path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path} is not a JSON object")
    return value


def _heads(value: Any) -> list[tuple[int, int]]:
    return [(int(layer), int(head)) for layer, head in value or []]


def load_checkpoint(directory: Path) -> Checkpoint:
    """Reads a faster-whisper (CTranslate2) or Hugging Face Whisper checkpoint directory."""
    if not directory.is_dir():
        raise ModelError(f"{directory} is not a directory")
    if not (directory / TOKENIZER_FILE).is_file():
        raise ModelError(f"{directory} has no {TOKENIZER_FILE}")
    if (directory / "model.bin").is_file():
        return _load_ct2(directory)
    if (directory / "model.safetensors").is_file():
        return _load_hf(directory)
    raise ModelError(
        f"{directory} holds neither a CTranslate2 model.bin nor a Hugging Face model.safetensors"
    )


def _load_ct2(directory: Path) -> Checkpoint:
    model = read_ct2_model(directory / "model.bin")
    if model.spec != "WhisperSpec":
        raise ModelError(f"{directory} holds a {model.spec}, not a Whisper model")
    config = _read_json(directory / "config.json")
    tensors = {
        name: value
        for name, value in model.variables.items()
        if value.ndim > 0 and np.issubdtype(value.dtype, np.floating)
    }
    heads = model.scalar("encoder/num_heads")
    if heads != model.scalar("decoder/num_heads"):
        raise ModelError(f"{directory}: encoder and decoder head counts differ")
    return Checkpoint(
        dims=_dims(tensors, heads),
        tensors=tensors,
        alignment_heads=_heads(config.get("alignment_heads")),
        suppress_ids=[int(i) for i in config.get("suppress_ids", [])],
        suppress_ids_begin=[int(i) for i in config.get("suppress_ids_begin", [])],
        source_format="ctranslate2",
    )


SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    if len(data) < 8:
        raise ModelError(f"{path} is truncated")
    (header_size,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + header_size])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path} has a malformed header") from None
    base = 8 + header_size
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        if base + end > len(data):
            raise ModelError(f"{path} is truncated")
        array = np.frombuffer(data[base + start : base + end], dtype=dtype).reshape(info["shape"])
        if info["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array
    return tensors


def _hf_attention(
    hf: dict[str, np.ndarray], prefix: str, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Fuses projections row-wise; Whisper's key projection has no bias, so it gets zeros."""
    weights, biases = [], []
    for proj in names:
        weight = hf[f"{prefix}.{proj}.weight"]
        weights.append(weight)
        biases.append(hf.get(f"{prefix}.{proj}.bias", np.zeros(weight.shape[0], weight.dtype)))
    return np.concatenate(weights), np.concatenate(biases)


def _load_hf(directory: Path) -> Checkpoint:
    config = _read_json(directory / "config.json")
    generation = (
        _read_json(directory / "generation_config.json")
        if (directory / "generation_config.json").is_file()
        else {}
    )
    hf = {
        name.removeprefix("model."): value
        for name, value in read_safetensors(directory / "model.safetensors").items()
    }
    out: dict[str, np.ndarray] = {}

    def linear(target: str, source: str) -> None:
        out[f"{target}/weight"] = hf[f"{source}.weight"]
        if f"{source}.bias" in hf:
            out[f"{target}/bias"] = hf[f"{source}.bias"]

    def norm(target: str, source: str) -> None:
        out[f"{target}/gamma"] = hf[f"{source}.weight"]
        out[f"{target}/beta"] = hf[f"{source}.bias"]

    def fused(target: str, source: str, projections: tuple[str, ...]) -> None:
        out[f"{target}/weight"], out[f"{target}/bias"] = _hf_attention(hf, source, projections)

    try:
        for side, layers in (
            ("encoder", config["encoder_layers"]),
            ("decoder", config["decoder_layers"]),
        ):
            for i in range(layers):
                src, dst = f"{side}.layers.{i}", f"{side}/layer_{i}"
                fused(
                    f"{dst}/self_attention/linear_0",
                    f"{src}.self_attn",
                    ("q_proj", "k_proj", "v_proj"),
                )
                linear(f"{dst}/self_attention/linear_1", f"{src}.self_attn.out_proj")
                norm(f"{dst}/self_attention/layer_norm", f"{src}.self_attn_layer_norm")
                linear(f"{dst}/ffn/linear_0", f"{src}.fc1")
                linear(f"{dst}/ffn/linear_1", f"{src}.fc2")
                norm(f"{dst}/ffn/layer_norm", f"{src}.final_layer_norm")
                if side == "decoder":
                    linear(f"{dst}/attention/linear_0", f"{src}.encoder_attn.q_proj")
                    fused(f"{dst}/attention/linear_1", f"{src}.encoder_attn", ("k_proj", "v_proj"))
                    linear(f"{dst}/attention/linear_2", f"{src}.encoder_attn.out_proj")
                    norm(f"{dst}/attention/layer_norm", f"{src}.encoder_attn_layer_norm")
            norm(f"{side}/layer_norm", f"{side}.layer_norm")
        linear("encoder/conv1", "encoder.conv1")
        linear("encoder/conv2", "encoder.conv2")
        out["encoder/position_encodings/encodings"] = hf["encoder.embed_positions.weight"]
        out["decoder/position_encodings/encodings"] = hf["decoder.embed_positions.weight"]
        out["decoder/embeddings/weight"] = hf["decoder.embed_tokens.weight"]
        heads = int(config["encoder_attention_heads"])
    except KeyError as exc:
        raise ModelError(
            f"{directory} is not a complete Whisper checkpoint: missing {exc}"
        ) from None
    return Checkpoint(
        dims=_dims(out, heads),
        tensors=out,
        alignment_heads=_heads(generation.get("alignment_heads")),
        suppress_ids=[
            int(i) for i in generation.get("suppress_tokens", config.get("suppress_tokens") or [])
        ],
        suppress_ids_begin=[
            int(i)
            for i in generation.get(
                "begin_suppress_tokens", config.get("begin_suppress_tokens") or []
            )
        ],
        source_format="huggingface",
    )
