"""`appliance system apply-hostname`: give the machine the host name set in the browser (root)."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.box.hostname import apply_hostname
from appliance.box.settings import read_settings
from appliance.cli.common import Subparsers, config_from


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("system", help="the machine the appliance runs on")
    actions = group.add_subparsers(dest="system_command", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply-hostname", parents=[common], help="apply the host name from the settings (as root)"
    )
    apply.add_argument("--etc", default="/etc", help="where hostname and hosts live")
    apply.set_defaults(func=run_apply_hostname)


def run_apply_hostname(args: argparse.Namespace) -> int:
    stored = read_settings(config_from(args).data_dir).get("system", {}).get("hostname", "")
    name = apply_hostname(str(stored), Path(args.etc))
    print(f"The host name is now {name}." if name else "The host name is unchanged.")
    return 0
