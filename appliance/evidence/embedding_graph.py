"""Builds the sentence-embedding model (a BERT encoder, all-MiniLM-L6-v2) as one ONNX graph
straight from its safetensors weights, with the sentence-transformers head inside the graph.

Inputs: `input_ids` and `attention_mask`, both int64 [batch, tokens] (one segment, so the token
type embedding is row 0 throughout and folded into the position embedding). Output:
`embedding` [batch, hidden], the mean of the last layer over the unmasked tokens, scaled to unit
length, so the dot product of two embeddings is their cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from appliance.asr_onnx.errors import ModelError
from appliance.asr_onnx.graph import INT64, Graph

# A large negative additive mask: exp() of it is exactly 0 in float32, and it cannot overflow
# to -inf when added to a score (a fully masked row never occurs: [CLS] is always there).
MASKED = -1e9


@dataclass(frozen=True)
class BertDims:
    hidden: int
    heads: int
    layers: int
    intermediate: int
    vocab: int
    positions: int
    layer_norm_eps: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BertDims:
        try:
            dims = cls(
                hidden=int(config["hidden_size"]),
                heads=int(config["num_attention_heads"]),
                layers=int(config["num_hidden_layers"]),
                intermediate=int(config["intermediate_size"]),
                vocab=int(config["vocab_size"]),
                positions=int(config["max_position_embeddings"]),
                layer_norm_eps=float(config["layer_norm_eps"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the embedding model's config.json lacks {exc}") from None
        if config.get("hidden_act") != "gelu" or dims.hidden % dims.heads:
            raise ModelError("the embedding model is not a BERT encoder this builder knows")
        return dims


class _Weights:
    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self.tensors = tensors

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.tensors[name]
        except KeyError:
            raise ModelError(f"the embedding model has no tensor {name!r}") from None


def _linear(g: Graph, w: _Weights, x: str, prefix: str, scale: float = 1.0) -> str:
    weight = g.weight(f"{prefix}.weight", w[f"{prefix}.weight"].T * scale)
    return g.op(
        "Add", g.op("MatMul", x, weight), g.weight(f"{prefix}.bias", w[f"{prefix}.bias"] * scale)
    )


def _layer_norm(g: Graph, w: _Weights, x: str, prefix: str, eps: float) -> str:
    gamma = g.weight(f"{prefix}.weight", w[f"{prefix}.weight"])
    beta = g.weight(f"{prefix}.bias", w[f"{prefix}.bias"])
    return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)


def _gelu(g: Graph, x: str) -> str:
    """Exact (erf) GELU, as BERT's "gelu"; ONNX Runtime fuses this pattern into one kernel."""
    inner = g.op("Add", g.op("Erf", g.op("Div", x, g.const(np.sqrt(2.0)))), g.const(1.0))
    return g.op("Mul", g.op("Mul", x, inner), g.const(0.5))


def _attention(g: Graph, w: _Weights, x: str, mask: str, prefix: str, dims: BertDims) -> str:
    head_dim = dims.hidden // dims.heads

    def heads(projected: str, perm: list[int]) -> str:
        shaped = g.op("Reshape", projected, g.ints(0, 0, dims.heads, head_dim))
        return g.op("Transpose", shaped, perm=perm)

    q = heads(_linear(g, w, x, f"{prefix}.query", head_dim**-0.5), [0, 2, 1, 3])
    k_t = heads(_linear(g, w, x, f"{prefix}.key"), [0, 2, 3, 1])
    v = heads(_linear(g, w, x, f"{prefix}.value"), [0, 2, 1, 3])
    scores = g.op("Add", g.op("MatMul", q, k_t), mask)
    merged = g.op(
        "Transpose", g.op("MatMul", g.op("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3]
    )
    return g.op("Reshape", merged, g.ints(0, 0, dims.hidden))


def build_embedding_graph(tensors: dict[str, np.ndarray], dims: BertDims) -> onnx.ModelProto:
    w = _Weights(tensors)
    g = Graph("sentence_embedding", np.dtype(np.float32))
    ids = g.input("input_ids", ["batch", "tokens"], INT64)
    mask_in = g.input("attention_mask", ["batch", "tokens"], INT64)

    positions = (
        w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    )
    count = g.op("Gather", g.op("Shape", ids), g.ints(1), axis=0)
    position_ids = g.op("Range", g.const(0, np.int64), g.op("Squeeze", count), g.const(1, np.int64))
    h = g.op(
        "Add",
        g.op(
            "Gather",
            g.weight("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]),
            ids,
            axis=0,
        ),
        g.op("Gather", g.weight("embeddings.positions", positions), position_ids, axis=0),
    )
    h = _layer_norm(g, w, h, "embeddings.LayerNorm", dims.layer_norm_eps)

    keep = g.op("Cast", mask_in, to=onnx.TensorProto.FLOAT)
    additive = g.op("Mul", g.op("Sub", g.const(1.0), keep), g.const(MASKED))
    mask = g.op("Unsqueeze", additive, g.ints(1, 2))

    for i in range(dims.layers):
        p = f"encoder.layer.{i}"
        attended = _linear(
            g,
            w,
            _attention(g, w, h, mask, f"{p}.attention.self", dims),
            f"{p}.attention.output.dense",
        )
        h = _layer_norm(
            g, w, g.op("Add", attended, h), f"{p}.attention.output.LayerNorm", dims.layer_norm_eps
        )
        inner = _gelu(g, _linear(g, w, h, f"{p}.intermediate.dense"))
        h = _layer_norm(
            g,
            w,
            g.op("Add", _linear(g, w, inner, f"{p}.output.dense"), h),
            f"{p}.output.LayerNorm",
            dims.layer_norm_eps,
        )

    weights = g.op("Unsqueeze", keep, g.ints(2))
    summed = g.op("ReduceSum", g.op("Mul", h, weights), g.ints(1), keepdims=0)
    counted = g.op("Max", g.op("ReduceSum", weights, g.ints(1), keepdims=0), g.const(1e-9))
    mean = g.op("Div", summed, counted)
    norm = g.op("Max", g.op("ReduceL2", mean, g.ints(1), keepdims=1), g.const(1e-12))
    g.output(g.op("Div", mean, norm), "embedding", ["batch", dims.hidden])
    return g.to_model()
