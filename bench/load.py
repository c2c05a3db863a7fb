"""A busy box: recorded interviews at once, the worker transcribing, staff browsing, for minutes.

Run: .venv/bin/python bench/load.py [--rooms 4] [--minutes 10] [--staff 20]

The web, SFU and worker run as on the box (`appliance serve web|sfu|worker`, each its own
process) on a data dir filled to size S of bench/data.py. Then:

1. Baseline: --staff signed-in recruiters browse (lists, a candidate, the interviews, the
   recordings; one page a second each) for 30 s with nothing else running.
2. Load: --rooms recorded interviews of three (synthetic aiortc peers: each publishes a
   640x480 30 fps VP8 + Opus clip and receives the other two) for --minutes, the same staff
   browsing throughout, and the worker following and transcribing the recordings as they go.
3. After: every room ends; each recording must be filed complete and decrypt whole, and each
   transcript be done, within a bound.

It prints every received track's frame rate (mean and slowest) and the SFU's loop lag and
dropped frames over the load, the web's p50/p95/max and errors under load against the
baseline, "database is locked" in any log, and the recordings and transcripts after.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from data import seed  # noqa: E402
from faults import Box, wait  # noqa: E402
from sfu import (  # noqa: E402
    Crowd,
    clip_packets,
    make_clip,
    measure,
)

from appliance.contracts.join_token import issue  # noqa: E402
from appliance.db.database import utcnow  # noqa: E402
from appliance.db.models import (  # noqa: E402
    Candidate,
    Interview,
    Recording,
    RecordingBlob,
    TranscriptionJob,
)
from appliance.recordings.store import open_blob  # noqa: E402
from appliance.sfu.ice import gather_on_loopback_only  # noqa: E402
from appliance.staff.accounts import create_user  # noqa: E402
from appliance.storage.appliance_keys import load_keys  # noqa: E402

PASSWORD = "correct horse battery"
BASELINE_SECONDS = 30
THINK_SECONDS = 1.0
PAGES = ["/", "/candidates", "/candidates/1", "/interviews", "/recordings", "/positions", "/kits"]


async def browse(
    base: str, email: str, until: list[float], answers: list[tuple[float, int]]
) -> None:
    """One recruiter: signs in, then reads a page a second until `until[0]` (monotonic)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        form = (await client.get("/login", headers={"accept": "text/html"})).text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form)
        assert token, "no sign-in form"
        signed = await client.post(
            "/login",
            data={"_csrf_token": token[1], "email": email, "password": PASSWORD, "code": ""},
        )
        assert signed.status_code in (200, 303), signed.text
        while time.monotonic() < until[0]:
            began = time.monotonic()
            try:
                page = await client.get(random.choice(PAGES), headers={"accept": "text/html"})
                status = page.status_code
            except httpx.HTTPError:
                status = 0
            answers.append((time.monotonic() - began, status))
            await asyncio.sleep(THINK_SECONDS)


def summary(answers: list[tuple[float, int]]) -> str:
    times = sorted(t * 1000 for t, _ in answers)
    if not times:
        return "no answers"
    failed = sum(1 for _, status in answers if status != 200)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return (
        f"{len(times)} pages, p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, "
        f"max {times[-1]:.0f} ms, {failed} not 200"
    )


async def rooms(
    box: Box, keys: Any, interviews: list[int], clip: Path, seconds: float
) -> dict[str, Any]:
    """Recorded rooms of three for `seconds`; the frame rate of every received track."""
    session = aiohttp.ClientSession()
    crowd = Crowd()
    try:
        packets = clip_packets(clip)
        for interview in interviews:
            for person in ("ana", "ben", "cleo"):
                room = f"interview-{interview}"
                token = issue(
                    keys.signing_key, room, person, "interviewer", 7200, interview_id=interview
                )
                await crowd.join(session, box.sfu, token, packets)
        await asyncio.sleep(4)
        pid = box.processes["sfu"].pid
        result = await measure(session, box.sfu + "/healthz?reset_lag=1", crowd.stats, seconds, pid)
        result["fps"] /= 2  # each participant receives two video tracks
        result["fps_min"] /= 2
        return result
    finally:
        await crowd.leave()
        await session.close()


async def run(args: argparse.Namespace, box: Box, interviews: list[int]) -> dict[str, Any]:
    keys = load_keys(box.data_dir)
    clip = box.data_dir.parent / "clip.webm"
    make_clip(clip, 12)
    staff = [f"staff{n}@example.com" for n in range(args.staff)]
    baseline: list[tuple[float, int]] = []
    until = [time.monotonic() + BASELINE_SECONDS]
    await asyncio.gather(*(browse(box.web, who, until, baseline) for who in staff))
    loaded: list[tuple[float, int]] = []
    until = [float("inf")]
    browsing = [asyncio.ensure_future(browse(box.web, who, until, loaded)) for who in staff]
    try:
        media = await rooms(box, keys, interviews, clip, args.minutes * 60)
    finally:
        until[0] = 0.0
        await asyncio.gather(*browsing)
    return {"baseline": baseline, "loaded": loaded, "media": media}


def after(box: Box, interviews: list[int], bound: float) -> dict[str, str]:
    """Wait for every recording to be filed and transcribed; check each decrypts whole."""
    with box.database() as runtime:
        recordings = Recording.select().where(Recording.interview.in_(interviews))
        jobs = TranscriptionJob.select().join(Recording).where(Recording.interview.in_(interviews))
        filed_s = wait(
            lambda: recordings.where(Recording.status == "complete").count() == len(interviews),
            bound,
            "every recording to be filed",
        )
        finished = jobs.where(TranscriptionJob.status.in_(("done", "failed")))
        transcribed_s = wait(lambda: finished.count() == len(interviews), bound, "every transcript")
        # The worker goes on to write each recording's seekable rendition after filing: a blob
        # still being written has no size yet, so the check waits for the last to be sealed.
        writing = RecordingBlob.select().join(Recording).where(
            Recording.interview.in_(interviews), RecordingBlob.status == "writing"
        )
        wait(lambda: writing.count() == 0, bound, "every blob to be sealed")
        whole = 0
        broken: list[str] = []
        # Listed first: a query still being read holds a snapshot that the audited opens
        # below could not write from.
        for recording in list(recordings):
            blobs = list(RecordingBlob.select().where(RecordingBlob.recording == recording))
            sizes = [
                (sum(len(p) for p in open_blob(runtime, "load", b, "load check").stream()), b)
                for b in blobs
            ]
            whole += all(size == b.plaintext_bytes for size, b in sizes)
            broken += [
                f"recording {recording.id} {b.kind} {b.filename!r} ({b.status}): "
                f"{size} bytes decrypted, {b.plaintext_bytes} filed"
                for size, b in sizes
                if size != b.plaintext_bytes
            ]
        done = jobs.where(TranscriptionJob.status == "done").count()
        count = recordings.count()
    return {
        "recordings filed complete": f"{count} of {len(interviews)} ({filed_s:.0f} s)",
        "recordings that decrypt whole": f"{whole} of {count}"
        + "".join(f"\n    {line}" for line in broken),
        "transcripts done": f"{done} of {len(interviews)} ({transcribed_s:.0f} s after filing)",
    }


class LockProbe:
    """How long a writer waits for SQLite's write lock: every half second, on its own
    connection, BEGIN IMMEDIATE (what every write of the box starts with), then ROLLBACK."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.waits: list[float] = []
        self.long: list[str] = []  # when a wait ended that took over a second, and how long
        self.timeouts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        connection = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        while not self._stop.wait(0.5):
            began = time.monotonic()
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                self.waits.append(time.monotonic() - began)
                if self.waits[-1] > 1:
                    self.long.append(f"{time.strftime('%H:%M:%S')} {self.waits[-1]:.1f} s")
            except sqlite3.OperationalError:
                self.timeouts += 1
        connection.close()

    def summary(self) -> str:
        waits = sorted(w * 1000 for w in self.waits)
        if not waits:
            return "no probes"
        p95 = waits[min(len(waits) - 1, int(len(waits) * 0.95))]
        return (
            f"{len(waits)} probes, p95 {p95:.1f} ms, max {waits[-1]:.1f} ms, "
            f"{self.timeouts} gave up after 30 s; over a second: {self.long or 'none'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--staff", type=int, default=20)
    args = parser.parse_args()
    gather_on_loopback_only()
    with tempfile.TemporaryDirectory(prefix="parley-load-") as scratch:
        box = Box(
            Path(scratch),
            APPLIANCE_SFU_JOIN_BURST="1000",
            APPLIANCE_AUTH_SIGNIN_BURST="1000",  # every recruiter signs in from 127.0.0.1
        )
        with box.database() as runtime:
            seed(runtime, 1)
            for n in range(args.staff):
                create_user(runtime.audit, "load", f"staff{n}@example.com", "recruiter", PASSWORD)
            now = utcnow()
            interviews = [
                int(
                    Interview.create(
                        candidate=Candidate.create(name=f"Load {n}", email=f"load{n}@example.com"),
                        starts_at=now,
                        ends_at=now,
                    ).id
                )
                for n in range(args.rooms)
            ]
        for name in ("web", "sfu", "worker"):
            box.start(name)
        probe = LockProbe(box.data_dir / "appliance.db")
        try:
            with probe:
                measured = asyncio.run(run(args, box, interviews))
                outcome = after(box, interviews, max(600.0, args.minutes * 120))
        except BaseException:
            print(f"failed; write-lock waits so far: {probe.summary()}", file=sys.stderr)
            for name in ("web", "sfu", "worker"):
                (Path(tempfile.gettempdir()) / f"parley-load-{name}.log").write_text(box.log(name))
            raise
        finally:
            box.stop()
        locked = sum(box.log(name).count("database is locked") for name in ("web", "sfu", "worker"))
    media = measured["media"]
    print(f"{args.rooms} recorded rooms of three for {args.minutes:g} min, {args.staff} staff:")
    print(
        f"  received video: {media['fps']:.1f} fps per track, slowest {media['fps_min']:.1f}; "
        f"SFU at {media['cpu'] * 100:.0f} % of a core, loop lag p99 {media['lag_p99']} ms, "
        f"{media['sfu'].get('video_frames_dropped', 0):.2f} frames/s dropped"
    )
    print(f"  web, baseline (nothing else running): {summary(measured['baseline'])}")
    print(f"  web, under load: {summary(measured['loaded'])}")
    print(f"  waiting for the database's write lock, throughout: {probe.summary()}")
    print(f"  'database is locked' in the logs: {locked}")
    for key, value in outcome.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
