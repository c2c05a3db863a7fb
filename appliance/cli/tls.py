"""`appliance tls apply`: install a certificate an administrator uploaded (run as root)."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.box import tls
from appliance.cli.common import Subparsers, config_from


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("tls", help="the certificate the box's reverse proxy serves")
    actions = group.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply", parents=[common], help="install an uploaded certificate and key (as root)"
    )
    apply.add_argument("--target", help="where the proxy reads cert.pem and key.pem")
    apply.set_defaults(func=run_apply)


def run_apply(args: argparse.Namespace) -> int:
    config = config_from(args)
    target = Path(args.target or config.web.tls_dir)
    details = tls.apply_pending(config.data_dir, target)
    if details is None:
        print("No uploaded certificate is waiting.")
    else:
        print(f"Installed the certificate for {details.subject} ({details.fingerprint}).")
    return 0
