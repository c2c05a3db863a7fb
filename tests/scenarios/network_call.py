"""What the network watch runs for a busy box: the appliance serving, a live call through its SFU
between two aiortc peers, and a transcription, then the appliance idling until it is stopped.

Usage: network_call.py DATA_DIR CLIP WAV (the web and SFU ports come from APPLIANCE_* variables).
Progress goes to stderr; the last line says what the call and the transcription produced.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from aiortc.contrib.media import MediaPlayer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.sfu_harness import Client, participant_id
from tests.support.waiting import wait_for_http

APPLIANCE = [sys.executable, "-m", "appliance"]


def token(data_dir: str, identity: str) -> str:
    command = [*APPLIANCE, "sfu", "token", "--data-dir", data_dir, "--room", "watch"]
    command += ["--identity", identity, "--role", "interviewer", "--no-record"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


async def call(sfu: str, tokens: list[str], clip: str) -> int:
    """Ana publishes the clip, Ben receives it; returns the video frames Ben got."""
    async with aiohttp.ClientSession() as session:
        people = []
        for join in tokens:
            person = Client(await session.ws_connect(f"{sfu}/sfu/ws"))
            person.task = asyncio.ensure_future(person.pump())
            await person.send({"type": "join", "token": join})
            await person.expect("joined")
            people.append(person)
        ana, ben = people
        await ana.publish(MediaPlayer(clip, decode=False))
        deadline = time.monotonic() + 20
        while len(ben.frames_from(participant_id(ana), "video")) < 30:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        frames = len(ben.frames_from(participant_id(ana), "video"))
        for person in people:
            await person.close()
        return frames


IDLE_AFTER_SECONDS = 20


def main() -> int:
    data_dir, clip, wav = sys.argv[1:4]
    web = f"http://127.0.0.1:{os.environ['APPLIANCE_WEB_PORT']}"
    sfu = f"http://127.0.0.1:{os.environ['APPLIANCE_SFU_PORT']}"
    serve = subprocess.Popen([*APPLIANCE, "serve", "--data-dir", data_dir], stdout=sys.stderr)

    def stop(*_: object) -> None:
        serve.terminate()
        serve.wait(timeout=30)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    deadline = time.monotonic() + 60
    wait_for_http(f"{web}/healthz", deadline)
    wait_for_http(f"{sfu}/healthz", deadline)
    frames = asyncio.run(call(sfu, [token(data_dir, "ana"), token(data_dir, "ben")], clip))
    text = subprocess.run(
        [*APPLIANCE, "transcribe", wav, "--data-dir", data_dir, "--format", "txt"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"call done: {frames} video frames; transcript: {text!r}", file=sys.stderr, flush=True)
    # The box stays up, idle, long enough for anything that phones home some time after an
    # import (onnxruntime's telemetry looked its host up about 10 s after it) to show.
    time.sleep(IDLE_AFTER_SECONDS)
    serve.terminate()
    serve.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
