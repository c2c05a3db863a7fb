"""Builds Whisper's encoder and decoder as ONNX graphs, straight from the checkpoint's weights.

encoder.onnx: log-mel [batch, n_mels, 3000] → `audio_features` and, for every decoder layer i,
the cross-attention keys and values already split into heads and laid out for the products
they feed (`cross_k_i`: [batch, heads, head_dim, 1500]; `cross_v_i`: [batch, heads, 1500,
head_dim]), so no decoder step recomputes, copies or transposes them.

decoder.onnx: `tokens` [batch, new] with the self-attention cache per layer (`past_k_i`,
`past_v_i`: [batch, heads, past, head_dim]) and `reorder` [batch] (which cached row each new
row continues: beam search reorders on the device, not through the host) → `logits` of the
last position, the grown cache (`present_k_i`, `present_v_i`), and `alignment` [batch, heads,
new, 1500]: the cross-attention scores of the alignment heads, used for word timing. Cross keys
and values with batch 1 broadcast over every row, so a beam never copies them.

The token embedding is stored once: a Gather reads it for the input and a Gemm with transB reuses
it as the output projection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from appliance.asr_onnx.checkpoint import Checkpoint
from appliance.asr_onnx.graph import INT64, Graph

LAYER_NORM_EPSILON = 1e-5
BY_HEAD = [0, 2, 1, 3]  # [batch, time, heads, dim] → [batch, heads, time, dim]
BY_HEAD_T = [0, 2, 3, 1]  # [batch, time, heads, dim] → [batch, heads, dim, time]


def _gelu(g: Graph, x: str) -> str:
    """Exact (erf) GELU, the form ONNX Runtime fuses into one kernel."""
    scaled = g.op("Div", x, g.const(np.sqrt(2.0)))
    inner = g.op("Add", g.op("Erf", scaled), g.const(1.0))
    return g.op("Mul", g.op("Mul", x, inner), g.const(0.5))


def _matmul_bias(g: Graph, x: str, name: str, weight: np.ndarray, bias: np.ndarray | None) -> str:
    out = g.op("MatMul", x, g.weight(f"{name}/weight", weight.T))
    if bias is not None:
        out = g.op("Add", out, g.weight(f"{name}/bias", bias))
    return out


def _linear(g: Graph, ckpt: Checkpoint, x: str, prefix: str) -> str:
    bias = ckpt.tensors.get(f"{prefix}/bias")
    return _matmul_bias(g, x, prefix, ckpt.tensor(f"{prefix}/weight"), bias)


def _part(
    g: Graph, ckpt: Checkpoint, x: str, prefix: str, index: int, part: str, scale: float = 1.0
) -> str:
    """One projection out of a fused (q|k|v or k|v) matrix, optionally pre-scaled."""
    size = ckpt.dims.n_state
    rows = slice(index * size, (index + 1) * size)
    weight = ckpt.tensor(f"{prefix}/weight")[rows] * scale
    bias = ckpt.tensor(f"{prefix}/bias")[rows] * scale
    return _matmul_bias(g, x, f"{prefix}/{part}", weight, bias)


def _layer_norm(g: Graph, ckpt: Checkpoint, x: str, prefix: str) -> str:
    gamma = g.weight(f"{prefix}/gamma", ckpt.tensor(f"{prefix}/gamma"))
    beta = g.weight(f"{prefix}/beta", ckpt.tensor(f"{prefix}/beta"))
    return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=LAYER_NORM_EPSILON)


def _heads(g: Graph, ckpt: Checkpoint, x: str, perm: list[int]) -> str:
    d = ckpt.dims
    shaped = g.op("Reshape", x, g.ints(0, 0, d.n_heads, d.n_state // d.n_heads))
    return g.op("Transpose", shaped, perm=perm)


def _attend(
    g: Graph, ckpt: Checkpoint, q: str, k_t: str, v: str, mask: str | None
) -> tuple[str, str]:
    """Attention over split heads; returns the merged output and the raw scores."""
    scores = g.op("MatMul", q, k_t)
    if mask is not None:
        scores = g.op("Add", scores, mask)
    weights = g.op("Softmax", scores, axis=-1)
    merged = g.op("Transpose", g.op("MatMul", weights, v), perm=BY_HEAD)
    return g.op("Reshape", merged, g.ints(0, 0, ckpt.dims.n_state)), scores


def _query(g: Graph, ckpt: Checkpoint, x: str, prefix: str, *, folded: bool) -> str:
    """Queries scaled by 1/sqrt(head_dim): folded into the weights for the decoder, whose
    steps count; a node after the projection for the encoder, which then rounds exactly as
    the reference does."""
    scale = (ckpt.dims.n_state // ckpt.dims.n_heads) ** -0.5
    if folded:
        return _heads(g, ckpt, _part(g, ckpt, x, prefix, 0, "query", scale), BY_HEAD)
    projected = _part(g, ckpt, x, prefix, 0, "query")
    return _heads(g, ckpt, g.op("Mul", projected, g.const(scale)), BY_HEAD)


def _self_projections(
    g: Graph, ckpt: Checkpoint, h: str, prefix: str, *, decoder: bool
) -> tuple[str, str, str]:
    """Queries, keys and values from the fused self-attention matrix; the encoder's keys come
    transposed for the product, the decoder's stay in cache layout."""
    fused = f"{prefix}/self_attention/linear_0"
    q = _query(g, ckpt, h, fused, folded=decoder)
    k = _heads(g, ckpt, _part(g, ckpt, h, fused, 1, "key"), BY_HEAD if decoder else BY_HEAD_T)
    v = _heads(g, ckpt, _part(g, ckpt, h, fused, 2, "value"), BY_HEAD)
    return q, k, v


def _ffn(g: Graph, ckpt: Checkpoint, x: str, prefix: str) -> str:
    h = _layer_norm(g, ckpt, x, f"{prefix}/ffn/layer_norm")
    h = _gelu(g, _linear(g, ckpt, h, f"{prefix}/ffn/linear_0"))
    return g.op("Add", x, _linear(g, ckpt, h, f"{prefix}/ffn/linear_1"))


def build_encoder(ckpt: Checkpoint, dtype: Any = np.float32) -> onnx.ModelProto:
    d = ckpt.dims
    head_dim = d.n_state // d.n_heads
    g = Graph("whisper_encoder", dtype)
    x = g.input("mel", ["batch", d.n_mels, 2 * d.n_audio_ctx])
    for name, stride in (("conv1", 1), ("conv2", 2)):
        weight = g.weight(f"encoder/{name}/weight", ckpt.tensor(f"encoder/{name}/weight"))
        bias = g.weight(f"encoder/{name}/bias", ckpt.tensor(f"encoder/{name}/bias"))
        x = _gelu(g, g.op("Conv", x, weight, bias, kernel_shape=[3], pads=[1, 1], strides=[stride]))
    x = g.op("Transpose", x, perm=[0, 2, 1])
    positions = ckpt.tensor("encoder/position_encodings/encodings")[: d.n_audio_ctx]
    x = g.op("Add", x, g.weight("encoder/position_encodings/encodings", positions))
    for i in range(d.n_encoder_layers):
        prefix = f"encoder/layer_{i}"
        h = _layer_norm(g, ckpt, x, f"{prefix}/self_attention/layer_norm")
        q, k_t, v = _self_projections(g, ckpt, h, prefix, decoder=False)
        attended, _ = _attend(g, ckpt, q, k_t, v, None)
        x = g.op("Add", x, _linear(g, ckpt, attended, f"{prefix}/self_attention/linear_1"))
        x = _ffn(g, ckpt, x, prefix)
    features = _layer_norm(g, ckpt, x, "encoder/layer_norm")
    g.output(features, "audio_features", ["batch", d.n_audio_ctx, d.n_state])
    for i in range(d.n_decoder_layers):
        fused = f"decoder/layer_{i}/attention/linear_1"
        k_t = _heads(g, ckpt, _part(g, ckpt, features, fused, 0, "key"), BY_HEAD_T)
        v = _heads(g, ckpt, _part(g, ckpt, features, fused, 1, "value"), BY_HEAD)
        g.output(k_t, f"cross_k_{i}", ["batch", d.n_heads, head_dim, d.n_audio_ctx])
        g.output(v, f"cross_v_{i}", ["batch", d.n_heads, d.n_audio_ctx, head_dim])
    return g.to_model()


def _causal_mask(g: Graph, past: str, new: str) -> str:
    """[new, past + new]: 0 where a new token may look, -inf at later positions."""
    past_scalar = g.op("Squeeze", past, g.ints(0))
    total = g.op("Add", past_scalar, g.op("Squeeze", new, g.ints(0)))
    query_pos = g.op("Range", past_scalar, total, g.const(1, np.int64))
    key_pos = g.op("Range", g.const(0, np.int64), total, g.const(1, np.int64))
    later = g.op(
        "Greater", g.op("Unsqueeze", key_pos, g.ints(0)), g.op("Unsqueeze", query_pos, g.ints(1))
    )
    return g.op("Where", later, g.const(-np.inf), g.const(0.0))


def build_decoder(ckpt: Checkpoint, dtype: Any = np.float32) -> onnx.ModelProto:
    d = ckpt.dims
    head_dim = d.n_state // d.n_heads
    g = Graph("whisper_decoder", dtype)
    tokens = g.input("tokens", ["batch", "new"], INT64)
    reorder = g.input("reorder", ["batch"], INT64)
    cache: list[int | str] = ["cache_batch", d.n_heads, "past", head_dim]
    past_k = [g.input(f"past_k_{i}", cache) for i in range(d.n_decoder_layers)]
    past_v = [g.input(f"past_v_{i}", cache) for i in range(d.n_decoder_layers)]
    cross_k = [
        g.input(f"cross_k_{i}", ["audio_batch", d.n_heads, head_dim, d.n_audio_ctx])
        for i in range(d.n_decoder_layers)
    ]
    cross_v = [
        g.input(f"cross_v_{i}", ["audio_batch", d.n_heads, d.n_audio_ctx, head_dim])
        for i in range(d.n_decoder_layers)
    ]

    past_len = g.op("Shape", past_k[0], start=2, end=3)
    new_len = g.op("Shape", tokens, start=1, end=2)
    embedding = g.weight("decoder/embeddings/weight", ckpt.tensor("decoder/embeddings/weight"))
    positions = g.weight(
        "decoder/position_encodings/encodings", ckpt.tensor("decoder/position_encodings/encodings")
    )
    position_rows = g.op("Slice", positions, past_len, g.op("Add", past_len, new_len), g.ints(0))
    x = g.op("Add", g.op("Gather", embedding, tokens, axis=0), position_rows)
    mask = _causal_mask(g, past_len, new_len)

    heads_by_layer: dict[int, list[int]] = {}
    for layer, head in ckpt.alignment_heads:
        heads_by_layer.setdefault(layer, []).append(head)
    alignment = []
    present: list[tuple[str, str, int]] = []
    for i in range(d.n_decoder_layers):
        prefix = f"decoder/layer_{i}"
        h = _layer_norm(g, ckpt, x, f"{prefix}/self_attention/layer_norm")
        q, k, v = _self_projections(g, ckpt, h, prefix, decoder=True)
        k = g.op("Concat", g.op("Gather", past_k[i], reorder, axis=0), k, axis=2)
        v = g.op("Concat", g.op("Gather", past_v[i], reorder, axis=0), v, axis=2)
        present.append((k, v, i))
        k_t = g.op("Transpose", k, perm=[0, 1, 3, 2])
        attended, _ = _attend(g, ckpt, q, k_t, v, mask)
        x = g.op("Add", x, _linear(g, ckpt, attended, f"{prefix}/self_attention/linear_1"))

        h = _layer_norm(g, ckpt, x, f"{prefix}/attention/layer_norm")
        q = _query(g, ckpt, h, f"{prefix}/attention/linear_0", folded=True)
        attended, scores = _attend(g, ckpt, q, cross_k[i], cross_v[i], None)
        x = g.op("Add", x, _linear(g, ckpt, attended, f"{prefix}/attention/linear_2"))
        if i in heads_by_layer:
            alignment.append(g.op("Gather", scores, g.ints(*heads_by_layer[i]), axis=1))
        x = _ffn(g, ckpt, x, prefix)

    x = _layer_norm(g, ckpt, x, "decoder/layer_norm")
    last = g.op("Gather", x, g.const(-1, np.int64), axis=1)
    g.output(g.op("Gemm", last, embedding, transB=1), "logits", ["batch", d.n_vocab])
    for k, v, i in present:
        g.output(k, f"present_k_{i}", ["batch", d.n_heads, "total", head_dim])
        g.output(v, f"present_v_{i}", ["batch", d.n_heads, "total", head_dim])
    merged = alignment[0] if len(alignment) == 1 else g.op("Concat", *alignment, axis=1)
    g.output(merged, "alignment", ["batch", len(ckpt.alignment_heads), "new", d.n_audio_ctx])
    return g.to_model()
