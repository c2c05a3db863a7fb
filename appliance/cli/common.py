"""What every subcommand shares: the data dir and config options, and opening the appliance."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.core.config import Config, default_data_dir, load_config
from appliance.runtime import Runtime, open_runtime

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time before Python 3.12
    Subparsers = argparse._SubParsersAction


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="where the appliance keeps its state "
        "(default: $APPLIANCE_DATA_DIR or ~/.local/share/parley)",
    )
    common.add_argument("--config", help="configuration file (default: <data-dir>/appliance.toml)")
    return common


def config_from(args: argparse.Namespace) -> Config:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return load_config(data_dir.absolute(), Path(args.config) if args.config else None)


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[Runtime]:
    """The initialized appliance named by the options; its audit log is signed on the way out."""
    runtime = open_runtime(config_from(args))
    try:
        yield runtime
    finally:
        runtime.close()
