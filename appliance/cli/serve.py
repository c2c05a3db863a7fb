"""`appliance serve`: one role, or all three as supervised child processes."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from types import FrameType

from appliance.cli.common import Subparsers, config_from
from appliance.core.config import Config
from appliance.core.log_repeats import log_to_stderr

ROLES = ("web", "sfu", "worker")


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve", parents=[common], help="run web, sfu and worker (all three when no role is given)"
    )
    serve.add_argument("role", nargs="?", choices=ROLES)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (web default 8080)")
    serve.set_defaults(func=run)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    log_to_stderr(LOG_FORMAT)
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
        server.run(config, port)
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
    from appliance.box.datadir import initialize

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
