"""SFU cost per subscriber against aiortc's MediaRelay re-encoding, measured in the same run.

Run: .venv/bin/python bench/sfu.py [--seconds 8] [--subscribers 1,3,6,12] [--relay 1,3]
                                    [--rooms 1,4,8,12,14]

One publisher sends a pre-encoded 640x480 30 fps VP8 (~1.5 Mbps) + Opus clip; subscribers
receive without decoding. For each subscriber count it prints the server process's CPU per
subscriber (above the publisher-only load), forwarded fps and kbit/s per subscriber, added
latency p50/p95 (publisher hands a frame to its sender -> subscriber has the frame complete, on
loopback, both ends in this process), and the SFU's event-loop lag p99. Then the same for
MediaRelay, and the ratio of CPU per subscriber.

Then capacity: rounds of recorded three-party rooms (everyone publishes and receives the other
two), with the frame rate of every received track, what the clients sent and what the SFU
counted in and out; the largest round in which every track held 30 fps is what this box holds
(a lower bound: the bench's clients share the box with the SFU).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtp import RtpPacket

from appliance.contracts.join_token import issue
from appliance.sfu.aiortc_hooks import RECEIVER_JITTER_BUFFER, enlarge_udp_receive_buffers
from appliance.sfu.codecs import VP8
from appliance.sfu.forwarder import RtpPiece, VideoFrameAssembler
from appliance.sfu.ice import gather_on_loopback_only
from appliance.storage.appliance_keys import load_keys

HERE = Path(__file__).resolve().parent
# aiortc clients need max-bundle to receive two tracks of a kind from one negotiation.
CLIENT_RTC = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
TICKS = os.sysconf("SC_CLK_TCK")
sent_at: dict[str, float] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_clip(path: Path, seconds: int) -> None:
    """640x480 30 fps VP8 at about 1.5 Mbps with moving content, plus a tone in Opus."""
    with av.open(str(path), "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=30)
        video.width, video.height, video.pix_fmt = 640, 480, "yuv420p"
        video.bit_rate = 1_500_000
        video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        video.codec_context.gop_size = 60
        audio = container.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        rng = np.random.default_rng(1)
        noise = rng.integers(0, 255, (480 + 64, 640 + 64, 3), dtype=np.uint8)
        for i in range(seconds * 30):
            image = np.ascontiguousarray(
                noise[i % 64 : i % 64 + 480, (2 * i) % 64 : (2 * i) % 64 + 640]
            )
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, 30)
            for packet in video.encode(frame):
                container.mux(packet)
        tone = (np.sin(2 * np.pi * 440 * np.arange(seconds * 48000) / 48000) * 8000).astype(
            np.int16
        )
        for start in range(0, len(tone) - 960, 960):
            frame = av.AudioFrame.from_ndarray(
                tone[start : start + 960].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = (
                48000,
                start,
                fractions.Fraction(1, 48000),
            )
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)


Packets = tuple[list[tuple[bytes, int, bool]], Any]


def clip_packets(clip: Path) -> dict[str, Packets]:
    """The clip's encoded packets per kind, (data, pts, keyframe), and their time base."""
    packets: dict[str, Packets] = {}
    with av.open(str(clip)) as container:
        for stream in container.streams:
            packets[stream.type] = ([], stream.time_base)
        for packet in container.demux():
            if packet.size and packet.pts is not None:
                packets[packet.stream.type][0].append(
                    (bytes(packet), packet.pts, bool(packet.is_keyframe))
                )
    return packets


class ClipTrack(MediaStreamTrack):
    """A publisher's track from packets in memory, looped and paced on the event loop.

    aiortc's MediaPlayer demuxes on a thread per player and, when it loops, starts its
    timestamps again from zero; with many publishers in one process it fell behind 30 fps.
    """

    def __init__(self, kind: str, source: Packets) -> None:
        super().__init__()
        self.kind = kind
        self.packets, self.time_base = source
        packets = self.packets
        self.span = packets[-1][1] - packets[0][1] + (packets[1][1] - packets[0][1])
        self.frames = 0  # handed to the sender so far
        self.start: float | None = None

    async def recv(self) -> Any:
        data, pts, keyframe = self.packets[self.frames % len(self.packets)]
        pts += (self.frames // len(self.packets)) * self.span
        self.frames += 1
        due = float(pts * self.time_base)
        if self.start is None:
            self.start = time.monotonic() - due
        await asyncio.sleep(max(0.0, self.start + due - time.monotonic()))
        packet = av.Packet(data)
        packet.pts, packet.time_base, packet.is_keyframe = pts, self.time_base, keyframe
        return packet


class TimedTrack(MediaStreamTrack):
    """Passes a player's packets on, noting when each video frame went to the sender."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source

    async def recv(self) -> Any:
        packet = await self.source.recv()
        if self.kind == "video":
            sent_at[hashlib.sha1(bytes(packet)).hexdigest()] = time.monotonic()
        return packet


class CountingBuffer(JitterBuffer):
    """Subscriber side: completes frames on their marker packet, never decodes."""

    def __init__(self, kind: str, stats: dict[str, Any]) -> None:
        super().__init__(capacity=16)
        self.kind, self.stats = kind, stats
        self.assembler = VideoFrameAssembler(VP8)

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        self.stats["bytes"] += len(packet.payload)
        if self.kind != "video":
            return False, None
        piece = RtpPiece(
            packet.sequence_number,
            packet.timestamp,
            bool(packet.marker),
            bool(VP8.frame_start(packet.payload)),
            getattr(packet, "_data", b""),
        )
        now = time.monotonic()
        frames, _ = self.assembler.push(piece, now)
        for frame in frames:
            self.stats["frames"] += 1
            sent = sent_at.get(hashlib.sha1(frame.data).hexdigest())
            if sent is not None and self.stats["measuring"]:
                self.stats["latency"].append(now - sent)
        return False, None


def tap(pc: RTCPeerConnection, stats: dict[str, Any]) -> None:
    for transceiver in pc.getTransceivers():
        setattr(
            transceiver.receiver, RECEIVER_JITTER_BUFFER, CountingBuffer(transceiver.kind, stats)
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def udp_receive_drops() -> int:
    """Datagrams the kernel dropped, box-wide, because a socket's receive buffer was full."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = [row for row in lines if row[0] == "Udp:"][:2]
    return int(values[names.index("RcvbufErrors")])


def new_stats() -> dict[str, Any]:
    return {"frames": 0, "bytes": 0, "latency": [], "measuring": False}


async def parley_round(
    base: str,
    keys: Any,
    clip: Path,
    n: int,
    seconds: float,
    session: aiohttp.ClientSession,
    pid: int,
) -> dict[str, Any]:
    room = f"bench-{n}-{time.monotonic_ns()}"
    sockets, pcs, stats = [], [], []

    async def connect(identity: str) -> aiohttp.ClientWebSocketResponse:
        ws = await session.ws_connect(base.replace("http", "ws") + "/sfu/ws")
        await ws.send_json(
            {"type": "join", "token": issue(keys.signing_key, room, identity, "interviewer", 600)}
        )
        reply = await ws.receive_json()
        assert reply["type"] == "joined", reply
        sockets.append(ws)
        return ws

    async def subscriber(ws: aiohttp.ClientWebSocketResponse, s: dict[str, Any]) -> None:
        pc = RTCPeerConnection(CLIENT_RTC)
        pcs.append(pc)
        async for message in ws:
            data = message.json()
            if data["type"] == "subscribe-offer":
                await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                tap(pc, s)
                await pc.setLocalDescription(await pc.createAnswer())
                await ws.send_json({"type": "subscribe-answer", "sdp": pc.localDescription.sdp})

    tasks = []
    for i in range(n):
        s = new_stats()
        stats.append(s)
        tasks.append(asyncio.ensure_future(subscriber(await connect(f"sub{i}"), s)))
    publisher_ws = await connect("publisher")
    player = MediaPlayer(str(clip), decode=False, loop=True)
    pc = RTCPeerConnection(CLIENT_RTC)
    pcs.append(pc)
    pc.addTrack(TimedTrack(player.audio))
    pc.addTrack(TimedTrack(player.video))
    await pc.setLocalDescription(await pc.createOffer())
    await publisher_ws.send_json({"type": "publish", "sdp": pc.localDescription.sdp})
    while (reply := await publisher_ws.receive_json())["type"] != "publish-answer":
        pass
    await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
    await asyncio.sleep(3)
    result = await measure(session, base + "/healthz?reset_lag=1", stats, seconds, pid)
    await tear_down([player.audio, player.video], tasks, pcs, sockets)
    return result


async def tear_down(
    tracks: list[MediaStreamTrack | None],
    tasks: list[asyncio.Future[Any]],
    pcs: list[RTCPeerConnection],
    sockets: list[aiohttp.ClientWebSocketResponse],
) -> None:
    """Stop the media, the socket pumps and connections of a round; let the SFU settle."""
    for track in tracks:
        if track is not None:
            track.stop()
    for task in tasks:
        task.cancel()
    for pc in pcs:
        await pc.close()
    for ws in sockets:
        await ws.close()
    await asyncio.sleep(2)


async def measure(
    session: aiohttp.ClientSession,
    health: str | None,
    stats: list[dict[str, Any]],
    seconds: float,
    pid: int,
) -> dict[str, Any]:
    before = (await (await session.get(health)).json()) if health else {}
    for s in stats:
        s.update(frames=0, bytes=0, latency=[], measuring=True)
    drops0 = udp_receive_drops()
    cpu0, own0, t0 = cpu_seconds(pid), cpu_seconds(os.getpid()), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, own1, t1 = cpu_seconds(pid), cpu_seconds(os.getpid()), time.monotonic()
    drops = (udp_receive_drops() - drops0) / (t1 - t0)
    after = (await (await session.get(health.split("?")[0])).json()) if health else {}
    lag = after.get("loop_lag_ms_p99")
    sfu = {
        name: (after[name] - before[name]) / (t1 - t0)
        for name in ("video_frames_in", "video_frames_out", "video_frames_dropped")
        if name in after and name in before
    }
    latency = sorted(x for s in stats for x in s["latency"])
    elapsed = t1 - t0
    return {
        "cpu": (cpu1 - cpu0) / elapsed,
        "clients_cpu": (own1 - own0) / elapsed,
        "fps": statistics.mean(s["frames"] / elapsed for s in stats) if stats else 0.0,
        "fps_min": min(s["frames"] / elapsed for s in stats) if stats else 0.0,
        "kbps": statistics.mean(s["bytes"] * 8 / elapsed / 1000 for s in stats) if stats else 0.0,
        "p50": latency[len(latency) // 2] * 1000 if latency else None,
        "p95": latency[int(len(latency) * 0.95)] * 1000 if latency else None,
        "lag_p99": lag,
        "sfu": sfu,  # video frames per second through the SFU, by its own count
        "udp_drops": drops,  # per second, box-wide
    }


@dataclass
class Crowd:
    """Everything a round of participants opened, to measure and to tear down."""

    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[asyncio.Future[Any]] = field(default_factory=list)
    tracks: list[ClipTrack] = field(default_factory=list)

    async def join(
        self,
        session: aiohttp.ClientSession,
        base: str,
        token: str,
        packets: dict[str, Packets],
    ) -> None:
        """A participant who publishes the clip's audio and video and receives everyone else."""
        ws = await session.ws_connect(base.replace("http", "ws") + "/sfu/ws")
        self.sockets.append(ws)
        await ws.send_json({"type": "join", "token": token})
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        s = new_stats()
        self.stats.append(s)
        sub = RTCPeerConnection(CLIENT_RTC)
        self.pcs.append(sub)

        async def pump() -> None:
            async for message in ws:
                data = message.json()
                if data["type"] == "publish-answer":
                    answer.set_result(data["sdp"])
                elif data["type"] == "subscribe-offer":
                    await sub.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                    tap(sub, s)
                    await sub.setLocalDescription(await sub.createAnswer())
                    await ws.send_json(
                        {"type": "subscribe-answer", "sdp": sub.localDescription.sdp}
                    )

        self.tasks.append(asyncio.ensure_future(pump()))
        audio, video = ClipTrack("audio", packets["audio"]), ClipTrack("video", packets["video"])
        self.tracks.extend((audio, video))
        pub = RTCPeerConnection(CLIENT_RTC)
        self.pcs.append(pub)
        pub.addTrack(audio)
        pub.addTrack(video)
        await pub.setLocalDescription(await pub.createOffer())
        await ws.send_json({"type": "publish", "sdp": pub.localDescription.sdp})
        await pub.setRemoteDescription(RTCSessionDescription(await answer, "answer"))

    def video_sent(self) -> int:
        return sum(t.frames for t in self.tracks if t.kind == "video")

    async def leave(self) -> None:
        await tear_down(list(self.tracks), self.tasks, self.pcs, self.sockets)


async def rooms_round(
    base: str,
    keys: Any,
    clip: Path,
    rooms: int,
    seconds: float,
    session: aiohttp.ClientSession,
    pid: int,
) -> dict[str, Any]:
    """`rooms` recorded rooms of three: each participant publishes and receives the other two."""
    stamp = time.monotonic_ns()
    crowd = Crowd()
    packets = clip_packets(clip)
    for r in range(rooms):
        for p in range(3):
            token = issue(
                keys.signing_key, f"cap-{stamp}-{r}", f"p{p}", "interviewer", 600, interview_id=1
            )
            await crowd.join(session, base, token, packets)
    await asyncio.sleep(4)
    before, start = crowd.video_sent(), time.monotonic()
    result = await measure(session, base + "/healthz?reset_lag=1", crowd.stats, seconds, pid)
    publishers = sum(1 for t in crowd.tracks if t.kind == "video")
    result["sent_fps"] = (crowd.video_sent() - before) / publishers / (time.monotonic() - start)
    result["fps"] /= 2  # each participant receives two video tracks
    result["fps_min"] /= 2
    await crowd.leave()
    return result


async def relay_round(
    base: str, clip: Path, n: int, seconds: float, session: aiohttp.ClientSession, pid: int
) -> dict[str, Any]:
    await session.post(base + "/reset")
    player = MediaPlayer(str(clip), decode=False, loop=True)
    publisher = RTCPeerConnection(CLIENT_RTC)
    publisher.addTrack(player.audio)
    publisher.addTrack(player.video)
    await publisher.setLocalDescription(await publisher.createOffer())
    reply = await (
        await session.post(base + "/publish", json={"sdp": publisher.localDescription.sdp})
    ).json()
    await publisher.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
    await asyncio.sleep(1)
    pcs, stats = [publisher], []
    for _ in range(n):
        offer = await (await session.post(base + "/subscribe")).json()
        pc = RTCPeerConnection(CLIENT_RTC)
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        s = new_stats()
        stats.append(s)
        tap(pc, s)
        await pc.setLocalDescription(await pc.createAnswer())
        await session.post(
            base + "/answer", json={"id": offer["id"], "sdp": pc.localDescription.sdp}
        )
        pcs.append(pc)
    await asyncio.sleep(3)
    result = await measure(session, None, stats, seconds, pid)
    for track in (player.audio, player.video):
        if track is not None:
            track.stop()
    for pc in pcs:
        await pc.close()
    await asyncio.sleep(1)
    return result


def wait_http(url: str) -> None:
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def slope(results: dict[int, dict[str, Any]]) -> float | None:
    """Marginal CPU per subscriber: least-squares slope of CPU over subscriber count; None with
    fewer than two distinct counts (no slope to draw)."""
    xs = list(results)
    if len(set(xs)) < 2:
        return None
    ys = [results[n]["cpu"] for n in xs]
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )


def percent(value: float | None) -> str:
    return "none (fewer than two rounds to fit)" if value is None else f"{value * 100:.2f} %"


def row(label: str, n: int, r: dict[str, Any], base_cpu: float) -> str:
    per = (r["cpu"] - base_cpu) / n * 100 if n else 0.0
    lat = f"{r['p50']:6.1f} {r['p95']:6.1f}" if r["p50"] is not None else "   n/a    n/a"
    lag = f"{r['lag_p99']:7.2f}" if r["lag_p99"] is not None else "    n/a"
    clients = r["clients_cpu"] * 100
    return (
        f"{label:8} {n:3d} {r['cpu'] * 100:8.1f} {per:9.2f} {r['fps']:6.1f} {r['fps_min']:7.1f} "
        f"{r['kbps']:8.0f} "
        f"{lat} {lag} {clients:8.1f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--subscribers", default="1,3,6,12")
    parser.add_argument("--relay", default="1,3")
    parser.add_argument(
        "--rooms", default="1,4,8,12,14", help="recorded rooms of three, for capacity"
    )
    args = parser.parse_args()
    gather_on_loopback_only()
    enlarge_udp_receive_buffers()  # as the SFU does, so the clients are not where packets drop
    work = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    clip = work / "clip.webm"
    make_clip(clip, 12)
    data = work / "data"
    env = {
        **os.environ,
        "APPLIANCE_SFU_ROOM_GRACE_SECONDS": "1",
        "APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true",
        "APPLIANCE_SFU_MAX_PARTICIPANTS": "64",
        "APPLIANCE_SFU_JOIN_BURST": "1000",
    }
    subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--data-dir", str(data)],
        check=True,
        capture_output=True,
        env=env,
    )
    keys = load_keys(data)
    sfu_port, relay_port = free_port(), free_port()
    sfu = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appliance",
            "serve",
            "sfu",
            "--data-dir",
            str(data),
            "--port",
            str(sfu_port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    relay = subprocess.Popen(
        [sys.executable, str(HERE / "relay_baseline.py"), "--port", str(relay_port)],
        stdout=subprocess.DEVNULL,
    )
    sfu_base, relay_base = f"http://127.0.0.1:{sfu_port}", f"http://127.0.0.1:{relay_port}"
    wait_http(sfu_base + "/healthz")
    time.sleep(1)
    print(
        f"clip: {clip.stat().st_size * 8 / 12 / 1000:.0f} kbit/s average, 640x480 30 fps VP8 + Opus"
    )
    print("server     N   cpu %   cpu %/sub    fps slowest   kbit/s  p50ms  p95ms lag99ms clients%")
    try:
        async with aiohttp.ClientSession() as session:
            parley: dict[int, dict[str, Any]] = {}
            for n in [0, *[int(x) for x in args.subscribers.split(",")]]:
                parley[n] = await parley_round(
                    sfu_base, keys, clip, n, args.seconds, session, sfu.pid
                )
                print(row("parley", n, parley[n], parley[0]["cpu"]), flush=True)
            relayed: dict[int, dict[str, Any]] = {}
            for n in [0, *[int(x) for x in args.relay.split(",")]]:
                relayed[n] = await relay_round(
                    relay_base, clip, n, args.seconds, session, relay.pid
                )
                print(row("relay", n, relayed[n], relayed[0]["cpu"]), flush=True)
            parley_slope = slope(parley)
            relay_slope = slope(relayed)
            room_results: dict[int, dict[str, Any]] = {0: parley[0]}
            for n in [int(x) for x in args.rooms.split(",")]:
                room_results[n] = await rooms_round(
                    sfu_base, keys, clip, n, args.seconds, session, sfu.pid
                )
                r = room_results[n]
                print(
                    f"rooms    {n:3d} {r['cpu'] * 100:8.1f}  (3 recorded participants each) "
                    f"{r['fps']:6.1f} fps per received track (slowest {r['fps_min']:.1f}), "
                    f"loop lag p99 {r['lag_p99']} ms, "
                    f"clients sent {r['sent_fps']:.1f} fps per publisher, "
                    f"SFU in {r['sfu']['video_frames_in'] / (3 * n):.1f} fps per publisher, "
                    f"out {r['sfu']['video_frames_out'] / (6 * n):.1f} per subscription "
                    f"({r['sfu']['video_frames_dropped']:.1f}/s dropped), "
                    f"UDP receive drops {r['udp_drops']:.1f}/s, "
                    f"bench clients {r['clients_cpu'] * 100:.0f} % of a core",
                    flush=True,
                )
            per_room = slope({n: r for n, r in room_results.items() if r["fps_min"] >= 29})
            held = [n for n, r in room_results.items() if n and r["fps_min"] >= 29]
            print(
                f"recorded 3-party rooms held at full frame rate (every track >= 29 fps): "
                f"{max(held) if held else 0} of those tried ({args.rooms}), with this bench's"
                " clients on the same box; "
                f"SFU CPU per room {percent(per_room)} of one core"
            )
            print(
                "CPU per subscriber (slope over N): "
                f"Parley {percent(parley_slope)}, MediaRelay {percent(relay_slope)}"
            )
            if parley_slope is not None and relay_slope is not None and parley_slope > 0:
                print(f"ratio MediaRelay / Parley: {relay_slope / parley_slope:.1f}x (goal >= 10x)")
            else:
                print("ratio MediaRelay / Parley: none (a slope is missing or not above 0)")
    finally:
        sfu.terminate()
        relay.terminate()
        sfu.wait()
        relay.wait()


if __name__ == "__main__":
    asyncio.run(main())
