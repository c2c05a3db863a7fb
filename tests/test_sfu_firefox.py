"""Debian's Firefox and Chromium in one room through the SFU, each decoding the other.

Runs in a network namespace of its own (tests/support/firefox.py says how it is wired).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import namespace_available
from tests.support.firefox import FIREFOX, NAMESPACE

pytestmark = pytest.mark.browser
SCENARIO = Path(__file__).parent / "scenarios" / "sfu_firefox.py"


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
@pytest.mark.skipif(not os.path.exists(FIREFOX), reason="needs firefox-esr")
def test_firefox_and_chromium_see_and_hear_each_other() -> None:
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'{NAMESPACE} && exec "{sys.executable}" "{SCENARIO}"'],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for side in ("firefox_received", "chromium_received"):
        assert report[side]["framesDecoded"] > 30 and report[side]["audioSamples"] > 0, report
        assert set(report[side]["codecs"]) == {"video/VP8", "audio/opus"}
    assert report["firefox_state"] == "connected"
