"""A language model an administrator brings to write short evidence summaries: off until one is
imported, and imported only if it passes the built-in evaluation (summary_evaluation.py).

The model is a directory packaged for onnxruntime-genai (`genai_config.json`, its ONNX files,
its tokenizer). Importing copies it into `<data-dir>/models/llm/<name>/`, runs the evaluation
on the box, and keeps it only when it passes; its manifest holds the SHA-256 of every file (the
model's hash is the SHA-256 of that list) and the evaluation's result. One model at a time: a
passing import replaces the one before. Loading re-checks every file's hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from appliance.asr_onnx.errors import ModelError
from appliance.asr_onnx.models import sha256_file
from appliance.evidence.summary_evaluation import Evaluation, evaluate

DIRECTORY = "llm"
CONFIG = "genai_config.json"
MANIFEST = "parley-manifest.json"
MAX_NEW_TOKENS = 120
MAX_MODEL_BYTES = 64 << 30


@dataclass(frozen=True)
class LanguageModel:
    directory: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def sha256(self) -> str:
        return str(self.manifest["sha256"])


def _model_hash(files: dict[str, str]) -> str:
    listing = "".join(f"{name}\0{digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def _check_source(source: Path) -> list[Path]:
    if not source.is_dir():
        raise ModelError(f"{source} is not a directory")
    try:
        config = json.loads((source / CONFIG).read_text())
        filename = config["model"]["decoder"]["filename"]
    except FileNotFoundError:
        raise ModelError(
            f"{source} has no {CONFIG}: not a model packaged for onnxruntime-genai"
        ) from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ModelError(f"{source / CONFIG} is not an onnxruntime-genai configuration") from None
    if not isinstance(filename, str) or not (source / filename).is_file():
        raise ModelError(f"{source / CONFIG} names a model file that is not there")
    files = [p for p in sorted(source.rglob("*")) if p.is_file() and not p.is_symlink()]
    if sum(p.stat().st_size for p in files) > MAX_MODEL_BYTES:
        raise ModelError(f"{source} is over {MAX_MODEL_BYTES >> 30} GiB")
    return files


class Summarizer:
    """Greedy generation with onnxruntime-genai (loaded only when a model is used)."""

    def __init__(self, directory: Path) -> None:
        try:
            import onnxruntime_genai as og
        except ImportError:
            raise ModelError("onnxruntime-genai is not installed on this box") from None
        self._og = og
        try:
            self.model = og.Model(str(directory))
            self.tokenizer = og.Tokenizer(self.model)
        except Exception as exc:  # the library raises its own bare errors
            raise ModelError(f"onnxruntime-genai cannot load {directory}: {exc}") from None

    def __call__(self, prompt: str) -> str:
        tokens = self.tokenizer.encode(prompt)
        params = self._og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(tokens) + MAX_NEW_TOKENS, do_sample=False)
        generator = self._og.Generator(self.model, params)
        generator.append_tokens(tokens)
        while not generator.is_done():
            generator.generate_next_token()
        produced = generator.get_sequence(0)[len(tokens) :]
        return str(self.tokenizer.decode(produced))


def import_model(
    models_dir: Path, source: Path, name: str
) -> tuple[LanguageModel | None, Evaluation]:
    """Copies and evaluates the model; (the installed model, or None when it failed, and the
    evaluation). A failing model leaves nothing behind and the installed one untouched."""
    if not name or "/" in name or name.startswith("."):
        raise ModelError(f"{name!r} is not a model name")
    files = _check_source(source)
    parent = models_dir / DIRECTORY
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        digests = {}
        for path in files:
            relative = path.relative_to(source)
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, work / relative)
            digests[str(relative)] = sha256_file(work / relative)
        evaluation = evaluate(Summarizer(work))
        if not evaluation.passed:
            shutil.rmtree(work)
            return None, evaluation
        manifest = {
            "name": name,
            "sha256": _model_hash(digests),
            "files": digests,
            "evaluation": {"passed": True, "passing": evaluation.passing,
                           "items": [asdict(i) for i in evaluation.items]},
        }  # fmt: skip
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        for old in parent.iterdir():
            if not old.name.startswith("."):
                shutil.rmtree(old)
        os.replace(work, parent / name)
        return LanguageModel(parent / name, manifest), evaluation
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def installed(models_dir: Path, *, verify: bool = True) -> LanguageModel | None:
    """The imported model, its files checked against its manifest (unless `verify` is False:
    to see which model is there without hashing gigabytes); None when there is none."""
    parent = models_dir / DIRECTORY
    found = (
        [d for d in sorted(parent.iterdir()) if not d.name.startswith(".")]
        if parent.is_dir()
        else []
    )
    if not found:
        return None
    directory = found[0]
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelError(
            f"the language model in {directory} has a damaged manifest; import it again"
        ) from None
    for relative, digest in files.items() if verify else ():
        path = directory / relative
        if not path.is_file() or sha256_file(path) != digest:
            raise ModelError(
                f"the language model's {relative} is missing or damaged; import it again"
            )
    return LanguageModel(directory, manifest)
