"""The `appliance` command. Each subcommand group lives in its own module and registers itself.

Every failure an operator can cause ends as one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from appliance import __version__
from appliance.cli import (
    audit,
    backup,
    candidates,
    evidence,
    init,
    keys,
    models,
    recordings,
    retention,
    serve,
    sfu,
    system,
    tls,
    transcribe,
    users,
)
from appliance.cli.common import common_options
from appliance.core.errors import ApplianceError

GROUPS = (
    init,
    serve,
    users,
    audit,
    keys,
    recordings,
    candidates,
    retention,
    sfu,
    models,
    transcribe,
    evidence,
    backup,
    tls,
    system,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance", description="Parley, the self-hosted interview appliance."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for group in GROUPS:
        group.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ApplianceError as exc:
        print(f"appliance: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"appliance: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
