"""`appliance keys`: compliance recipients and rotation of the key-encryption key."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.cli.common import Subparsers, opened
from appliance.db.database import utcnow
from appliance.storage import keystore
from appliance.storage.recipients import generate_identity, write_identity


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("keys", help="compliance recipients and key rotation")
    actions = group.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    new = actions.add_parser(
        "new-recipient", help="make a compliance identity file and print its recipient string"
    )
    new.add_argument("--out", required=True, help="identity file to create (0600)")
    new.set_defaults(func=new_recipient)

    add = actions.add_parser(
        "add-recipient", parents=[common], help="wrap recording keys for this recipient too"
    )
    add.add_argument("recipient", help="a parley-recipient-v1:… string")
    add.add_argument("--label", default="", help="who holds it, e.g. 'Compliance, J. Smith'")
    add.add_argument(
        "--rewrap-existing", action="store_true", help="also wrap every existing recording's key"
    )
    add.set_defaults(func=add_recipient)

    rotate = actions.add_parser(
        "rotate", parents=[common], help="new key-encryption key; re-wrap every data key"
    )
    rotate.set_defaults(func=rotate_kek)


def new_recipient(args: argparse.Namespace) -> int:
    identity = generate_identity()
    write_identity(Path(args.out), identity, utcnow().isoformat(timespec="seconds") + "Z")
    print(identity.recipient)
    return 0


def add_recipient(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        count = keystore.add_recipient(
            runtime.audit,
            "cli",
            runtime.config.data_dir,
            args.recipient,
            args.label,
            args.rewrap_existing,
        )
    print(f"Added the recipient; re-wrapped {count} existing recording keys.")
    return 0


def rotate_kek(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        count = keystore.rotate(runtime.audit, "cli", runtime.config.data_dir)
    print(f"Rotated the key-encryption key; re-wrapped {count} data keys.")
    print("Restart running appliance processes so they pick up the new key.")
    return 0
