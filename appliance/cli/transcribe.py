"""`appliance transcribe`: one local file through the installed model, with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from appliance.asr_onnx.audio import decode_audio
from appliance.asr_onnx.service import decode_options, open_transcriber
from appliance.asr_onnx.transcript import FORMATS
from appliance.asr_onnx.vad import VadOptions
from appliance.cli.common import Subparsers, config_from


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "transcribe", parents=[common], help="transcribe an audio or video file on this box"
    )
    parser.add_argument("audio", help="audio or video file")
    parser.add_argument("--model", help="installed model name (default: the configured one)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="txt")
    parser.add_argument("--words", action="store_true", help="word timestamps (json)")
    parser.add_argument("--language", help="language code; default: configured, else detected")
    parser.add_argument("--beam-size", type=int, help="1 for greedy decoding")
    parser.add_argument("--no-vad", action="store_true", help="transcribe silences too")
    parser.add_argument("--out", help="write here instead of standard output")
    parser.set_defaults(func=transcribe)


class ProgressBar:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool, unit: str = " s") -> None:
        self.enabled = enabled
        self.unit = unit
        self.last = 0.0

    def __call__(self, done: float, total: float) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        fraction = done / total if total else 1.0
        bar = "#" * int(fraction * 30)
        sys.stderr.write(f"\r[{bar:<30}] {fraction:4.0%} {done:7.1f}/{total:.1f}{self.unit}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def transcribe(args: argparse.Namespace) -> int:
    config = config_from(args)
    settings = config.asr
    if args.no_vad:
        settings.vad = False
    audio = decode_audio(Path(args.audio))
    transcriber = open_transcriber(config.models_dir, settings, args.model)
    options = decode_options(settings, words=args.words)
    if args.language:
        options.language = args.language
    if args.beam_size:
        options.beam_size = args.beam_size
    transcript = transcriber.transcribe(
        audio,
        options,
        vad=VadOptions() if settings.vad else None,
        progress=ProgressBar(sys.stderr.isatty() or bool(args.out)),
    )
    rendered = FORMATS[args.format](transcript)
    if args.out:
        Path(args.out).write_text(rendered, encoding="utf-8")
    else:
        sys.stdout.write(rendered)
    return 0
