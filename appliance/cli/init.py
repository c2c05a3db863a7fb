"""`appliance init` and `appliance setup-link`."""

from __future__ import annotations

import argparse

from appliance.box.datadir import initialize
from appliance.box.firstrun import setup_token
from appliance.cli.common import Subparsers, config_from, opened
from appliance.core.errors import ApplianceError


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    init = commands.add_parser(
        "init", parents=[common], help="create or upgrade the data dir and print the setup link"
    )
    init.set_defaults(func=run)
    link = commands.add_parser(
        "setup-link",
        parents=[common],
        help="print the first-run setup link again (it stays the same until it is used)",
    )
    link.add_argument(
        "--renew", action="store_true", help="make a new link; every earlier one stops working"
    )
    link.set_defaults(func=run_setup_link)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    result = initialize(config)
    if result.schema_from == 0:
        print(f"Initialized {config.data_dir} (schema version {result.schema_to}).")
    elif result.schema_from != result.schema_to:
        print(f"Upgraded the database from schema {result.schema_from} to {result.schema_to}.")
    else:
        print(f"{config.data_dir} is up to date (schema version {result.schema_to}).")
    if result.setup_url:
        print("Finish setup in a browser (this link works once):")
        print(f"  {result.setup_url}")
    return 0


def run_setup_link(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        token = setup_token(runtime.config.data_dir, renew=args.renew)
        if token is None:
            raise ApplianceError(
                "setup is complete: an administrator exists; sign in at "
                f"{runtime.config.public_url}/login"
            )
        if args.renew:
            runtime.audit.record("system", "setup.link_renewed", "")
    print("Finish setup in a browser (this link works once):")
    print(f"  {runtime.config.public_url}/setup/{token}")
    return 0
