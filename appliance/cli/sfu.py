"""`appliance sfu token`: join tokens for operators and tests."""

from __future__ import annotations

import argparse

from appliance.cli.common import Subparsers, config_from
from appliance.contracts.join_token import ROLES, issue
from appliance.storage.appliance_keys import load_keys


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("sfu", help="the media server")
    actions = group.add_subparsers(dest="sfu_command", required=True, metavar="ACTION")
    token = actions.add_parser("token", parents=[common], help="print a signed join token")
    token.add_argument("--room", required=True)
    token.add_argument("--identity", required=True)
    token.add_argument("--name", default="")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument(
        "--consent-required", action="store_true", help="may join, may not publish until consent"
    )
    token.add_argument("--no-record", action="store_true", help="the room is not recorded")
    token.add_argument(
        "--interview", type=int, help="the interview this room is (recordings are filed under it)"
    )
    token.add_argument(
        "--hide-recording",
        action="store_true",
        help="do not tell this participant that the room records (observers only)",
    )
    token.set_defaults(func=run_token)


def run_token(args: argparse.Namespace) -> int:
    keys = load_keys(config_from(args).data_dir)
    print(
        issue(
            keys.signing_key,
            args.room,
            args.identity,
            args.role,
            args.ttl,
            name=args.name,
            consent_required=args.consent_required,
            record=not args.no_record,
            interview_id=args.interview,
            record_visible=not args.hide_recording,
        )
    )
    return 0
