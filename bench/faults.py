"""Faults an unlucky box meets, each run on real processes, with what a user sees and whether
anything filed was lost.

Run: .venv/bin/python bench/faults.py [--only NAME ...]   (needs root for the full disk)

Scenarios (docs/operations.md, "When things go wrong"):

- worker: `kill -9` of the worker halfway through a transcription. On restart the job must be
  queued again and finish, with the words of both speakers.
- web: `kill -9` of the web process during a recorded call. The call must go on (media and
  signaling do not pass through it), the web process must come back, and the recording must
  be filed whole once the call ends.
- backup: `appliance backup create` while a recruiter keeps saving. Every save must succeed
  (none refused, none lost); the report gives the slowest save during the backup.
- disk: the blob store fills up during a recorded call. The call must go on, the SFU must say
  why the recording stopped, and what was recorded before must be filed and readable.

The SFU killed mid-call is tested in tests/test_live_recording.py and
tests/test_sfu_recording.py (the recording is closed as truncated when the SFU restarts, and
its prefix plays).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiortc.contrib.media import MediaPlayer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from appliance.core.config import load_config  # noqa: E402
from appliance.db.models import (  # noqa: E402
    Candidate,
    Interview,
    Recording,
    RecordingBlob,
    TranscriptionJob,
)
from appliance.recordings import transcription  # noqa: E402
from appliance.runtime import open_runtime  # noqa: E402
from appliance.staff.accounts import create_user  # noqa: E402
from appliance.storage.recipients import generate_identity  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.support.recordings import two_person_recording  # noqa: E402
from tests.support.sfu_harness import Client, make_clip, participant_id  # noqa: E402
from tests.support.speech import link_models, models_dir  # noqa: E402
from tests.support.waiting import wait_for_http  # noqa: E402

APPLIANCE = [sys.executable, "-m", "appliance"]
PASSWORD = "correct horse battery"


class Box:
    """A data dir with its processes, each started and killed on its own."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.data_dir = root / "data"
        self.env = {
            **os.environ,
            "APPLIANCE_WEB_PORT": str(free_port()),
            "APPLIANCE_SFU_PORT": str(free_port()),
            "APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true",
            "APPLIANCE_SFU_ROOM_GRACE_SECONDS": "2",
            **settings,
        }
        self.web = f"http://127.0.0.1:{self.env['APPLIANCE_WEB_PORT']}"
        self.sfu = f"http://127.0.0.1:{self.env['APPLIANCE_SFU_PORT']}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = root / "logs"
        self.logs.mkdir()
        subprocess.run(
            [*APPLIANCE, "init", "--data-dir", str(self.data_dir)],
            env=self.env,
            check=True,
            capture_output=True,
        )
        link_models(self.data_dir, models_dir())

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [*APPLIANCE, "serve", name, "--data-dir", str(self.data_dir)],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        if name in ("web", "sfu"):
            wait_for_http(f"{getattr(self, name)}/healthz", time.monotonic() + 60)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    @contextlib.contextmanager
    def database(self) -> Iterator[Any]:
        settings = {k: v for k, v in self.env.items() if k.startswith("APPLIANCE_")}
        runtime = open_runtime(load_config(self.data_dir, environ=settings))
        try:
            yield runtime
        finally:
            runtime.close()

    def token(self, room: str, identity: str, interview: int | None) -> str:
        command = [*APPLIANCE, "sfu", "token", "--data-dir", str(self.data_dir), "--room", room]
        command += ["--identity", identity, "--role", "interviewer"]
        command += ["--interview", str(interview)] if interview else ["--no-record"]
        return subprocess.run(
            command, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()


def wait(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Seconds until `condition` held; raises after `seconds`."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > seconds:
            raise SystemExit(f"gave up after {seconds:.0f} s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - began


def worker(root: Path) -> dict[str, Any]:
    box = Box(root)
    with box.database() as runtime:
        recording, _ = two_person_recording(runtime, root, seconds=90.0)
        transcription.request_transcription(runtime, "faults", recording.id)
    job = lambda: TranscriptionJob.get(TranscriptionJob.recording == recording.id)  # noqa: E731
    with box.database() as runtime:
        box.start("worker")
        wait(lambda: job().status == "running" and job().progress >= 0.3, 600, "progress")
        progress = job().progress
        box.kill("worker")
        left = job().status
        box.start("worker")
        began = time.monotonic()
        wait(lambda: job().status == "done", 900, "the transcript")
        finished = time.monotonic() - began
        transcript = transcription.load_transcript(runtime, "faults", recording.id)
        words = sum(len(segment.words) for segment in transcript.segments)
    box.stop()
    return {
        "killed at progress": f"{progress:.0%}",
        "job after the kill": left,
        "done after restart (s)": f"{finished:.0f}",
        "words in the transcript": words,
        "lost": "nothing" if words > 0 else "THE TRANSCRIPT",
    }


async def _call(box: Box, interview: int, during: Callable[[], float]) -> dict[str, Any]:
    """Ana publishes a clip to Ben for the whole call; `during` runs mid-call (in a thread)
    and returns its own figure; the frames Ben got before, during and after it."""
    clip = box.data_dir.parent / "clip.webm"
    make_clip(clip, seconds=40.0)
    async with aiohttp.ClientSession() as session:
        people = []
        for identity in ("ana", "ben"):
            person = Client(await session.ws_connect(f"{box.sfu}/sfu/ws"))
            person.task = asyncio.ensure_future(person.pump())
            await person.send({"type": "join", "token": box.token("fault", identity, interview)})
            await person.expect("joined")
            people.append(person)
        ana, ben = people
        await ana.publish(MediaPlayer(str(clip), decode=False))
        got = lambda: len(ben.frames_from(participant_id(ana), "video"))  # noqa: E731
        await asyncio.sleep(8)
        before = got()
        figure = await asyncio.to_thread(during)
        during_frames = got() - before
        await asyncio.sleep(8)
        after = got() - before - during_frames
        for person in people:
            await person.close()
    return {"before": before, "during": during_frames, "after": after, "figure": figure}


def _interview(box: Box) -> int:
    with box.database():
        candidate = Candidate.create(name="Sam Lee", email="sam@example.com")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return int(Interview.create(candidate=candidate, starts_at=now, ends_at=now).id)


def _filed(box: Box, interview: int) -> dict[str, Any]:
    with box.database() as runtime:

        def complete() -> bool:
            found = Recording.get_or_none(Recording.interview == interview)
            return found is not None and found.status in ("complete", "interrupted", "failed")

        wait(complete, 120, "the recording to be filed")
        recording = Recording.get(Recording.interview == interview)
        blobs = list(RecordingBlob.select().where(RecordingBlob.recording == recording))
        readable = sum(
            1 for b in blobs if _readable(runtime, recording.id, b.object_id, b.plaintext_bytes)
        )
        return {
            "recording": recording.status,
            "tracks filed": len(blobs),
            "tracks readable": readable,
            "bytes": sum(b.plaintext_bytes or 0 for b in blobs),
        }


def _readable(runtime: Any, recording_id: int, object_id: str, size: int | None) -> bool:
    from appliance.recordings import playback

    try:
        answer = playback.answer(
            runtime, playback.Viewings(), "faults", recording_id, object_id, None
        )
        return sum(len(part) for part in answer.body) == answer.length == (size or answer.length)
    except Exception as exc:  # reported as unreadable, with why
        print(f"  track {object_id[:8]} unreadable: {exc}", file=sys.stderr)
        return False


def web(root: Path) -> dict[str, Any]:
    box = Box(root)
    for name in ("sfu", "web", "worker"):
        box.start(name)
    interview = _interview(box)

    def kill_and_restart() -> float:
        box.kill("web")
        time.sleep(5)  # the call goes on without it
        began = time.monotonic()
        box.start("web")
        return time.monotonic() - began

    frames = asyncio.run(_call(box, interview, kill_and_restart))
    report = {
        "video frames before / while the web was down / after": (
            f"{frames['before']} / {frames['during']} / {frames['after']}"
        ),
        "web back after (s)": f"{frames['figure']:.1f}",
        **_filed(box, interview),
    }
    box.stop()
    return report


def backup(root: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "bench"))
    from data import seed  # bench/data.py: a box of a real customer's size (M)

    box = Box(root)
    with box.database() as runtime:
        seed(runtime, 10)
        create_user(runtime.audit, "faults", "rita@example.com", "recruiter", PASSWORD)
    box.start("web")
    client = httpx.Client(base_url=box.web, timeout=30)
    form = client.get("/login", headers={"accept": "text/html"}).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form)
    assert token
    client.post(
        "/login",
        data={"_csrf_token": token[1], "email": "rita@example.com", "password": PASSWORD},
    )
    headers = {"x-csrftoken": client.cookies["parley_csrf"], "accept": "application/json"}
    saves: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def keep_saving() -> None:
        n = 0
        while not stop.is_set():
            began = time.monotonic()
            answer = client.post("/api/positions", json={"title": f"Saved {n}"}, headers=headers)
            saves.append((began, time.monotonic() - began, answer.status_code))
            n += 1

    saver = threading.Thread(target=keep_saving)
    saver.start()
    time.sleep(2)
    out = root / "backup.tar"
    began = time.monotonic()
    command = [*APPLIANCE, "backup", "create", "--data-dir", str(box.data_dir), "--out", str(out)]
    made = subprocess.run(
        [*command, "--recipient", generate_identity().recipient],
        env=box.env,
        capture_output=True,
        text=True,
    )
    ended = time.monotonic()
    time.sleep(2)
    stop.set()
    saver.join()
    box.stop()
    during = [s for s in saves if began <= s[0] <= ended]
    with box.database():
        from appliance.db.models import Position

        stored = Position.select().where(Position.title.startswith("Saved ")).count()
    return {
        "backup": "made" if made.returncode == 0 else f"FAILED: {made.stderr.strip()[-300:]}",
        "backup took (s)": f"{ended - began:.1f}",
        "backup size (MB)": f"{out.stat().st_size / 1e6:.0f}" if out.exists() else "-",
        "saves during the backup": len(during),
        "slowest save during it (ms)": f"{max((s[1] for s in during), default=0) * 1000:.0f}",
        "saves refused": sum(1 for s in saves if s[2] != 201),
        "saves stored / answered 201": f"{stored} / {sum(1 for s in saves if s[2] == 201)}",
    }


def disk(root: Path) -> dict[str, Any]:
    blobs = root / "blobs"
    blobs.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(blobs)], capture_output=True
    )
    if mounted.returncode != 0:
        return {"skipped": f"cannot mount a small disk: {mounted.stderr.decode().strip()}"}
    try:
        box = Box(root, APPLIANCE_STORAGE_BLOB_DIR=str(blobs))
        for name in ("sfu", "web", "worker"):
            box.start(name)
        interview = _interview(box)
        frames = asyncio.run(_call(box, interview, lambda: time.sleep(10) or 0.0))
        said = [line for line in box.log("sfu").splitlines() if " ERROR " in line]
        report = {
            "video frames before / during / after the disk filled": (
                f"{frames['before']} / {frames['during']} / {frames['after']}"
            ),
            "the SFU said": said[0].strip()[-200:] if said else "(nothing about the disk)",
            "tracebacks in the SFU log": box.log("sfu").count("Traceback"),
            **_filed(box, interview),
        }
        box.stop()
        return report
    finally:
        subprocess.run(["umount", "-l", str(blobs)], check=False)


SCENARIOS = {"worker": worker, "web": web, "backup": backup, "disk": disk}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=list(SCENARIOS))
    args = parser.parse_args()
    for name in args.only:
        with tempfile.TemporaryDirectory(prefix=f"parley-fault-{name}-") as scratch:
            began = time.monotonic()
            try:
                report = SCENARIOS[name](Path(scratch))
            except SystemExit as exc:
                report = {"FAILED": str(exc)}
                for log in sorted(Path(scratch).glob("logs/*.log")):
                    tail = log.read_text(errors="replace").splitlines()[-60:]
                    report[f"{log.stem} log"] = "\n    " + "\n    ".join(tail)
            print(f"{name} ({time.monotonic() - began:.0f} s):", flush=True)
            for key, value in report.items():
                print(f"  {key}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
