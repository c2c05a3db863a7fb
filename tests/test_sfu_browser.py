"""Headless Chromium publishes its fake camera and microphone; another page decodes them.

Runs in a network namespace of its own with only loopback, so WebRTC traffic cannot leave
127.0.0.1 (Chromium needs --allow-loopback-in-peer-connection for that, and the SFU its
test-only loopback ICE setting).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import namespace_available
from tests.support.firefox import NAMESPACE

pytestmark = pytest.mark.browser
SCENARIO = Path(__file__).parent / "scenarios" / "sfu_browser.py"


def run_scenario(namespace_setup: str, argument: str) -> dict[str, Any]:
    """The scenario in a new network namespace set up by `namespace_setup`; its report."""
    command = f'{namespace_setup} && exec "{sys.executable}" "{SCENARIO}" {argument}'
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", command], capture_output=True, text=True, timeout=150
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
@pytest.mark.parametrize(("setting", "codec"), [("VP8,H264", "video/VP8"), ("H264", "video/H264")])
def test_chromium_publishes_another_page_decodes_and_a_dropped_client_comes_back(
    setting: str, codec: str
) -> None:
    report = run_scenario("ip link set lo up", setting)
    assert report["bob"]["framesDecoded"] > 30 and report["bob"]["audioSamples"] > 0
    assert set(report["bob"]["codecs"]) == {codec, "audio/opus"}
    assert report["rejoined"] and report["alice_state"] == "connected"
    assert report["after_blip"]["framesDecoded"] > report["bob"]["framesDecoded"] + 30
    assert report["joined_again"] == {"old": "closed", "new": "connected"}


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
def test_both_pages_rejoin_when_the_media_path_fails_under_a_live_websocket() -> None:
    """The network under the media changes while signaling stays up (a Wi-Fi change, a VPN):
    only the peer connections notice, and the clients must rejoin to get media back."""
    report = run_scenario(NAMESPACE, "--outage")
    assert all("reconnecting" in states for states in report["states_seen"].values())
    assert report["alice_state"] == "connected"
