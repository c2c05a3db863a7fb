"""The review workspace's speed: search over many long transcripts, and media served to many
reviewers at once by one web process.

Run: .venv/bin/python bench/review.py [--interviews 1000] [--minutes 60] [--seeks 20]
[--live-minutes 60] [--live-speed 1] [--streams 10]
[--skip search|playback|transcript|serving]

Search: makes --interviews finished interviews, each with a transcript of --minutes at 150
words a minute (1,000 of 60 minutes are 9 million words) drawn from a Zipf vocabulary of
20,000 made-up words, stored the way the worker stores them (sealed segments, keyed index).
Reports how long the index takes to build from the sealed segments and its size, then the time
per query as an administrator who may review every interview, by kind of query (a rare word, a
common word, two words, a quoted phrase), first with nothing else running and then with the
worker busy transcribing (a second process decoding speech in a loop on the same cores).

Playback: a two-person recording of --minutes (VP8 320x240 at 30 fps and Opus on each track,
muxed live the way the SFU records it, with a transcript of 150 words a minute per speaker)
opened in Chromium on the review page. Reports the transcript pane's longest task while the
page loads and while it follows 10 s of playback at 2x, the time from Play to the first frame
painted, and from a seek (to --seeks random points) to the first new frame painted on every tile
(requestVideoFrameCallback): first on the tracks as recorded (the baseline: no Cues), then on
their seekable renditions, then on the renditions with the worker busy.

Transcript at the end: a two-person interview of --live-minutes (scripted sentences spoken by
espeak-ng, the two people taking turns, each on their own Opus track muxed the SFU's way) is
sealed into the store at --live-speed times real time while the worker's track followers
(recordings/live_transcription.py) transcribe it, through the same code path as a live room.
Reports how far behind the followers were when the recording ended and the time from the end
to the stored transcript; the baseline is the batch transcript of the same recording, as the
worker made it before (every track decoded and transcribed after the end), same model, beam,
VAD and threads.

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
        seen["".join(rng.choice(syllables) for _ in range(rng.choice((2, 3, 3, 4))))] = None
    return list(seen)


def zipf_weights(count: int, s: float = 1.07) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, count + 1)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ratio(baseline: float | None, measured: float | None) -> str:
    """baseline / measured as "N.Nx", or why there is none (a round with no figure, or 0)."""
    if baseline is None or measured is None:
        return "none (a round measured nothing)"
    if measured <= 0:
        return "none (the measured figure is 0)"
    return f"{baseline / measured:.1f}x"


def figures(values: list[float]) -> str:
    if not values:
        return "n=0 (nothing measured)"
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={percentile(ms, 0.5):.1f} ms p95={percentile(ms, 0.95):.1f} ms "
        f"max={max(ms):.1f} ms"
    )


@contextlib.contextmanager
def busy_worker(seconds_of_speech: float = 20.0) -> Iterator[None]:
    """A second process transcribing speech in a loop, as the worker does during and after
    interviews, at the worker's priority."""
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
    # At the worker's niceness, as the appliance runs it (appliance/worker.py).
    process = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", code], cwd=REPO)
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


def queries(
    rng: random.Random, vocabulary: list[str], runtime, count: int
) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
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


# --- playback -------------------------------------------------------------------------------

TILES = "[...document.querySelectorAll('[data-tile] video')]"
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
}).observe({ type: "longtask", buffered: true });
"""
# Seek the way the page's position bar does, then wait for every tile to paint a new frame.
SEEK = """async ([to, limit]) => {
  const tiles = [...document.querySelectorAll('[data-tile] video')];
  const start = performance.now();
  const painted = tiles.map((v) => new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), limit);
    v.requestVideoFrameCallback((now) => { clearTimeout(timer); resolve(now - start); });
  }));
  const bar = document.getElementById("position");
  bar.value = String(to);
  bar.dispatchEvent(new Event("input"));
  const times = await Promise.all(painted);
  return times.includes(null) ? null : Math.max(...times) / 1000;
}"""
PLAY = """async (limit) => {
  const tiles = [...document.querySelectorAll('[data-tile] video')];
  const start = performance.now();
  const painted = tiles.map((v) => new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), limit);
    v.requestVideoFrameCallback((now) => { clearTimeout(timer); resolve(now - start); });
  }));
  document.getElementById("play").click();
  const times = await Promise.all(painted);
  return times.includes(null) ? null : Math.max(...times) / 1000;
}"""


def looped(packets: list, minutes: float, loop_ms: int):  # type: ignore[no-untyped-def]
    """`packets` (one loop of `loop_ms`) repeated for `minutes`, in time order."""
    from tests.support.live_media import Encoded

    ordered = sorted(packets, key=lambda p: (p.pts_ms, p.kind != "video"))
    for n in range(int(minutes * 60_000 / loop_ms)):
        for p in ordered:
            yield Encoded(p.kind, p.pts_ms + n * loop_ms, p.data, p.keyframe)


def two_person_recording(runtime, minutes: float, rng: random.Random):  # type: ignore[no-untyped-def]
    """A finished, transcribed recording of two people, each track muxed live."""
    from appliance.asr_onnx.transcript import Segment, Transcript, Word
    from appliance.db.models import Interview
    from appliance.hiring.candidates import CandidateFields, create_candidate
    from appliance.recordings import transcription
    from appliance.recordings.store import BlobSpec, seal_blob, start_recording
    from tests.support.live_media import audio_packets, mux_live, video_packets

    candidate = create_candidate(runtime.audit, "bench", CandidateFields("Pat", "pat@example.com"))
    now = dt.datetime(2026, 3, 1, 9)
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    recording = start_recording(runtime, interview)
    loop = 10.0
    audio = audio_packets(loop)
    for identity in ("staff-1", "candidate"):
        video = video_packets("libvpx", loop, (320, 240))
        data = mux_live("webm", "vp8", looped(video + audio, minutes, int(loop * 1000)), (320, 240))
        spec = BlobSpec(identity, "media", f"{identity}.webm", "video/webm")
        seal_blob(
            runtime,
            "bench",
            recording,
            spec,
            [data[i : i + 2**20] for i in range(0, len(data), 2**20)],
        )
        print(f"  {identity}: {len(data) / 2**20:.1f} MiB")
    recording.status = "complete"
    recording.save()
    vocabulary = made_up_words(rng, 3000)
    segments, at = [], 0.0
    while at < minutes * 60 - 10:
        speaker = "Interviewer" if len(segments) % 2 == 0 else "Pat"
        words = []
        for _ in range(WORDS_PER_SEGMENT * 2):
            words.append(Word(at, at + 0.3, f" {rng.choice(vocabulary)}", 0.9, speaker))
            at += 60 / WORDS_PER_MINUTE
        text = "".join(w.word for w in words).strip()
        segments.append(Segment(words[0].start, words[-1].end, text, words, speaker))
    transcription.store_transcript(
        runtime, recording, Transcript("en", minutes * 60, segments, "bench")
    )
    job = transcription.queue_transcription(recording)
    job.status = "done"  # as the worker leaves it
    job.save()
    print(f"  transcript: {sum(len(s.words) for s in segments):,} words in {len(segments)} turns")
    return recording


def playback_round(page, url: str, seeks: list[float]) -> float | None:  # type: ignore[no-untyped-def]
    """Prints one round's figures; returns its p95 seek time (None when no seek painted)."""
    page.goto(url)
    page.wait_for_selector(".turn")
    deadline = time.monotonic() + 60
    while not page.evaluate(f"{TILES}.every((v) => v.readyState >= 1)"):
        assert time.monotonic() < deadline, "the tiles never loaded"
        time.sleep(0.05)
    loading = page.evaluate("Math.max(0, ...window.__longTasks)")
    durations = page.evaluate(f"{TILES}.map((v) => v.duration)")
    first = page.evaluate(PLAY, 10_000)
    page.get_by_label("Speed").select_option("2")
    page.evaluate("window.__longTasks = []")
    time.sleep(10)
    following = page.evaluate("Math.max(0, ...window.__longTasks)")
    page.get_by_role("button", name="Pause").click()
    times = [page.evaluate(SEEK, [to, 10_000]) for to in seeks]
    painted = [t for t in times if t is not None]
    print(f"    durations the player knows: {', '.join(f'{d:.0f} s' for d in durations)}")
    print(
        f"    longest task: {loading:.0f} ms loading the page, {following:.0f} ms following "
        "10 s of playback at 2x"
    )
    print(
        f"    play to first frame: {'none in 10 s' if first is None else f'{first * 1000:.0f} ms'}"
    )
    print(
        f"    seek to a new frame on every tile: {figures(painted) if painted else 'none'}; "
        f"no frame within 10 s: {len(times) - len(painted)} of {len(times)}"
    )
    return percentile(painted, 0.95) if painted else None


def bench_playback(args: argparse.Namespace, runtime, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    from appliance.recordings import rendition
    from appliance.staff.accounts import create_user
    from tests.support.chromium import CHROMIUM, FLAGS

    rng = random.Random(11)
    print(f"playback: a two-person recording of {args.minutes:g} minutes")
    recording = two_person_recording(runtime, args.minutes, rng)
    seeks = [round(rng.uniform(0, args.minutes * 60 - 5), 1) for _ in range(args.seeks)]
    with contextlib.suppress(Exception):
        create_user(runtime.audit, "bench", "admin@example.com", "admin", PASSWORD)
    with web_process(data_dir) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.add_init_script(LONG_TASKS)
        page.goto(f"{base}/login")
        page.get_by_label("E-mail").fill("admin@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        url = f"{base}/interviews/{recording.interview_id}/review"
        print("  the tracks as recorded (no Cues), nothing else running:")
        baseline = playback_round(page, url, seeks)
        started = time.perf_counter()
        made = rendition.make_renditions(runtime, recording)
        print(f"  renditions made: {len(made)} in {time.perf_counter() - started:.1f} s")
        print("  the seekable renditions, nothing else running:")
        seekable = playback_round(page, url, seeks)
        print(f"  seek p95, as recorded / seekable: {ratio(baseline, seekable)}")
        with busy_worker():
            print("  the seekable renditions, worker busy transcribing:")
            playback_round(page, url, seeks)
        browser.close()


@contextlib.contextmanager
def web_process(data_dir: Path) -> Iterator[str]:
    """A real web process serving `data_dir`; yields its base URL."""
    from tests.support.waiting import wait_for_http

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
        web_pids.append(web.pid)
        yield base
    finally:
        web.terminate()
        web.wait(timeout=30)


web_pids: list[int] = []


# --- the transcript at the end ---------------------------------------------------------------

SCRIPT = [
    ("staff-1", "Thanks for making the time today. Let's start with your background."),
    ("candidate", "I studied physics and then spent six years building data pipelines."),
    ("staff-1", "What was the hardest technical problem you solved in that role?"),
    ("candidate", "We had to reconcile forty million orders a night in under two hours."),
    ("staff-1", "How did you bring that down?"),
    ("candidate", "We split the work by region and moved the joins into the database."),
]


def spoken_tracks(minutes: float, directory: Path) -> dict[str, bytes]:
    """Each speaker's track as the SFU records it: the script's lines in turn for `minutes`,
    each speaker silent while the other talks."""
    import numpy as np

    from appliance.asr_onnx.audio import decode_audio
    from tests.support.live_media import mux_live, speech_packets
    from tests.support.speech import silence, speak

    lines = [
        (who, decode_audio(speak(text, directory / f"{n}.wav", "en-us", 165)))
        for n, (who, text) in enumerate(SCRIPT)
    ]
    audio: dict[str, list[np.ndarray]] = {"staff-1": [], "candidate": []}
    total = 0
    while total < minutes * 60 * 16000:
        for who, said in lines:
            pause = silence(0.8)
            for speaker in audio:
                audio[speaker] += [said if speaker == who else np.zeros_like(said), pause]
            total += len(said) + len(pause)
    return {
        who: mux_live("webm", None, speech_packets(np.concatenate(parts), 0.5))
        for who, parts in audio.items()
    }


def bench_transcript(args: argparse.Namespace, runtime) -> None:  # type: ignore[no-untyped-def]
    from appliance.asr_onnx.service import open_transcriber
    from appliance.core.config import AsrConfig
    from appliance.db.models import Interview, RecordingBlob
    from appliance.hiring.candidates import CandidateFields, create_candidate
    from appliance.recordings import transcription
    from appliance.recordings.live_transcription import LiveTranscription
    from appliance.recordings.store import blob_store, start_recording
    from appliance.storage import keystore
    from appliance.storage.sealed import SealWriter, new_object_id
    from tests.support.speech import models_dir

    minutes, speed = args.live_minutes, args.live_speed
    print(f"transcript at the end: {minutes:g} minutes of two people, sealed at {speed:g}x")
    settings = AsrConfig(device="cpu", threads=2)
    transcriber = open_transcriber(models_dir(), settings)
    with tempfile.TemporaryDirectory() as temp:
        tracks = spoken_tracks(minutes, Path(temp))
    candidate = create_candidate(runtime.audit, "bench", CandidateFields("Sam", "sam@example.com"))
    now = dt.datetime(2026, 4, 1, 9)
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    recording = start_recording(runtime, interview)
    key_id = bytes.fromhex(str(recording.key_id))
    data_key = keystore.unwrap(runtime.config.data_dir, key_id)
    writers = []
    for identity, media in tracks.items():
        object_id = new_object_id()
        blob = RecordingBlob.create(
            recording=recording,
            object_id=object_id.hex(),
            participant_identity=identity,
            kind="media",
            filename=f"{identity}.webm",
            media_type="video/webm",
        )
        out = blob_store(runtime).create(object_id)
        writers.append((blob, media, out, SealWriter(out, data_key, key_id, object_id)))
    live = LiveTranscription(runtime, lambda: transcriber)
    live.follow_new_tracks()

    def room() -> None:  # every track grows at the same pace, `speed` times real time
        seconds, step = minutes * 60 / speed, 0.25
        ticks = int(seconds / step)
        for tick in range(1, ticks + 1):
            for _, media, _, writer in writers:
                done = len(media) * (tick - 1) // ticks
                writer.write(media[done : len(media) * tick // ticks])
            time.sleep(step)

    started = time.perf_counter()
    room()
    for blob, _, out, writer in writers:
        writer.close()
        out.close()
        blob.status, blob.plaintext_bytes = "complete", writer.plaintext_bytes
        blob.save()
    recording.status = "complete"
    recording.save()
    ended = time.perf_counter()
    behind = {
        f.track.identity: minutes * 60 - f.track.transcribed / 16000
        for f in live.followers.values()
    }
    print(f"  sealed in {ended - started:.0f} s")
    followed = live.take(recording, wait=3600)
    transcription.queue_transcription(recording)
    transcription.transcribe_recording(
        runtime, recording.id, transcriber, settings, followed=followed
    )
    ready = time.perf_counter() - ended
    print(
        f"  followers' audio not yet transcribed at the end: at most "
        f"{max(behind.values()) if behind else float('nan'):.0f} s of the {minutes * 60:.0f} s"
    )
    print(f"  end to stored transcript: {ready:.1f} s (followed tracks: {len(followed)} of 2)")
    started = time.perf_counter()
    transcription.queue_transcription(recording, again=True)
    transcription.transcribe_recording(runtime, recording.id, transcriber, settings)
    batch = time.perf_counter() - started
    print(f"  baseline, the batch transcript after the end: {batch:.1f} s")
    print(f"  end to transcript, batch / followed: {ratio(batch, ready)}")


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

    print(f"serving: {args.streams} readers, {args.stream_mb} MiB each")
    streams = seal_streams(runtime, args.streams, args.stream_mb)
    with contextlib.suppress(Exception):
        create_user(runtime.audit, "bench", "admin@example.com", "admin", PASSWORD)
    with web_process(data_dir) as base:
        size = args.stream_mb * 2**20
        print("  nothing else running:")
        serve_round(base, web_pids[-1], streams, size)
        with busy_worker():
            print("  worker busy transcribing:")
            serve_round(base, web_pids[-1], streams, size)


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
    parser.add_argument("--seeks", type=int, default=20)
    parser.add_argument("--live-minutes", type=float, default=60.0)
    parser.add_argument("--live-speed", type=float, default=1.0)
    parser.add_argument(
        "--skip",
        choices=("search", "playback", "transcript", "serving"),
        action="append",
        default=[],
    )
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
            if "playback" not in args.skip:
                timed("playback total", lambda: bench_playback(args, runtime, data_dir))
            if "transcript" not in args.skip:
                timed("transcript total", lambda: bench_transcript(args, runtime))
            if "serving" not in args.skip:
                timed("serving total", lambda: bench_serving(args, runtime, data_dir))
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
