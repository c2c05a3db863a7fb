"""Each process tells systemd it is ready and keeps telling it that it is alive (Type=notify
with WatchdogSec=), through a real notification socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from appliance.runtime import Runtime
from tests.conftest import free_port


@pytest.mark.parametrize("role", ["web", "sfu", "worker"])
def test_a_process_reports_ready_then_alive(runtime: Runtime, role: str) -> None:
    directory = Path(tempfile.mkdtemp(dir="/tmp"))  # socket paths are short
    address = str(directory / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(30)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": address,
            "WATCHDOG_USEC": "200000",
            "APPLIANCE_WEB_PORT": str(free_port()),
            "APPLIANCE_SFU_PORT": str(free_port()),
            "APPLIANCE_ASR_LIVE_CAPTIONS": "false",
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance",
                "serve",
                role,
                "--data-dir",
                str(runtime.config.data_dir),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            messages = [listener.recv(256).decode()]
            started = time.monotonic()
            while messages.count("WATCHDOG=1") < 3:
                messages.append(listener.recv(256).decode())
            assert messages[0] == "READY=1"
            assert time.monotonic() - started < 5  # every 0.1 s, half the watchdog timeout
        finally:
            process.terminate()
            process.wait(timeout=30)
        os.unlink(address)
