"""`appliance evidence`: evidence per competency for a kit and a transcript, on this box."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from appliance.cli.common import Subparsers, config_from
from appliance.evidence import embedding_model
from appliance.evidence.documents import kit_competencies, read_json, transcript_utterances
from appliance.evidence.embedder import Embedder
from appliance.evidence.ranking import Evidence, rank


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "evidence",
        parents=[common],
        help="the candidate's turns that bear on each competency of a kit (docs/evidence.md)",
    )
    parser.add_argument("kit", help="the kit as a JSON kit document")
    parser.add_argument("transcript", help="the transcript as JSON (segments with speakers)")
    parser.add_argument("--candidate", required=True, help="the candidate's speaker name")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=evidence)


def evidence(args: argparse.Namespace) -> int:
    kit = kit_competencies(read_json(Path(args.kit), "kit"))
    language, utterances = transcript_utterances(read_json(Path(args.transcript), "transcript"))
    model = embedding_model.load(config_from(args).models_dir)
    found = rank(Embedder(model), kit, utterances, args.candidate, language=language)
    if args.format == "json":
        document = {"model": {"name": model.name, "sha256": model.sha256}, **asdict(found)}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(as_text(found))
    return 0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def as_text(found: Evidence) -> str:
    lines = [found.note] if found.note else []
    for competency in found.competencies:
        lines.append(
            f"{competency.name} (id {competency.id}): {competency.relevant_turns} relevant turns, "
            f"{competency.relevant_seconds:.0f} s of {competency.candidate_seconds:.0f} s "
            "of the candidate's speech"
        )
        for n, quote in enumerate(competency.quotes, start=1):
            lines.append(
                f"  {n}. {_clock(quote.start)}-{_clock(quote.end)}  {quote.score:.2f}  "
                f'"{quote.quote}"'
            )
    return "\n".join(lines) + "\n"
