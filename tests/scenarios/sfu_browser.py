"""Run inside a fresh network namespace (only loopback): an SFU, and two Chromium pages.

Page A publishes Chromium's fake camera and microphone; page B must decode video and receive
audio through the SFU. Prints one JSON line with page B's totals; exits non-zero on failure.
An argument sets the SFU's video codecs (`H264`: the browser must encode and decode H.264).

With `--outage` (in a namespace whose only other interface is v0, 10.77.0.1/24), the media
path changes instead: the address the SFU's ICE uses goes away and another comes, the
websockets (on loopback) stay up, and both pages must notice, rejoin and get media again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appliance.contracts.join_token import issue
from appliance.core.config import load_config
from appliance.sfu.server import create_app
from tests.support.chromium import CHROMIUM, MEDIA_FLAGS

ADDRESS = "10.77.0.1/24"  # tests.firefox.NAMESPACE's v0
NEW_ADDRESS = "10.77.0.3/24"


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


async def decoded_frames(page: Page, more_than: int, seconds: float) -> dict[str, int]:
    """Poll the page's receive totals until it has decoded `more_than` frames and some audio."""
    totals: dict[str, int] = {}
    for _ in range(int(seconds / 0.2)):
        await asyncio.sleep(0.2)
        totals = await page.evaluate("window.parley ? window.parley.stats() : {}")
        if totals.get("framesDecoded", 0) > more_than and totals.get("audioSamples", 0) > 0:
            break
    return totals


async def signaling_blip(alice: Page, bob: Page, before: dict[str, int]) -> dict[str, object]:
    """Alice's signaling socket drops; her client rejoins and republishes."""
    await alice.evaluate("window.parley.client.ws.close()")
    rejoined = False
    for _ in range(100):
        await asyncio.sleep(0.2)
        if await alice.evaluate("window.parley.client.attempt === 0") and (
            await alice.text_content("#state") == "connected"
        ):
            rejoined = True
            break
    after = await decoded_frames(bob, before.get("framesDecoded", 0) + 30, 20)
    ok = rejoined and after.get("framesDecoded", 0) > before.get("framesDecoded", 0) + 30
    return {"after_blip": after, "rejoined": rejoined, "ok": ok}


async def joined_again_elsewhere(alice: Page, again: Page, url: str) -> dict[str, object]:
    """Alice opens her link in another tab: the new tab takes over, the old one stops for good
    (it must not rejoin and push the new one out in turn)."""
    await again.goto(url)

    async def states() -> dict[str, str | None]:
        return {
            "old": await alice.text_content("#state"),
            "new": await again.text_content("#state"),
        }

    wanted = {"old": "closed", "new": "connected"}
    for _ in range(100):
        await asyncio.sleep(0.2)
        if await states() == wanted:
            break
    await asyncio.sleep(6)  # longer than a rejoin would take to start
    settled = await states()
    return {"joined_again": settled, "ok": settled == wanted}


async def media_outage(alice: Page, bob: Page) -> dict[str, object]:
    """The address the media flows to goes away, and after a while the box has another one
    (a network change): the old peer connections can never recover, the websockets (on
    loopback) stay up, and only the clients' watch on their media can bring the call back."""
    watch = "window.seen = []; parley.client.addEventListener('state', (e) => seen.push(e.detail))"
    for page in (alice, bob):
        await page.evaluate(watch)
    frames_before = (await bob.evaluate("window.parley.stats()")).get("framesDecoded", 0)
    subprocess.run(["ip", "addr", "del", ADDRESS, "dev", "v0"], check=True)
    await asyncio.sleep(6)
    subprocess.run(["ip", "addr", "add", NEW_ADDRESS, "dev", "v0"], check=True)
    subprocess.run(
        ["ip", "route", "replace", "default", "via", "10.77.0.2", "dev", "v0"], check=True
    )
    # A new peer connection counts from zero: media is back once bob's count has grown by 30
    # from the lowest it showed since the change.
    low, totals = frames_before, {}
    for _ in range(250):
        await asyncio.sleep(0.2)
        totals = await bob.evaluate("window.parley.stats()")
        frames = totals.get("framesDecoded", 0)
        low = min(low, frames)
        if frames > low + 30 and await alice.text_content("#state") == "connected":
            break
    seen = {
        name: await page.evaluate("window.seen") for name, page in (("alice", alice), ("bob", bob))
    }
    resumed = totals.get("framesDecoded", 0) > low + 30
    noticed = all("reconnecting" in states for states in seen.values())
    return {"states_seen": seen, "after_change": totals, "ok": resumed and noticed}


async def main() -> None:
    outage = "--outage" in sys.argv
    codecs = [a for a in sys.argv[1:] if not a.startswith("--")]
    settings = {} if outage else {"APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true"}
    if codecs:
        settings["APPLIANCE_SFU_VIDEO_CODECS"] = codecs[0]
    async with sfu_test_page(settings) as (base, key), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
        alice = await browser.new_page()
        bob = await browser.new_page()
        alice_token = issue(key, "browser-room", "alice", "interviewer", 300)
        bob_token = issue(key, "browser-room", "bob", "interviewer", 300)
        await bob.goto(f"{base}#token={bob_token}")
        await alice.goto(f"{base}#token={alice_token}&publish=1")
        totals = await decoded_frames(bob, 30, 30)
        report: dict[str, object] = {"bob": totals}
        first_ok = totals.get("framesDecoded", 0) > 30 and totals.get("audioSamples", 0) > 0
        if first_ok and outage:
            report |= await media_outage(alice, bob)
            report["alice_state"] = await alice.text_content("#state")
        elif first_ok:
            report |= await signaling_blip(alice, bob, totals)
            report["alice_state"] = await alice.text_content("#state")
            if report["ok"]:
                alice_url = f"{base}#token={alice_token}&publish=1"
                report |= await joined_again_elsewhere(alice, await browser.new_page(), alice_url)
        print(json.dumps(report))
        await browser.close()
    sys.exit(0 if first_ok and report.get("ok") else 1)


if __name__ == "__main__":
    asyncio.run(main())
