"""Test helpers for the SFU: a real server on loopback, real aiortc clients, real media."""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtp import RtpPacket
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.contracts.join_token import issue
from appliance.core.config import load_config
from appliance.sfu.codecs import nal_units
from appliance.sfu.server import create_app
from appliance.storage.sealed import SealedReader, SealWriter

FPS = 30
GOP = 15


def make_clip(path: Path, seconds: float = 4.0, codec: str = "vp8") -> None:
    """A VP8 + Opus WebM, or with `codec="h264"` an H.264 (constrained baseline, Annex B) +
    Opus MPEG-TS, with a keyframe every GOP frames, made with PyAV."""
    with av.open(str(path), "w", format="webm" if codec == "vp8" else "mpegts") as container:
        if codec == "vp8":
            video = container.add_stream("libvpx", rate=FPS)
            video.options = {"deadline": "realtime", "cpu-used": "8"}
        else:
            video = container.add_stream("libx264", rate=FPS)
            video.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast"}
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.codec_context.gop_size = GOP
        audio = container.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        frames = int(seconds * FPS)
        for i in range(frames):
            image = np.zeros((240, 320, 3), dtype=np.uint8)
            image[:, :, 0] = (i * 7) % 256
            image[(i * 3) % 240 :, : (i * 5) % 320, 1] = 200
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            frame.time_base = fractions.Fraction(1, FPS)
            for packet in video.encode(frame):
                container.mux(packet)
        samples = int(seconds * 48000)
        t = np.arange(samples) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        for start in range(0, samples, 960):
            chunk = tone[start : start + 960]
            if len(chunk) < 960:
                break
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = 48000
            frame.pts = start
            frame.time_base = fractions.Fraction(1, 48000)
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)


def frame_hash(frame: bytes) -> str:
    """SHA-256 of an encoded frame. An H.264 frame is hashed as its NAL units, each behind a
    4-byte start code: RTP carries NAL units, not the start codes between them, so that is
    what must arrive unchanged. (A VP8 frame never starts with 00 00 01: its first byte holds
    the show-frame bit.)"""
    if frame.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        frame = b"".join(b"\x00\x00\x00\x01" + unit for unit in nal_units(frame))
    return hashlib.sha256(frame).hexdigest()


def source_frames(path: Path, kind: str) -> list[tuple[str, bool]]:
    """(hash, keyframe) of every encoded frame of `kind` in the clip, in order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return [
            (frame_hash(bytes(p)), bool(p.is_keyframe)) for p in container.demux(stream) if p.size
        ]


class CapturingJitterBuffer(JitterBuffer):
    """aiortc's own jitter buffer, recording each complete encoded frame it releases."""

    def __init__(self, kind: str, sink: list[str]) -> None:
        if kind == "video":
            super().__init__(capacity=512, is_video=True)
        else:
            super().__init__(capacity=16, prefetch=4)
        self.sink = sink

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = super().add(packet)
        if frame is not None:
            self.sink.append(frame_hash(frame.data))
        return pli, None


# aiortc with its default "balanced" bundle policy never starts the second track of a kind
# negotiated in one go; browsers do not have that problem, and the SFU itself uses max-bundle.
CLIENT_RTC = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


@dataclass
class Client:
    """One participant: a websocket, and peer connections made as the protocol asks."""

    ws: aiohttp.ClientWebSocketResponse
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    publisher: RTCPeerConnection | None = None
    subscriber: RTCPeerConnection | None = None
    received: dict[str, list[str]] = field(default_factory=dict)  # mid -> frame hashes
    tracks: dict[str, dict[str, str]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def expect(self, *kinds: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message of one of these types, skipping others."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.messages.get()
                if message["type"] in kinds:
                    return message

    async def publish(self, player: MediaPlayer, video_codec: str = "") -> None:
        """Publish the player's tracks; `video_codec` ("video/H264") is then the only one
        offered, as it must be when the player hands over packets already in that codec."""
        pc = RTCPeerConnection(CLIENT_RTC)
        for track in (player.audio, player.video):
            if track is not None:
                pc.addTrack(track)
        if video_codec:
            capabilities = RTCRtpSender.getCapabilities("video")
            assert capabilities is not None
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":
                    transceiver.setCodecPreferences(
                        [c for c in capabilities.codecs if c.mimeType == video_codec]
                    )
        await pc.setLocalDescription(await pc.createOffer())
        await self.send({"type": "publish", "sdp": pc.localDescription.sdp})
        answer = await self.expect("publish-answer")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        self.publisher = pc

    async def _on_subscribe_offer(self, sdp: str) -> None:
        if self.subscriber is None:
            self.subscriber = RTCPeerConnection(CLIENT_RTC)
        pc = self.subscriber
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        for transceiver in pc.getTransceivers():
            mid = transceiver.mid or ""
            if mid not in self.received:
                self.received[mid] = []
                buffer = CapturingJitterBuffer(transceiver.kind, self.received[mid])
                transceiver.receiver._RTCRtpReceiver__jitter_buffer = buffer
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send({"type": "subscribe-answer", "sdp": pc.localDescription.sdp})

    async def pump(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            self.events.append(data)
            if data["type"] == "subscribe-offer":
                await self._on_subscribe_offer(data["sdp"])
            elif data["type"] == "tracks":
                self.tracks = {t["mid"]: t for t in data["tracks"]}
            await self.messages.put(data)

    def frames_from(self, participant_id: str, kind: str) -> list[str]:
        return [
            h
            for mid, info in self.tracks.items()
            if info["participant_id"] == participant_id and info["kind"] == kind
            for h in self.received.get(mid, [])
        ]

    async def close(self) -> None:
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()
        await self.ws.close()
        if self.task is not None:
            self.task.cancel()


@dataclass
class Sfu:
    url: str
    key: Ed25519PrivateKey
    session: aiohttp.ClientSession

    def token(
        self, identity: str, room: str = "room-1", role: str = "interviewer", **extra: Any
    ) -> str:
        return issue(self.key, room, identity, role, 600, **extra)

    @asynccontextmanager
    async def client(
        self,
        identity: str,
        room: str = "room-1",
        role: str = "interviewer",
        join: bool = True,
        **extra: Any,
    ) -> AsyncIterator[Client]:
        ws = await self.session.ws_connect(self.url + "/sfu/ws")
        client = Client(ws)
        client.task = asyncio.ensure_future(client.pump())
        try:
            if join:
                await client.send(
                    {"type": "join", "token": self.token(identity, room, role, **extra)}
                )
                await client.expect("joined")
            yield client
        finally:
            await client.close()


class SealedFiles:
    """Recording sinks for tests: each participant's recording sealed into a file under one key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data_key = os.urandom(32)
        self.key_id = os.urandom(16)
        self.files: dict[str, list[Path]] = {}
        self.manifests: list[dict[str, Any]] = []
        self.containers: dict[str, str] = {}
        self._open: dict[int, Any] = {}

    def start(self, room: str, interview_id: int | None) -> SealedFiles:
        return self

    def open(self, participant_identity: str, container: str) -> SealWriter:
        self.containers[participant_identity] = container
        paths = self.files.setdefault(participant_identity, [])
        path = self.directory / f"{participant_identity}-{len(paths)}.sealed"
        paths.append(path)
        file = path.open("wb")
        writer = SealWriter(file, self.data_key, self.key_id, os.urandom(16), 4096, durable=True)
        self._open[id(writer)] = file
        return writer

    def close(self, participant_identity: str, sink: Any) -> None:
        sink.close()
        self._open.pop(id(sink)).close()

    def abandon(self, participant_identity: str, sink: Any) -> None:
        self._open.pop(id(sink)).close()

    def finish(self, manifest: dict[str, Any]) -> None:
        self.manifests.append(manifest)

    def plaintext(self, path: Path) -> bytes:
        with path.open("rb") as source:
            return b"".join(SealedReader(source, self.data_key, self.key_id).stream())


@asynccontextmanager
async def running_sfu(
    tmp_path: Path,
    sinks: Any = None,
    captions: Any = None,
    settings: dict[str, str] | None = None,
    key: Ed25519PrivateKey | None = None,
) -> AsyncIterator[Sfu]:
    """An SFU on loopback with `tmp_path` as its data dir, checking tokens against `key` (a
    new one by default); `settings` are APPLIANCE_* variables on top of the test defaults."""
    config = load_config(
        tmp_path,
        environ={
            "APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true",
            "APPLIANCE_SFU_ROOM_GRACE_SECONDS": "1",
            **(settings or {}),
        },
    )
    key = key or Ed25519PrivateKey.generate()
    app = create_app(config, key.public_key(), sinks, captions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        try:
            yield Sfu(f"http://127.0.0.1:{port}", key, session)
        finally:
            await runner.cleanup()


def run(
    scenario: Callable[[Sfu], object],
    tmp_path: Path,
    sinks: object = None,
    captions: object = None,
    settings: dict[str, str] | None = None,
) -> None:
    async def main() -> None:
        async with running_sfu(tmp_path, sinks, captions, settings) as sfu:
            await scenario(sfu)  # type: ignore[misc]

    asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def participant_id(client: Client) -> str:
    return next(e["participant_id"] for e in client.events if e["type"] == "joined")


def assert_contiguous_from_keyframe(got: list[str], source: list[tuple[str, bool]]) -> None:
    hashes = [h for h, _ in source]
    assert got, "no frames arrived"
    start = hashes.index(got[0])
    assert source[start][1], "the first forwarded frame is not a keyframe"
    assert got == hashes[start : start + len(got)], "frames differ from the source or skip"


class PcmSink:
    """Stands in for speech recognition: keeps what the caption tap hands it."""

    def __init__(self) -> None:
        self.pcm: dict[str, bytearray] = {}
        self.finished: list[str] = []
        self.threads: set[str] = set()

    def audio(self, identity: str, pcm: bytes, at_seconds: float) -> None:
        self.threads.add(threading.current_thread().name)
        self.pcm.setdefault(identity, bytearray()).extend(pcm)

    def ended(self, identity: str) -> None:
        self.finished.append(identity)

    def for_room(self, room: str, publish: object) -> PcmSink:
        return self
