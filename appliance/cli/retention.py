"""`appliance retention run`."""

from __future__ import annotations

import argparse

from appliance.cli.common import Subparsers, opened
from appliance.recordings import retention


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("retention", help="retention policy")
    actions = group.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", parents=[common], help="erase every candidate past the retention period"
    )
    run.add_argument("--dry-run", action="store_true", help="only list who would be erased")
    run.set_defaults(func=run_retention)


def run_retention(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        due = retention.run(runtime, "retention", args.dry_run)
    verb = "Would erase" if args.dry_run else "Erased"
    for item in due:
        since = f"{item.since:%Y-%m-%d}"
        print(f"{verb} candidate {item.candidate_id} ({item.rule} rule, due since {since})")
    if not due:
        print("No candidate is past the retention period.")
    return 0
