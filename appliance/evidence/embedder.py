"""Sentence embeddings on onnxruntime: text in, unit-length vectors out.

Texts are tokenized by the model's own tokenizer (lower-cased word pieces, cut at the model's
limit). The float32 model runs them in batches of similar length, so little work goes into
padding; the int8 model runs one at a time (below).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from appliance.evidence.embedding_model import EmbeddingModel

BATCH = 32


class Embedder:
    def __init__(self, model: EmbeddingModel, *, threads: int = 0) -> None:
        self.model = model
        self.dimensions = int(model.manifest["dims"]["hidden"])
        # The int8 model quantizes activations with a range measured over the whole batch, so
        # a text's embedding would depend on the texts beside it: it runs one text at a time
        # (still faster than float32 in batches, bench/evidence.py).
        self.batch = 1 if model.manifest.get("variant") == "int8" else BATCH
        self.tokenizer = Tokenizer.from_file(str(model.tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(model.manifest["max_tokens"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model.model_path), options, providers=["CPUExecutionProvider"]
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The bare model on a ready batch (no tokenizing, no batching)."""
        out: Any = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(out[0], dtype=np.float32)

    def batches(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """The model's batches for `texts`: (which texts, token ids, attention mask), texts of
        similar length together so little work goes into padding."""
        encoded = self.token_ids(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        batches = []
        for start in range(0, len(order), self.batch):
            rows = order[start : start + self.batch]
            width = max(len(encoded[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = encoded[i]
                mask[r, : len(encoded[i])] = 1
            batches.append((rows, ids, mask))
        return batches

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), dimensions], each row of unit length (dot product = cosine)."""
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for rows, ids, mask in self.batches(texts):
            result[rows] = self.run(ids, mask)
        return result
