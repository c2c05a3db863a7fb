"""`appliance init`."""

from __future__ import annotations

import argparse

from appliance.box.datadir import initialize
from appliance.cli.common import Subparsers, config_from


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    init = commands.add_parser(
        "init", parents=[common], help="create or upgrade the data dir and print the setup link"
    )
    init.set_defaults(func=run)


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
