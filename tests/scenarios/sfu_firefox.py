"""Run inside a fresh network namespace (tests/test_sfu_firefox.py): an SFU, Debian's Firefox
and Chromium.

Each browser publishes its fake camera and microphone on the SFU test page and must decode the
other's video and receive its audio: Firefox's SDP (its own extension ids, codec order and
BUNDLE layout) against the SFU, both ways. Firefox is driven over Marionette, its own remote
protocol (tests/support/firefox.py). Prints one JSON line; exits
non-zero on failure.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appliance.contracts.join_token import issue
from tests.scenarios.sfu_browser import sfu_test_page
from tests.support.chromium import CHROMIUM, MEDIA_FLAGS
from tests.support.firefox import page_promise, page_value, start_firefox

STATS = "window.parley ? window.parley.stats() : {}"


def enough(totals: dict[str, Any]) -> bool:
    return bool(totals.get("framesDecoded", 0) > 30 and totals.get("audioSamples", 0) > 0)


async def main() -> None:
    report: dict[str, Any] = {}
    async with sfu_test_page({}) as (base, key):
        firefox = await asyncio.to_thread(start_firefox)
        try:
            report["firefox"] = firefox.session_capabilities["browserVersion"]
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=MEDIA_FLAGS
                )
                chromium = await browser.new_page()
                fox_token = issue(key, "mixed-room", "fox", "interviewer", 300)
                chrome_token = issue(key, "mixed-room", "chrome", "interviewer", 300)
                await asyncio.to_thread(firefox.navigate, f"{base}#token={fox_token}&publish=1")
                await chromium.goto(f"{base}#token={chrome_token}&publish=1")
                for _ in range(150):
                    await asyncio.sleep(0.2)
                    report["chromium_received"] = await chromium.evaluate(STATS)
                    report["firefox_received"] = await asyncio.to_thread(
                        page_promise, firefox, STATS
                    )
                    if enough(report["chromium_received"]) and enough(report["firefox_received"]):
                        break
                report["firefox_state"] = await asyncio.to_thread(
                    page_value, firefox, "document.getElementById('state').textContent"
                )
                await browser.close()
        finally:
            await asyncio.to_thread(firefox.cleanup)
    print(json.dumps(report))
    ok = enough(report.get("chromium_received", {})) and enough(report.get("firefox_received", {}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
