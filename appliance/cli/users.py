"""`appliance user add`."""

from __future__ import annotations

import argparse
import getpass
import sys

from appliance.cli.common import Subparsers, opened
from appliance.core.errors import ApplianceError
from appliance.db.models import Role
from appliance.staff.accounts import create_user


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    user = commands.add_parser("user", help="manage staff accounts")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="add a staff account")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=add_user)


def read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise ApplianceError("no terminal to ask for a password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise ApplianceError("the two passwords differ")
    return first


def add_user(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        password = read_new_password(args.password_stdin)
        user = create_user(runtime.audit, "cli", args.email, args.role, password, name=args.name)
    print(f"Added {user.email} ({user.role}).")
    return 0
