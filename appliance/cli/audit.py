"""`appliance audit verify`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appliance.cli.common import Subparsers, config_from
from appliance.core.errors import ApplianceError
from appliance.db.database import open_database
from appliance.storage import audit
from appliance.storage.appliance_keys import key_dir, load_public_key
from appliance.storage.audit_anchor import anchor_path


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("audit", help="the tamper-evident audit log")
    actions = group.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", parents=[common], help="check the hash chain and signed checkpoints"
    )
    verify.add_argument("--public-key", help="signing.pub to verify with (default: the data dir's)")
    verify.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="NOTE",
        help="a checkpoint note kept off the box (audit-checkpoint.note): the log must still "
        "hold its entry; may be given more than once",
    )
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    config = config_from(args)
    public_key = load_public_key(
        Path(args.public_key) if args.public_key else key_dir(config.data_dir) / "signing.pub"
    )
    if not config.database.url and not (config.data_dir / "appliance.db").exists():
        raise ApplianceError(f"no database in {config.data_dir}; check --data-dir")
    notes = [Path(note) for note in args.against]
    for note in notes:
        if not note.is_file():
            raise ApplianceError(f"{note} is not a readable checkpoint note")
    db = open_database(config.database_url)
    try:
        result = audit.verify_against(
            public_key, config.audit.checkpoint_every, [anchor_path(config.data_dir), *notes]
        )
    finally:
        db.close()
    if result.ok:
        print(f"OK: {result.entries} entries, {result.checkpoints} checkpoints")
        return 0
    where = f" at entry {result.bad_seq}" if result.bad_seq else ""
    print(f"FAILED{where}: {result.reason}", file=sys.stderr)
    return 1
