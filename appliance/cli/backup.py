"""`appliance backup`: a sealed backup of the whole appliance, and restoring it onto a new box."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.box import backup
from appliance.cli.common import Subparsers, config_from, opened
from appliance.storage.recipients import load_identity


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("backup", help="back up the appliance, or restore a backup")
    actions = group.add_subparsers(dest="backup_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        parents=[common],
        help="write a backup (database, keys, config, sealed blobs) while the appliance runs",
    )
    create.add_argument("--out", required=True, help="the backup file to create")
    create.add_argument(
        "--recipient",
        required=True,
        help="parley-recipient-v1:… whose identity file (kept off the box) opens the backup",
    )
    create.add_argument(
        "--without-blobs",
        action="store_true",
        help="leave the sealed blobs out (when the blob directory is backed up separately)",
    )
    create.set_defaults(func=run_create)

    restore = actions.add_parser(
        "restore", parents=[common], help="make a new, empty data dir the appliance in a backup"
    )
    restore.add_argument("backup", help="the backup file")
    restore.add_argument("--identity", required=True, help="the backup recipient's identity file")
    restore.set_defaults(func=run_restore)


def run_create(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        report = backup.create(
            runtime, "cli", Path(args.out), args.recipient, blobs=not args.without_blobs
        )
    print(
        f"Wrote {report.path}: {report.members} files ({report.blobs} blobs), "
        f"{report.bytes_written} bytes, readable only with the recipient's identity file."
    )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    config = config_from(args)
    report = backup.restore(config, Path(args.backup), load_identity(Path(args.identity)))
    print(f"Restored {report.members} files ({report.blobs} blobs) into {config.data_dir}.")
    return 0
