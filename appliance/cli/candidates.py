"""`appliance candidates`: erasure on request and legal holds."""

from __future__ import annotations

import argparse
import sys

from appliance.cli.common import Subparsers, opened
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.retention import release_hold, set_hold


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("candidates", help="erasure and legal holds")
    actions = group.add_subparsers(dest="candidates_command", required=True, metavar="ACTION")

    erase = actions.add_parser(
        "erase", parents=[common], help="crypto-shred a candidate's recordings and personal data"
    )
    erase.add_argument("candidate_id", type=int, metavar="CANDIDATE_ID")
    erase.add_argument("--reason", default="erasure request", help="recorded in the audit log")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(func=run_erase)

    hold = actions.add_parser("hold", parents=[common], help="put a candidate on legal hold")
    hold.add_argument("candidate_id", type=int, metavar="CANDIDATE_ID")
    hold.add_argument("--reason", required=True, help="case or ticket reference")
    hold.set_defaults(func=run_hold)

    release = actions.add_parser("release", parents=[common], help="release a legal hold")
    release.add_argument("candidate_id", type=int, metavar="CANDIDATE_ID")
    release.set_defaults(func=run_release)


def run_erase(args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Erase candidate {args.candidate_id} for good? Type 'erase': ")
        if answer.strip() != "erase":
            print("Nothing erased.")
            return 1
    with opened(args) as runtime:
        report = erase_candidate(runtime, "cli", args.candidate_id, args.reason)
    print(
        f"Erased candidate {report.candidate_id}: {len(report.recordings)} recordings, "
        f"{report.key_entries_destroyed} key entries destroyed, {report.blobs_deleted} blobs "
        "deleted."
    )
    return 0


def run_hold(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        set_hold(runtime.audit, "cli", args.candidate_id, args.reason)
    print(f"Candidate {args.candidate_id} is on legal hold.")
    return 0


def run_release(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        release_hold(runtime.audit, "cli", args.candidate_id)
    print(f"Released the legal hold on candidate {args.candidate_id}.")
    return 0
