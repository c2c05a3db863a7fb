"""The review workspace's speed: search over many long transcripts, and media served to many
reviewers at once by one web process.

Run: .venv/bin/python bench/review.py [--interviews 1000] [--minutes 60] [--streams 10]

Search: makes --interviews finished interviews, each with a transcript of --minutes at 150
words a minute (1,000 of 60 minutes are 9 million words) drawn from a Zipf vocabulary of
20,000 made-up words, stored the way the worker stores them (sealed segments, keyed index).
Reports how long the index takes to build from the sealed segments and its size, then the time
per query as an administrator who may review every interview, by kind of query (a rare word, a
common word, two words, a quoted phrase), first with nothing else running and then with the
worker busy transcribing (a second process decoding speech in a loop on the same cores).

Serving: seals --streams recordings of --stream-mb bytes each, serves them from a real web
process and has --streams readers fetch them at once, each a different recording, with the
open-ended Range requests a player makes. Reports every answer's time (a stall is one over
1 s), throughput, and the web process's CPU per megabyte, and from it the share of a core
one stream costs at 1 Mbit/s; again with the worker busy.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS_PER_MINUTE = 150
WORDS_PER_SEGMENT = 15
VOCABULARY = 20_000
PASSWORD = "correct horse battery"


def made_up_words(rng: random.Random, count: int) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen[
            "".join(rng.choice(syllables) for _ in range(rng.choice((2, 3, 3, 4))))
        ] = None
    return list(seen)


def zipf_weights(count: int, s: float = 1.07) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, count + 1)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={percentile(ms, 0.5):.1f} ms p95={percentile(ms, 0.95):.1f} ms "
        f"max={max(ms):.1f} ms"
    )


@contextlib.contextmanager
def busy_worker(seconds_of_speech: float = 20.0) -> Iterator[None]:
    """A second process transcribing speech in a loop, as the worker does after interviews."""
    code = f"""
import numpy as np
from appliance.asr_onnx.service import decode_options, open_transcriber
from appliance.core.config import AsrConfig
from tests.support.speech import models_dir
settings = AsrConfig(device="cpu", threads=2)
transcriber = open_transcriber(models_dir(), settings)
rng = np.random.default_rng(1)
audio = (rng.standard_normal(int({seconds_of_speech} * 16000)) * 0.05).astype(np.float32)
while True:
    transcriber.transcribe(audio, decode_options(settings, words=True))
"""
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    try:
        time.sleep(8.0)  # past loading the model, into decoding
        if process.poll() is not None:
            print("  (the busy worker did not start; figures below are without it)")
        yield
    finally:
        process.kill()
        process.wait()


# --- search ---------------------------------------------------------------------------------


def build_interviews(runtime, count: int, minutes: float, rng: random.Random) -> list[str]:  # type: ignore[no-untyped-def]
    from appliance.asr_onnx.transcript import Segment, Transcript
    from appliance.db.models import Interview
    from appliance.hiring.candidates import CandidateFields, create_candidate
    from appliance.recordings import transcription
    from appliance.recordings.store import start_recording

    vocabulary = made_up_words(rng, VOCABULARY)
    weights = zipf_weights(VOCABULARY)
    words_each = int(minutes * WORDS_PER_MINUTE)
    started = time.perf_counter()
    for n in range(count):
        candidate = create_candidate(
            runtime.audit, "bench", CandidateFields(f"Candidate {n}", f"c{n}@example.com")
        )
        when = dt.datetime(2026, 1, 1) + dt.timedelta(hours=n)
        interview = Interview.create(
            candidate=candidate, starts_at=when, ends_at=when, status="completed"
        )
        recording = start_recording(runtime, interview)
        recording.status = "complete"
        recording.save()
        said = rng.choices(vocabulary, weights, k=words_each)
        seconds_per_segment = minutes * 60 / (words_each / WORDS_PER_SEGMENT)
        segments = [
            Segment(
                i * seconds_per_segment,
                (i + 1) * seconds_per_segment,
                " ".join(said[k : k + WORDS_PER_SEGMENT]),
                speaker="Candidate" if i % 2 else "Interviewer",
            )
            for i, k in enumerate(range(0, words_each, WORDS_PER_SEGMENT))
        ]
        transcription.store_transcript(
            runtime, recording, Transcript("en", minutes * 60, segments, "bench")
        )
        if (n + 1) % 100 == 0:
            print(f"  {n + 1} interviews stored ({time.perf_counter() - started:.0f} s)")
    return vocabulary


def index_size(db) -> str:  # type: ignore[no-untyped-def]
    rows, payload = db.execute_sql(
        "SELECT count(*), sum(length(term) + length(segments)) FROM search_term"
    ).fetchone()
    try:
        pages = db.execute_sql(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_term%'"
        ).fetchone()[0]
        on_disk = f"{pages / 2**20:.1f} MiB on disk with its indexes"
    except Exception:
        on_disk = "on-disk size unavailable (SQLite built without dbstat)"
    return f"{rows} rows, {payload / 2**20:.1f} MiB of terms and postings, {on_disk}"


def queries(rng: random.Random, vocabulary: list[str], runtime, count: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from appliance.db.models import Recording
    from appliance.recordings import transcription

    some = list(Recording.select().order_by(Recording.id).limit(20))
    phrases = []
    for recording in some:
        rows = transcription.segment_texts(runtime, recording.id)
        said = rng.choice(rows)[1].split()
        start = rng.randrange(len(said) - 1)
        phrases.append(f'"{said[start]} {said[start + 1]}"')
    made = []
    for n in range(count):
        kind = ("rare", "common", "two words", "phrase")[n % 4]
        if kind == "rare":
            made.append((kind, rng.choice(vocabulary[5000:])))
        elif kind == "common":
            made.append((kind, rng.choice(vocabulary[:50])))
        elif kind == "two words":
            made.append((kind, f"{rng.choice(vocabulary[:2000])} {rng.choice(vocabulary[:2000])}"))
        else:
            made.append((kind, rng.choice(phrases)))
    return made


def run_queries(runtime, admin, made: list[tuple[str, str]]) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    from appliance.recordings import search

    times: dict[str, list[float]] = {}
    for kind, text in made:
        started = time.perf_counter()
        search.search(runtime, admin, "bench", text, search.Filters())
        times.setdefault(kind, []).append(time.perf_counter() - started)
    return times


def report_queries(times: dict[str, list[float]]) -> None:
    for kind, values in times.items():
        print(f"    {kind:10} {figures(values)}")
    print(f"    {'all':10} {figures([v for vs in times.values() for v in vs])}")


def bench_search(args: argparse.Namespace, runtime) -> None:  # type: ignore[no-untyped-def]
    from appliance.db.models import SearchTerm
    from appliance.recordings import search, transcription
    from appliance.staff.accounts import create_user

    rng = random.Random(7)
    print(f"search: {args.interviews} interviews of {args.minutes:g} minutes")
    vocabulary = build_interviews(runtime, args.interviews, args.minutes, rng)
    total_words = args.interviews * int(args.minutes * WORDS_PER_MINUTE)
    SearchTerm.delete().execute()
    started = time.perf_counter()
    transcription.index_unindexed(runtime)
    build = time.perf_counter() - started
    print(f"  index built from the sealed segments in {build:.1f} s ({total_words:,} words)")
    print(f"  index: {index_size(runtime.db)}")
    admin = create_user(runtime.audit, "bench", "admin@example.com", "admin", PASSWORD)
    made = queries(rng, vocabulary, runtime, args.queries)
    started = time.perf_counter()
    first = search.search(runtime, admin, "bench", made[0][1], search.Filters())
    print(
        f"  first query {1000 * (time.perf_counter() - started):.0f} ms "
        f"({first.searched} transcripts searched, {first.matched} matched)"
    )
    print("  queries, nothing else running:")
    report_queries(run_queries(runtime, admin, made))
    with busy_worker():
        print("  queries, worker busy transcribing:")
        report_queries(run_queries(runtime, admin, made))


# --- serving --------------------------------------------------------------------------------


def seal_streams(runtime, count: int, megabytes: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    from appliance.db.models import Interview
    from appliance.hiring.candidates import CandidateFields, create_candidate
    from appliance.recordings.store import BlobSpec, seal_blob, start_recording

    made = []
    block = os.urandom(1024 * 1024)
    for n in range(count):
        candidate = create_candidate(
            runtime.audit, "bench", CandidateFields(f"Viewer {n}", f"v{n}@example.com")
        )
        now = dt.datetime(2026, 2, 1)
        interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
        recording = start_recording(runtime, interview)
        spec = BlobSpec("candidate", "media", "track.webm", "video/webm")
        blob = seal_blob(runtime, "bench", recording, spec, (block for _ in range(megabytes)))
        recording.status = "complete"
        recording.save()
        made.append((recording.id, blob.object_id))
    return made


def signed_in(base: str, email: str):  # type: ignore[no-untyped-def]
    import httpx

    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login")
    token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"_csrf_token": token, "email": email, "password": PASSWORD})
    return client


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_all(client, url: str, size: int, answers: list[float]) -> None:  # type: ignore[no-untyped-def]
    offset = 0
    while offset < size:
        started = time.perf_counter()
        response = client.get(url, headers={"Range": f"bytes={offset}-"})
        assert response.status_code == 206, response.status_code
        offset += len(response.content)
        answers.append(time.perf_counter() - started)


def serve_round(base: str, pid: int, streams: list[tuple[int, str]], size: int) -> None:
    clients = [signed_in(base, "admin@example.com") for _ in streams]
    answers: list[list[float]] = [[] for _ in streams]
    threads = [
        threading.Thread(
            target=read_all,
            args=(client, f"/recordings/{rid}/media/{oid}", size, answers[n]),
        )
        for n, (client, (rid, oid)) in enumerate(zip(clients, streams, strict=True))
    ]
    cpu, started = cpu_seconds(pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, used = time.perf_counter() - started, cpu_seconds(pid) - cpu
    every = [a for per in answers for a in per]
    megabytes = size * len(streams) / 2**20
    stalls = sum(1 for a in every if a > 1.0)
    print(f"    answers (4 MiB each): {figures(every)}; over 1 s: {stalls}")
    print(
        f"    {megabytes:.0f} MiB in {wall:.1f} s ({megabytes / wall:.0f} MiB/s); web CPU "
        f"{used:.1f} s = {1000 * used / megabytes:.1f} ms per MiB; one stream at 1 Mbit/s "
        f"costs {100 * (used / megabytes) * (1e6 / 8 / 2**20):.2f} % of a core"
    )
    for client in clients:
        client.close()


def bench_serving(args: argparse.Namespace, runtime, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from appliance.staff.accounts import create_user
    from tests.support.waiting import wait_for_http

    print(f"serving: {args.streams} readers, {args.stream_mb} MiB each")
    streams = seal_streams(runtime, args.streams, args.stream_mb)
    with contextlib.suppress(Exception):
        create_user(runtime.audit, "bench", "admin@example.com", "admin", PASSWORD)
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "APPLIANCE_WEB_PORT": str(port)}
    web = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "web", "--data-dir", str(data_dir)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", time.monotonic() + 60)
        size = args.stream_mb * 2**20
        print("  nothing else running:")
        serve_round(base, web.pid, streams, size)
        with busy_worker():
            print("  worker busy transcribing:")
            serve_round(base, web.pid, streams, size)
    finally:
        web.terminate()
        web.wait(timeout=30)


def timed(label: str, action: Callable[[], None]) -> None:
    started = time.perf_counter()
    action()
    print(f"({label}: {time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interviews", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--stream-mb", type=int, default=100)
    parser.add_argument("--skip", choices=("search", "serving"), action="append", default=[])
    args = parser.parse_args()

    from appliance.box.datadir import initialize
    from appliance.core.config import load_config
    from appliance.runtime import open_runtime

    with tempfile.TemporaryDirectory(prefix="parley-bench-") as temp:
        data_dir = Path(temp) / "data"
        config = load_config(data_dir, environ={})
        initialize(config)
        runtime = open_runtime(config)
        try:
            if "search" not in args.skip:
                timed("search total", lambda: bench_search(args, runtime))
            if "serving" not in args.skip:
                timed("serving total", lambda: bench_serving(args, runtime, data_dir))
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
