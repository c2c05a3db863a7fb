"""Nothing leaves the box unless an administrator connects it to something: the appliance on its
default configuration sends no packet at all, on any interface but loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.core.config import Config
from tests.conftest import namespace_available

SCENARIO = Path(__file__).parent / "scenarios" / "network_silence.py"
REPO = Path(__file__).resolve().parent.parent
CONTROL = {"destination": "192.0.2.254", "port": 9}
# onnxruntime's telemetry looked its host up about 10 s after the import; watch well past that.
WATCH_SECONDS = 20


@pytest.mark.skipif(not namespace_available(), reason="needs root and unshare -n")
def test_serve_sends_nothing_off_the_box(config: Config, setup_url: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    command = [sys.executable, "-m", "appliance", "serve", "--data-dir", str(config.data_dir)]
    result = subprocess.run(
        ["unshare", "-n", sys.executable, str(SCENARIO), str(WATCH_SECONDS), *command],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=WATCH_SECONDS + 60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Web listening" in result.stderr  # the appliance really ran
    packets = json.loads(result.stdout)
    control = [p for p in packets if CONTROL.items() <= p.items()]
    assert control, f"the capture saw not even its control datagram: {packets}"
    sent = [p for p in packets if p not in control and p["interface"] != "lo"]
    assert sent == [], f"the appliance sent packets off the box: {sent}"
