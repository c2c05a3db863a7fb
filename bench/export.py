"""The single-file export's speed, and what it costs a live interview on the same box.

Run: .venv/bin/python bench/export.py [--minutes 5] [--room-seconds 15] [--rooms 1]

A two-person interview of --minutes: each participant's track is 640x480 30 fps VP8 at about
1.5 Mbps (a smooth picture that moves, as a camera's does) with Opus, muxed the way the SFU
records it and sealed into a fresh data dir, with a transcript cue every 5 seconds.

1. Alone: the baseline is decoding both tracks from the store (the least any composite must
   do), then the composite job as the worker runs it (decrypt, decode, compose, encode, seal,
   make seekable). Both are reported in multiples of real time; the target is at least 1x.
2. With live rooms: --rooms recorded rooms of three on a real SFU (bench/sfu.py's clients),
   the frame rate of every received track over --room-seconds with nothing else running, then
   again while the composite runs in another process at the worker's niceness (10).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import fractions
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

FPS = 30
CLIP_SECONDS = 30


def camera_clip(seconds: int) -> list[tuple[str, int, bytes, bool]]:
    """(kind, pts in ms, data, keyframe) of a 640x480 VP8 + Opus clip: a smooth random picture
    drifting across the frame, a keyframe every 2 s, and a tone."""
    rng = np.random.default_rng(7)
    small = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    big = av.VideoFrame.from_ndarray(small, format="rgb24").reformat(
        width=960, height=720, interpolation="BICUBIC"
    )
    field = big.to_ndarray(format="rgb24")
    video: Any = av.CodecContext.create("libvpx", "w")
    video.width, video.height, video.pix_fmt = 640, 480, "yuv420p"
    video.time_base, video.framerate = fractions.Fraction(1, FPS), FPS
    video.bit_rate, video.gop_size = 1_500_000, 2 * FPS
    video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[str, int, bytes, bool]] = []
    for index in range(seconds * FPS):
        x, y = int(160 + 150 * np.sin(index / 90)), int(120 + 110 * np.cos(index / 70))
        image = np.ascontiguousarray(field[y : y + 480, x : x + 640])
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in video.encode(frame):
            out.append(("video", packet.pts * 1000 // FPS, bytes(packet), packet.is_keyframe))
    for packet in video.encode(None):
        out.append(("video", packet.pts * 1000 // FPS, bytes(packet), packet.is_keyframe))
    from tests.support.live_media import audio_packets

    out += [(p.kind, p.pts_ms, p.data, p.keyframe) for p in audio_packets(seconds)]
    return sorted(out, key=lambda p: (p[1], p[0] != "video"))


def looped_track(clip: list[tuple[str, int, bytes, bool]], seconds: float, offset_ms: int) -> bytes:
    """The clip repeated to `seconds` (each loop starts on its keyframe), from `offset_ms` on the
    room's clock, muxed as the SFU muxes a live track."""
    from tests.support.live_media import Encoded, mux_live

    span = CLIP_SECONDS * 1000
    packets = []
    for loop in range(int(np.ceil(seconds / CLIP_SECONDS))):
        for kind, pts, data, key in clip:
            at = loop * span + pts
            if at < seconds * 1000:
                packets.append(Encoded(kind, offset_ms + at, data, key))
    return mux_live("webm", "vp8", packets, (640, 480))


def sealed_interview(runtime: Any, minutes: float) -> Any:
    from appliance.asr_onnx.transcript import Segment, Transcript
    from appliance.db.database import utcnow
    from appliance.db.models import Interview
    from appliance.hiring.candidates import CandidateFields, create_candidate
    from appliance.recordings import transcription
    from appliance.recordings.store import BlobSpec, seal_blob, start_recording

    seconds = minutes * 60
    clip = camera_clip(CLIP_SECONDS)
    candidate = create_candidate(runtime.audit, "bench", CandidateFields("Sam", "sam@example.com"))
    now = utcnow()
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    recording = start_recording(runtime, interview)
    for identity, offset in (("staff-1", 0), ("candidate", 3000)):
        media = looped_track(clip, seconds - offset / 1000, offset)
        spec = BlobSpec(identity, "media", f"{identity}.webm", "video/webm")
        seal_blob(runtime, "sfu", recording, spec, [media])
    recording.status = "complete"
    recording.ended_at = recording.started_at + dt.timedelta(seconds=seconds)
    recording.save()
    cues = [
        Segment(t, t + 4.0, f"Cue number {n}.", speaker="Sam")
        for n, t in enumerate(np.arange(0.0, seconds - 5, 5.0))
    ]
    transcription.store_transcript(runtime, recording, Transcript("en", seconds, cues, "bench"))
    return recording


def decode_only(runtime: Any, recording: Any) -> float:
    """Seconds to decrypt and decode every track of the recording: the baseline."""
    from appliance.recordings.store import open_file
    from appliance.recordings.transcription import track_blobs

    started = time.perf_counter()
    for blob in track_blobs(recording):
        with open_file(runtime, "bench", blob, "bench") as file, av.open(file) as container:
            for _ in container.decode(*container.streams):
                pass
    return time.perf_counter() - started


def timed_composite(data_dir: Path, recording_id: int, nice: int = 0) -> subprocess.Popen[bytes]:
    """The composite job as the worker runs it, in its own process at niceness `nice`."""
    script = (
        "import os, sys, time; from pathlib import Path;"
        "from appliance.core.config import load_config;"
        "from appliance.runtime import open_runtime;"
        "from appliance.recordings import composite;"
        "from appliance.recordings.store import get_recording;"
        f"os.nice({nice});"
        "rt = open_runtime(load_config(Path(sys.argv[1]), environ={}));"
        "t = time.perf_counter();"
        "composite.make_composite(rt, get_recording(int(sys.argv[2])));"
        "print(time.perf_counter() - t)"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir), str(recording_id)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


async def room_fps(args: argparse.Namespace, data_dir: Path, during: Any = None) -> dict[str, Any]:
    """Frame rate of every received track in --rooms recorded rooms of three."""
    import sfu as sfu_bench

    from appliance.storage.appliance_keys import load_keys

    work = Path(tempfile.mkdtemp(prefix="parley-bench-room-"))
    clip = work / "clip.webm"
    sfu_bench.make_clip(clip, 12)
    env = {
        **os.environ,
        "APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true",
        "APPLIANCE_SFU_MAX_PARTICIPANTS": "64",
        "APPLIANCE_SFU_JOIN_BURST": "1000",
    }
    port = sfu_bench.free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appliance",
            "serve",
            "sfu",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        sfu_bench.wait_http(base + "/healthz")
        async with aiohttp.ClientSession() as session:
            job = during() if during is not None else None
            result: dict[str, Any] = await sfu_bench.rooms_round(
                base, load_keys(data_dir), clip, args.rooms, args.room_seconds, session, server.pid
            )
            if job is not None:
                result["job"] = job
            return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--room-seconds", type=float, default=15.0)
    parser.add_argument("--rooms", type=int, default=1)
    args = parser.parse_args()

    from appliance.box.datadir import initialize
    from appliance.core.config import load_config
    from appliance.runtime import open_runtime
    from appliance.sfu.aiortc_hooks import enlarge_udp_receive_buffers
    from appliance.sfu.ice import gather_on_loopback_only

    with tempfile.TemporaryDirectory(prefix="parley-bench-") as temp:
        data_dir = Path(temp) / "data"
        config = load_config(data_dir, environ={})
        initialize(config)
        runtime = open_runtime(config)
        length = args.minutes * 60
        print(f"two people, {args.minutes:g} minutes, 640x480 30 fps VP8 + Opus each", flush=True)
        recording = sealed_interview(runtime, args.minutes)
        baseline = decode_only(runtime, recording)
        print(
            f"  baseline, decoding both tracks: {baseline:.1f} s "
            f"({length / baseline:.2f}x real time)"
        )
        alone = timed_composite(data_dir, recording.id)
        out, _ = alone.communicate()
        seconds = float(out.decode().strip() or "nan")
        print(
            f"  composite, nothing else running: {seconds:.1f} s "
            f"({length / seconds:.2f}x real time; {seconds / baseline:.2f}x the decoding alone)",
            flush=True,
        )
        runtime.close()

        gather_on_loopback_only()
        enlarge_udp_receive_buffers()
        quiet = asyncio.run(room_fps(args, data_dir))
        busy = asyncio.run(
            room_fps(args, data_dir, during=lambda: timed_composite(data_dir, recording.id, 10))
        )
        busy["job"].wait()  # it outlasts the rooms' measurement; its figure is not reported
        for label, r in (("nothing else running", quiet), ("composite running (nice 10)", busy)):
            print(
                f"  {args.rooms} recorded room(s) of three, {label}: {r['fps']:.1f} fps per "
                f"received track, slowest {r['fps_min']:.1f}; SFU {r['cpu'] * 100:.0f} % of a core"
            )
        print(
            f"  room frame rate kept: {busy['fps_min'] / quiet['fps_min'] * 100:.0f} % of the "
            f"quiet round's slowest track"
            if quiet["fps_min"]
            else "  room measured no frames"
        )


if __name__ == "__main__":
    main()
