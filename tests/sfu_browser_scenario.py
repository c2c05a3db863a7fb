"""Run inside a fresh network namespace (only loopback): an SFU, and two Chromium pages.

Page A publishes Chromium's fake camera and microphone; page B must decode video and receive
audio through the SFU. Prints one JSON line with page B's totals; exits non-zero on failure.
An argument sets the SFU's video codecs (`H264`: the browser must encode and decode H.264).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.config import load_config
from appliance.sfu.server import create_app
from appliance.sfu.token import issue
from tests.chromium import CHROMIUM, MEDIA_FLAGS


@contextlib.asynccontextmanager
async def sfu_test_page(settings: dict[str, str]) -> AsyncIterator[tuple[str, Ed25519PrivateKey]]:
    """An SFU on a free loopback port: its test page's URL, and the key that signs its tokens."""
    config = load_config(Path(tempfile.mkdtemp()), environ=settings)
    key = Ed25519PrivateKey.generate()
    runner = web.AppRunner(create_app(config, key.public_key()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/sfu/test.html", key
    finally:
        await runner.cleanup()


async def main() -> None:
    settings = {"APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true"}
    if len(sys.argv) > 1:
        settings["APPLIANCE_SFU_VIDEO_CODECS"] = sys.argv[1]
    async with sfu_test_page(settings) as (base, key), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
        alice = await browser.new_page()
        bob = await browser.new_page()
        alice_token = issue(key, "browser-room", "alice", "interviewer", 300)
        bob_token = issue(key, "browser-room", "bob", "interviewer", 300)
        await bob.goto(f"{base}#token={bob_token}")
        await alice.goto(f"{base}#token={alice_token}&publish=1")
        totals: dict[str, int] = {}
        for _ in range(150):
            await asyncio.sleep(0.2)
            totals = await bob.evaluate("window.parley ? window.parley.stats() : {}")
            if totals.get("framesDecoded", 0) > 30 and totals.get("audioSamples", 0) > 0:
                break
        # A network blip: alice's signaling socket drops; her client rejoins and republishes.
        await alice.evaluate("window.parley.client.ws.close()")
        rejoined = False
        for _ in range(100):
            await asyncio.sleep(0.2)
            if await alice.evaluate("window.parley.client.attempt === 0") and (
                await alice.text_content("#state") == "connected"
            ):
                rejoined = True
                break
        before = totals.get("framesDecoded", 0)
        after: dict[str, int] = {}
        for _ in range(100):
            await asyncio.sleep(0.2)
            after = await bob.evaluate("window.parley.stats()")
            if after.get("framesDecoded", 0) > before + 30:
                break
        state = await alice.text_content("#state")
        print(
            json.dumps(
                {"bob": totals, "after_blip": after, "rejoined": rejoined, "alice_state": state}
            )
        )
        await browser.close()
    ok = (
        totals.get("framesDecoded", 0) > 30
        and totals.get("audioSamples", 0) > 0
        and rejoined
        and after.get("framesDecoded", 0) > totals.get("framesDecoded", 0) + 30
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
