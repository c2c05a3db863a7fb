"""The `appliance` command: init, serve, user and audit administration.

Every failure an operator can cause ends as one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from appliance import __version__
from appliance.config import Config, default_data_dir, load_config
from appliance.errors import ApplianceError

ROLES = ("web", "sfu", "worker")


def _config(args: argparse.Namespace) -> Config:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return load_config(data_dir.absolute(), Path(args.config) if args.config else None)


def cmd_init(args: argparse.Namespace) -> int:
    from appliance.datadir import initialize

    config = _config(args)
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


def cmd_serve(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.host:
        config.web.host = config.sfu.host = args.host
    if args.port:
        config.web.port = args.port
    if args.role is None:
        return _serve_all(args, config)
    if args.role == "sfu":
        from appliance.sfu import server

        port = args.port or config.sfu.port
        print(f"SFU listening on http://{config.sfu.host}:{port}", flush=True)
        server.run(config.sfu.host, port)
        return 0

    from appliance.runtime import open_runtime

    runtime = open_runtime(config)
    try:
        if args.role == "web":
            import uvicorn

            from appliance.web.app import create_app

            print(f"Web listening on {config.public_url}", flush=True)
            uvicorn.run(
                create_app(runtime),
                host=config.web.host,
                port=config.web.port,
                log_level="warning",
                proxy_headers=True,
                server_header=False,
            )
        else:
            from appliance import worker

            worker.run(runtime)
    finally:
        runtime.close()
    return 0


def _serve_all(args: argparse.Namespace, config: Config) -> int:
    """The embedded default: init if needed, then web, SFU and worker as child processes."""
    from appliance.datadir import initialize

    result = initialize(config)
    if result.setup_url:
        print(
            f"Finish setup in a browser (this link works once):\n  {result.setup_url}", flush=True
        )
    base = [sys.executable, "-m", "appliance", "serve"]
    common = ["--data-dir", str(config.data_dir)] + (
        ["--config", args.config] if args.config else []
    )
    if args.host:
        common += ["--host", args.host]
    children = [
        subprocess.Popen([*base, "web", *common, "--port", str(config.web.port)]),
        subprocess.Popen([*base, "sfu", *common, "--port", str(config.sfu.port)]),
        subprocess.Popen([*base, "worker", *common]),
    ]

    def stop(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    try:
        os.wait()  # the first child to stop takes the others with it
    except ChildProcessError:
        pass
    finally:
        stop(signal.SIGTERM, None)
        for child in children:
            code = child.wait()
            if code not in (0, -signal.SIGTERM):
                exit_code = exit_code or code
    return exit_code


def _read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise ApplianceError("no terminal to ask for a password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise ApplianceError("the two passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    from appliance.accounts import create_user
    from appliance.runtime import open_runtime

    runtime = open_runtime(_config(args))
    try:
        user = create_user(
            runtime.audit,
            "cli",
            args.email,
            args.role,
            _read_new_password(args.password_stdin),
            name=args.name,
        )
    finally:
        runtime.close()
    print(f"Added {user.email} ({user.role}).")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from appliance.database import open_database
    from appliance.storage import audit
    from appliance.storage.appliance_keys import key_dir, load_public_key

    config = _config(args)
    public_key = load_public_key(
        Path(args.public_key) if args.public_key else key_dir(config.data_dir) / "signing.pub"
    )
    if not config.database.url and not (config.data_dir / "appliance.db").exists():
        raise ApplianceError(f"no database in {config.data_dir}; check --data-dir")
    db = open_database(config.database_url)
    try:
        result = audit.verify(public_key)
    finally:
        db.close()
    if result.ok:
        print(f"OK: {result.entries} entries, {result.checkpoints} checkpoints")
        return 0
    print(f"FAILED at entry {result.bad_seq}: {result.reason}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="where the appliance keeps its state (default: $APPLIANCE_DATA_DIR "
        "or ~/.local/share/parley)",
    )
    common.add_argument("--config", help="configuration file (default: <data-dir>/appliance.toml)")

    parser = argparse.ArgumentParser(
        prog="appliance", description="Parley, the self-hosted interview appliance."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser(
        "init", parents=[common], help="create or upgrade the data dir and print the setup link"
    )
    init.set_defaults(func=cmd_init)

    serve = commands.add_parser(
        "serve", parents=[common], help="run web, sfu and worker (all three when no role is given)"
    )
    serve.add_argument("role", nargs="?", choices=ROLES)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (web default 8080)")
    serve.set_defaults(func=cmd_serve)

    user = commands.add_parser("user", help="manage staff accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", parents=[common], help="add a staff account")
    add.add_argument("email")
    add.add_argument(
        "--role", required=True, choices=("admin", "recruiter", "interviewer", "compliance")
    )
    add.add_argument("--name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_user_add)

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify", parents=[common], help="check the hash chain and signed checkpoints"
    )
    verify.add_argument("--public-key", help="signing.pub to verify with (default: the data dir's)")
    verify.set_defaults(func=cmd_audit_verify)
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
        print(
            f"appliance: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
