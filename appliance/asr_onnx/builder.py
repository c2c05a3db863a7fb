"""Builds Whisper's encoder and decoder as ONNX graphs, straight from the checkpoint's weights.

encoder.onnx: log-mel [batch, n_mels, 3000] → `audio_features` and, for every decoder layer,
the cross-attention keys and values (`cross_k`, `cross_v`: [layers, batch, 1500, state]), so
the decoder never recomputes them.

decoder.onnx: `tokens` [batch, new] with the self-attention cache (`past_k`, `past_v`:
[layers, batch, past, state]) and `reorder` [batch] (which cached row each new row continues:
beam search reorders on the device, not through the host) → `logits` of the last position,
the grown cache (`present_k`, `present_v`), and `alignment` [batch, heads, new, 1500]: the
cross-attention scores of the alignment heads, used for word timing. Cross keys and values
with batch 1 broadcast over every row, so a beam never copies them.

The token embedding is stored once: a Gather reads it for the input and a Gemm with transB
reuses it as the output projection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from appliance.asr_onnx.checkpoint import Checkpoint
from appliance.asr_onnx.graph import INT64, Graph

LAYER_NORM_EPSILON = 1e-5


def _gelu(g: Graph, x: str) -> str:
    """Exact (erf) GELU, the form ONNX Runtime fuses into one kernel."""
    scaled = g.op("Div", x, g.const(np.sqrt(2.0)))
    inner = g.op("Add", g.op("Erf", scaled), g.const(1.0))
    return g.op("Mul", g.op("Mul", x, inner), g.const(0.5))


def _linear(g: Graph, ckpt: Checkpoint, x: str, prefix: str) -> str:
    weight = g.weight(f"{prefix}/weight", ckpt.tensor(f"{prefix}/weight").T)
    out = g.op("MatMul", x, weight)
    if f"{prefix}/bias" in ckpt.tensors:
        out = g.op("Add", out, g.weight(f"{prefix}/bias", ckpt.tensor(f"{prefix}/bias")))
    return out


def _layer_norm(g: Graph, ckpt: Checkpoint, x: str, prefix: str) -> str:
    gamma = g.weight(f"{prefix}/gamma", ckpt.tensor(f"{prefix}/gamma"))
    beta = g.weight(f"{prefix}/beta", ckpt.tensor(f"{prefix}/beta"))
    return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=LAYER_NORM_EPSILON)


def _split_heads(g: Graph, x: str, heads: int, head_dim: int, perm: list[int]) -> str:
    shaped = g.op("Reshape", x, g.ints(0, 0, heads, head_dim))
    return g.op("Transpose", shaped, perm=perm)


def _attention(
    g: Graph,
    q: str,
    k: str,
    v: str,
    heads: int,
    state: int,
    mask: str | None = None,
) -> tuple[str, str]:
    """Scaled dot-product attention; returns the merged output and the raw scores."""
    head_dim = state // heads
    qh = _split_heads(g, g.op("Mul", q, g.const(head_dim**-0.5)), heads, head_dim, [0, 2, 1, 3])
    kh = _split_heads(g, k, heads, head_dim, [0, 2, 3, 1])
    vh = _split_heads(g, v, heads, head_dim, [0, 2, 1, 3])
    scores = g.op("MatMul", qh, kh)
    if mask is not None:
        scores = g.op("Add", scores, mask)
    weights = g.op("Softmax", scores, axis=-1)
    merged = g.op("Transpose", g.op("MatMul", weights, vh), perm=[0, 2, 1, 3])
    return g.op("Reshape", merged, g.ints(0, 0, state)), scores


def _split_last(g: Graph, x: str, parts: int, size: int) -> list[str]:
    return g.op_multi("Split", x, g.ints(*([size] * parts)), outputs=parts, axis=-1)


def _ffn(g: Graph, ckpt: Checkpoint, x: str, prefix: str) -> str:
    h = _layer_norm(g, ckpt, x, f"{prefix}/ffn/layer_norm")
    h = _gelu(g, _linear(g, ckpt, h, f"{prefix}/ffn/linear_0"))
    return g.op("Add", x, _linear(g, ckpt, h, f"{prefix}/ffn/linear_1"))


def build_encoder(ckpt: Checkpoint, dtype: Any = np.float32) -> onnx.ModelProto:
    d = ckpt.dims
    g = Graph("whisper_encoder", dtype)
    mel = g.input("mel", ["batch", d.n_mels, 2 * d.n_audio_ctx])
    x = mel
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
        q, k, v = _split_last(
            g, _linear(g, ckpt, h, f"{prefix}/self_attention/linear_0"), 3, d.n_state
        )
        attended, _ = _attention(g, q, k, v, d.n_heads, d.n_state)
        x = g.op("Add", x, _linear(g, ckpt, attended, f"{prefix}/self_attention/linear_1"))
        x = _ffn(g, ckpt, x, prefix)
    features = _layer_norm(g, ckpt, x, "encoder/layer_norm")
    keys, values = [], []
    for i in range(d.n_decoder_layers):
        kv = _linear(g, ckpt, features, f"decoder/layer_{i}/attention/linear_1")
        k, v = _split_last(g, kv, 2, d.n_state)
        keys.append(g.op("Unsqueeze", k, g.ints(0)))
        values.append(g.op("Unsqueeze", v, g.ints(0)))
    layers_shape: list[int | str] = [d.n_decoder_layers, "batch", d.n_audio_ctx, d.n_state]
    g.output(features, "audio_features", ["batch", d.n_audio_ctx, d.n_state])
    g.output(g.op("Concat", *keys, axis=0), "cross_k", layers_shape)
    g.output(g.op("Concat", *values, axis=0), "cross_v", layers_shape)
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
    g = Graph("whisper_decoder", dtype)
    tokens = g.input("tokens", ["batch", "new"], INT64)
    cache_shape: list[int | str] = [d.n_decoder_layers, "cache_batch", "past", d.n_state]
    past_k = g.input("past_k", cache_shape)
    past_v = g.input("past_v", cache_shape)
    reorder = g.input("reorder", ["batch"], INT64)
    cross_shape: list[int | str] = [d.n_decoder_layers, "audio_batch", d.n_audio_ctx, d.n_state]
    cross_k = g.input("cross_k", cross_shape)
    cross_v = g.input("cross_v", cross_shape)

    past_k = g.op("Gather", past_k, reorder, axis=1)
    past_v = g.op("Gather", past_v, reorder, axis=1)
    past_len = g.op("Shape", past_k, start=2, end=3)
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
    present_k, present_v, alignment = [], [], []
    for i in range(d.n_decoder_layers):
        prefix = f"decoder/layer_{i}"
        h = _layer_norm(g, ckpt, x, f"{prefix}/self_attention/layer_norm")
        q, k, v = _split_last(
            g, _linear(g, ckpt, h, f"{prefix}/self_attention/linear_0"), 3, d.n_state
        )
        layer_index = g.const(i, np.int64)
        k = g.op("Concat", g.op("Gather", past_k, layer_index, axis=0), k, axis=1)
        v = g.op("Concat", g.op("Gather", past_v, layer_index, axis=0), v, axis=1)
        present_k.append(g.op("Unsqueeze", k, g.ints(0)))
        present_v.append(g.op("Unsqueeze", v, g.ints(0)))
        attended, _ = _attention(g, q, k, v, d.n_heads, d.n_state, mask)
        x = g.op("Add", x, _linear(g, ckpt, attended, f"{prefix}/self_attention/linear_1"))

        h = _layer_norm(g, ckpt, x, f"{prefix}/attention/layer_norm")
        q = _linear(g, ckpt, h, f"{prefix}/attention/linear_0")
        ck = g.op("Gather", cross_k, layer_index, axis=0)
        cv = g.op("Gather", cross_v, layer_index, axis=0)
        attended, scores = _attention(g, q, ck, cv, d.n_heads, d.n_state)
        x = g.op("Add", x, _linear(g, ckpt, attended, f"{prefix}/attention/linear_2"))
        if i in heads_by_layer:
            alignment.append(g.op("Gather", scores, g.ints(*heads_by_layer[i]), axis=1))
        x = _ffn(g, ckpt, x, prefix)

    x = _layer_norm(g, ckpt, x, "decoder/layer_norm")
    last = g.op("Gather", x, g.const(-1, np.int64), axis=1)
    logits = g.op("Gemm", last, embedding, transB=1)
    g.output(logits, "logits", ["batch", d.n_vocab])
    present_shape: list[int | str] = [d.n_decoder_layers, "batch", "total", d.n_state]
    g.output(g.op("Concat", *present_k, axis=0), "present_k", present_shape)
    g.output(g.op("Concat", *present_v, axis=0), "present_v", present_shape)
    merged = alignment[0] if len(alignment) == 1 else g.op("Concat", *alignment, axis=1)
    g.output(merged, "alignment", ["batch", len(ckpt.alignment_heads), "new", d.n_audio_ctx])
    return g.to_model()
