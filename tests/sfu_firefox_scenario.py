"""Run inside a fresh network namespace (tests/test_sfu_firefox.py): an SFU, Debian's Firefox
and Chromium.

Each browser publishes its fake camera and microphone on the SFU test page and must decode the
other's video and receive its audio: Firefox's SDP (its own extension ids, codec order and
BUNDLE layout) against the SFU, both ways. Firefox is driven over Marionette, its own remote
protocol, since Playwright drives only its patched builds. Prints one JSON line; exits
non-zero on failure.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from marionette_driver.marionette import Marionette
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.config import load_config
from appliance.sfu.server import create_app
from appliance.sfu.token import issue
from tests.chromium import CHROMIUM, MEDIA_FLAGS

FIREFOX = "/usr/bin/firefox-esr"
FIREFOX_PREFS = {
    # A synthetic camera and microphone, granted without a prompt.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # Plain host candidates, not mDNS names nobody in the namespace could resolve.
    "media.peerconnection.ice.obfuscate_host_addresses": False,
}
STATS = """
const [resolve] = arguments;
(window.parley ? window.parley.stats() : Promise.resolve({})).then(resolve, () => resolve({}));
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def enough(totals: dict[str, Any]) -> bool:
    return bool(totals.get("framesDecoded", 0) > 30 and totals.get("audioSamples", 0) > 0)


async def main() -> None:
    config = load_config(Path(tempfile.mkdtemp()), environ={})
    key = Ed25519PrivateKey.generate()
    runner = web.AppRunner(create_app(config, key.public_key()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}/sfu/test.html"
    firefox = Marionette(
        bin=FIREFOX,
        headless=True,
        prefs=FIREFOX_PREFS,
        port=free_port(),
        gecko_log=str(Path(tempfile.mkdtemp()) / "gecko.log"),
    )
    report: dict[str, Any] = {}
    try:
        await asyncio.to_thread(firefox.start_session)
        report["firefox"] = firefox.session_capabilities["browserVersion"]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
            chromium = await browser.new_page()
            fox_token = issue(key, "mixed-room", "fox", "interviewer", 300)
            chrome_token = issue(key, "mixed-room", "chrome", "interviewer", 300)
            await asyncio.to_thread(firefox.navigate, f"{base}#token={fox_token}&publish=1")
            await chromium.goto(f"{base}#token={chrome_token}&publish=1")
            for _ in range(150):
                await asyncio.sleep(0.2)
                report["chromium_received"] = await chromium.evaluate("window.parley.stats()")
                report["firefox_received"] = await asyncio.to_thread(
                    firefox.execute_async_script, STATS, sandbox=None
                )
                if enough(report["chromium_received"]) and enough(report["firefox_received"]):
                    break
            report["firefox_state"] = await asyncio.to_thread(
                firefox.execute_script,
                "return document.getElementById('state').textContent",
                sandbox=None,
            )
            await browser.close()
    finally:
        await asyncio.to_thread(firefox.cleanup)
        await runner.cleanup()
    print(json.dumps(report))
    ok = enough(report.get("chromium_received", {})) and enough(report.get("firefox_received", {}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
