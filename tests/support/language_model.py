"""A weak language model packaged for onnxruntime-genai, built here from random weights: one
attention layer over Whisper's byte-level BPE vocabulary. It loads and generates like any model
an administrator might bring, and writes nothing useful, so the evaluation must refuse it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from appliance.asr_onnx.graph import INT64, Graph

HIDDEN, HEADS = 32, 2
HEAD = HIDDEN // HEADS


def weak_model(directory: Path, tokenizer: Path) -> Path:
    """Writes the model into `directory`, with the byte-level BPE `tokenizer` (tokenizer.json)."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = json.loads(tokenizer.read_text())
    ids = list(spec["model"]["vocab"].values()) + [t["id"] for t in spec.get("added_tokens", [])]
    vocab = max(ids) + 1
    rng = np.random.default_rng(0)
    g = Graph("weak", np.dtype(np.float32))
    tokens = g.input("input_ids", ["batch", "seq"], INT64)
    g.input("attention_mask", ["batch", "total"], INT64)
    g.input("position_ids", ["batch", "seq"], INT64)
    past_k = g.input("past_key_values.0.key", ["batch", HEADS, "past", HEAD])
    past_v = g.input("past_key_values.0.value", ["batch", HEADS, "past", HEAD])
    embedding = g.weight("embedding", rng.normal(0, 0.5, (vocab, HIDDEN)))
    x = g.op("Gather", embedding, tokens, axis=0)

    def heads(name: str) -> str:
        projected = g.op("MatMul", x, g.weight(name, rng.normal(0, 0.2, (HIDDEN, HIDDEN))))
        shaped = g.op("Reshape", projected, g.ints(0, 0, HEADS, HEAD))
        return g.op("Transpose", shaped, perm=[0, 2, 1, 3])

    keys = g.op("Concat", past_k, heads("k"), axis=2)
    values = g.op("Concat", past_v, heads("v"), axis=2)
    scores = g.op("MatMul", heads("q"), g.op("Transpose", keys, perm=[0, 1, 3, 2]))
    weights = g.op("Softmax", g.op("Mul", scores, g.const(HEAD**-0.5)), axis=-1)
    merged = g.op("Transpose", g.op("MatMul", weights, values), perm=[0, 2, 1, 3])
    hidden = g.op("Add", x, g.op("Reshape", merged, g.ints(0, 0, HIDDEN)))
    logits = g.op("MatMul", hidden, g.op("Transpose", embedding, perm=[1, 0]))
    g.output(logits, "logits", ["batch", "seq", vocab])
    g.output(keys, "present.0.key", ["batch", HEADS, "total", HEAD])
    g.output(values, "present.0.value", ["batch", HEADS, "total", HEAD])
    (directory / "model.onnx").write_bytes(g.to_model().SerializeToString())
    shutil.copyfile(tokenizer, directory / "tokenizer.json")
    end = spec["model"]["vocab"].get("<|endoftext|>", 0)
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "GPT2Tokenizer", "eos_token": "<|endoftext|>"})
    )
    decoder = {
        "filename": "model.onnx", "session_options": {"log_id": "weak", "provider_options": []},
        "head_size": HEAD, "hidden_size": HIDDEN, "num_attention_heads": HEADS,
        "num_hidden_layers": 1, "num_key_value_heads": HEADS,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                   "position_ids": "position_ids", "past_key_names": "past_key_values.%d.key",
                   "past_value_names": "past_key_values.%d.value"},
        "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value"},
    }  # fmt: skip
    config = {
        "model": {"type": "llama", "vocab_size": vocab, "context_length": 512,
                  "bos_token_id": end, "eos_token_id": end, "pad_token_id": end,
                  "decoder": decoder},
        "search": {"max_length": 512, "do_sample": False, "num_beams": 1,
                   "past_present_share_buffer": False},
    }  # fmt: skip
    (directory / "genai_config.json").write_text(json.dumps(config, indent=1))
    return directory
