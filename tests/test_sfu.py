"""The SFU with real aiortc peers on loopback: encoded forwarding, joins, leaves, bad input."""

import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc.contrib.media import MediaPlayer

from tests.sfu_harness import Client, SealedFiles, Sfu, make_clip, running_sfu, source_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "clip.webm"
    make_clip(path)
    return path


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


def test_frames_reach_every_subscriber_byte_identical(clip: Path, tmp_path: Path) -> None:
    video, audio = source_frames(clip, "video"), source_frames(clip, "audio")

    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("alice") as alice,
            sfu.client("bob") as bob,
            sfu.client("carol") as carol,
        ):
            before = await (await sfu.session.get(sfu.url + "/healthz")).json()
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            for viewer in (bob, carol):
                await until(lambda v=viewer: len(v.frames_from(alice_id, "video")) >= 60)
                await until(lambda v=viewer: len(v.frames_from(alice_id, "audio")) >= 60)
            for viewer in (bob, carol):
                assert_contiguous_from_keyframe(viewer.frames_from(alice_id, "video"), video)
                got_audio = viewer.frames_from(alice_id, "audio")
                audio_hashes = [h for h, _ in audio]
                start = audio_hashes.index(got_audio[0])
                assert got_audio == audio_hashes[start : start + len(got_audio)]
            assert alice.frames_from(alice_id, "video") == []  # nobody receives themselves
            after = await (await sfu.session.get(sfu.url + "/healthz")).json()
            counted = {
                name: after[name] - before[name] for name in after if name.startswith("video")
            }
            assert counted["video_frames_in"] >= 60 and counted["video_frames_dropped"] == 0
            assert counted["video_frames_out"] >= 2 * 60

    run(scenario, tmp_path)


def test_a_late_joiner_gets_a_keyframe_first(clip: Path, tmp_path: Path) -> None:
    video = source_frames(clip, "video")

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            await asyncio.sleep(1.3)
            async with sfu.client("dave") as dave:
                alice_id = participant_id(alice)
                await until(lambda: len(dave.frames_from(alice_id, "video")) >= 10)
                got = dave.frames_from(alice_id, "video")
                assert [h for h, _ in video].index(got[0]) > 0
                assert_contiguous_from_keyframe(got, video)

    run(scenario, tmp_path)


def test_leave_and_rejoin_restores_the_tracks(clip: Path, tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob:
            async with sfu.client("alice") as alice:
                await alice.publish(MediaPlayer(str(clip), decode=False))
                first_id = participant_id(alice)
                await until(lambda: len(bob.frames_from(first_id, "video")) >= 5)
            left = await bob.expect("participant-left")
            assert left["participant_id"] == first_id
            await until(lambda: all(t["participant_id"] != first_id for t in bob.tracks.values()))
            async with sfu.client("alice") as again:
                await again.publish(MediaPlayer(str(clip), decode=False))
                second_id = participant_id(again)
                assert second_id != first_id
                await until(lambda: len(bob.frames_from(second_id, "video")) >= 5)

    run(scenario, tmp_path)


def test_rejoining_with_the_same_identity_replaces_the_old_connection(tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("bob") as bob,
            sfu.client("alice") as first,
            sfu.client("alice") as second,
        ):
            left = await bob.expect("participant-left")
            assert left["participant_id"] == participant_id(first)
            assert left["reason"] == "rejoined"
            health = await (await sfu.session.get(sfu.url + "/healthz")).json()
            assert health["participants"] == 2
            assert participant_id(second) != participant_id(first)

    run(scenario, tmp_path)


def test_the_room_announces_people_and_refuses_out_of_turn_messages(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("bob", name="Bob B.") as bob,
            sfu.client("alice", name="Alice A.", role="candidate") as alice,
        ):
            arrived = (await bob.expect("participant-joined"))["participant"]
            assert (arrived["identity"], arrived["name"], arrived["role"]) == (
                "alice",
                "Alice A.",
                "candidate",
            )
            joined = next(e for e in alice.events if e["type"] == "joined")
            assert [(p["identity"], p["name"]) for p in joined["participants"]] == [
                ("bob", "Bob B.")
            ]
            await alice.send({"type": "join", "token": sfu.token("alice")})
            assert (await alice.expect("error"))["code"] == "already-joined"
            await alice.send({"type": "subscribe-answer", "sdp": "v=0\r\n"})
            assert (await alice.expect("error"))["code"] == "unexpected"
            await alice.publish(MediaPlayer(str(clip), decode=False))
            await alice.send({"type": "publish", "sdp": "v=0\r\nm=audio 9 UDP 0\r\n"})
            assert (await alice.expect("error"))["code"] == "already-publishing"
            async with sfu.client("carol", join=False) as carol:
                await carol.send({"type": "join", "token": sfu.token("carol")})
                assert (await carol.expect("error"))["code"] == "room-full"
            await alice.send({"type": "leave"})
            left = await bob.expect("participant-left")
            assert (left["participant_id"], left["reason"]) == (
                arrived["participant_id"],
                "left",
            )
            await until(lambda: alice.ws.closed)

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_MAX_PARTICIPANTS": "2"})


def test_a_full_sfu_refuses_a_new_room_but_admits_to_open_ones(tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("ivy", room="first"), sfu.client("ian", room="second"):
            async with sfu.client("alex", room="third", join=False) as refused:
                await refused.send({"type": "join", "token": sfu.token("alex", "third")})
                assert (await refused.expect("error"))["code"] == "busy"
            async with sfu.client("amy", room="first"):
                pass  # joining a room already open is fine

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_MAX_ROOMS": "2"})


def test_consent_and_role_gate_publishing(clip: Path, tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("cand", role="candidate", consent_required=True) as candidate:
            joined = next(e for e in candidate.events if e["type"] == "joined")
            assert joined["can_publish"] is False and joined["recording"] is False
            await candidate.send({"type": "publish", "sdp": "v=0\r\nm=audio 9 UDP 0\r\n"})
            assert (await candidate.expect("error"))["code"] == "consent-required"
        async with sfu.client("watcher", role="observer") as observer:
            await observer.send({"type": "publish", "sdp": "v=0\r\n"})
            assert (await observer.expect("error"))["code"] == "forbidden"

    run(scenario, tmp_path)


@asynccontextmanager
async def healthy_room(sfu: Sfu, clip: Path) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A room where alice publishes to bob; yields a check that her video still reaches him."""
    async with (
        sfu.client("alice", room="healthy") as alice,
        sfu.client("bob", room="healthy") as bob,
    ):
        await alice.publish(MediaPlayer(str(clip), decode=False))
        alice_id = participant_id(alice)
        await until(lambda: len(bob.frames_from(alice_id, "video")) >= 3)

        async def keeps_flowing() -> None:
            before = len(bob.frames_from(alice_id, "video"))
            await until(lambda: len(bob.frames_from(alice_id, "video")) > before + 10)

        yield keeps_flowing


UNPARSABLE_OFFERS = [
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF\r\n",
    "v=0\r\nm=audio x UDP/TLS/RTP/SAVPF 111\r\n",
    "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96\r\n",
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\na=ssrc:zz cname:x\r\n",
]


async def _errors(ws: aiohttp.ClientWebSocketResponse, payload: str) -> dict[str, object]:
    await ws.send_str(payload)
    reply = await ws.receive(timeout=10)
    return json.loads(reply.data)  # type: ignore[no-any-return]


def test_bad_input_gets_clear_errors_and_other_rooms_keep_working(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with healthy_room(sfu, clip) as keeps_flowing:
            ws = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
            assert (await _errors(ws, "{not json"))["code"] == "bad-json"
            assert (await _errors(ws, "[1, 2]"))["code"] == "bad-message"
            assert (await _errors(ws, '{"type": "dance"}'))["code"] == "unknown-type"
            publish = json.dumps({"type": "publish", "sdp": "v=0"})
            assert (await _errors(ws, publish))["code"] == "not-joined"
            wrong = json.dumps({"type": "join", "token": sfu.token("eve", room="a"), "room": "b"})
            assert (await _errors(ws, wrong))["code"] == "wrong-room"
            good = json.dumps({"type": "join", "token": sfu.token("eve", room="bad-room")})
            assert (await _errors(ws, good))["type"] == "joined"
            for sdp in [
                "garbage",
                "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
                "v=0\r\n" + "a=x\r\n" * 14000,
                # Lines aiortc's own parser rejects (with an assert, a ValueError, ...).
                *UNPARSABLE_OFFERS,
            ]:
                reply = await _errors(ws, json.dumps({"type": "publish", "sdp": sdp}))
                assert reply["code"] == "bad-sdp" and reply["message"], reply
            expired = sfu.token("eve", room="bad-room", now=time.time() - 601)
            reply = await _errors(ws, json.dumps({"type": "join", "token": expired}))
            assert reply["code"] == "already-joined"
            await ws.send_str("x" * 200_000)
            closing = await ws.receive(timeout=10)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

            for token, why in [
                ("forged.token", "signature"),
                (sfu.token("eve")[:-4] + "AAAA", "signature"),
                ("a" * 5000, "malformed"),
                (sfu.token("eve", now=time.time() - 601), "expired"),
            ]:
                attempt = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
                reply = await _errors(attempt, json.dumps({"type": "join", "token": token}))
                assert reply["code"] == "bad-token" and why in str(reply["message"]), reply
                await attempt.close()

            # A subscriber whose answer to the SFU's offer cannot be used is told so.
            mallory = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
            await mallory.send_json({"type": "join", "token": sfu.token("mallory", "healthy")})
            async with asyncio.timeout(10):
                while (await mallory.receive_json())["type"] != "subscribe-offer":
                    pass
            await mallory.send_json({"type": "subscribe-answer", "sdp": UNPARSABLE_OFFERS[0]})
            async with asyncio.timeout(10):
                while (reply := await mallory.receive_json())["type"] != "error":
                    pass
            assert reply["code"] == "bad-sdp" and "answer" in reply["message"], reply
            await mallory.close()
            await keeps_flowing()

    run(scenario, tmp_path)


def test_a_subscriber_whose_answer_cannot_be_used_is_offered_everything_afresh(
    clip: Path, tmp_path: Path
) -> None:
    """An answer that parses but that aiortc refuses (here: no ICE credentials) is reported;
    the SFU forgets what it offered, so the next offer, on a new connection, has every track."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    def ufrag(sdp: str) -> str:
        return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))

    async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while (message := await ws.receive_json())["type"] != kind:
                pass
        return dict(message)

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            mallory = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
            await mallory.send_json({"type": "join", "token": sfu.token("mallory")})
            first = await next_of(mallory, "subscribe-offer")
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            await pc.setRemoteDescription(RTCSessionDescription(first["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            crippled = "".join(
                line + "\r\n"
                for line in pc.localDescription.sdp.splitlines()
                if not line.startswith(("a=ice-ufrag:", "a=ice-pwd:"))
            )
            await mallory.send_json({"type": "subscribe-answer", "sdp": crippled})
            error = await next_of(mallory, "error")
            assert (error["code"], error["request"]) == ("bad-sdp", "subscribe-answer"), error
            await pc.close()
            async with sfu.client("bob") as bob:
                await bob.publish(MediaPlayer(str(clip), decode=False))
                tracks = await next_of(mallory, "tracks")
                second = await next_of(mallory, "subscribe-offer")
                publishers = {participant_id(alice), participant_id(bob)}
                assert {t["participant_id"] for t in tracks["tracks"]} == publishers
                assert len(tracks["tracks"]) == 4
                assert ufrag(second["sdp"]) != ufrag(first["sdp"])  # a new connection
            await mallory.close()

    run(scenario, tmp_path)


def test_an_offer_without_a_usable_codec_is_refused(tmp_path: Path) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as alice:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            transceiver = pc.addTransceiver("video", direction="sendonly")
            capabilities = RTCRtpSender.getCapabilities("video")
            assert capabilities is not None
            transceiver.setCodecPreferences(
                [c for c in capabilities.codecs if c.mimeType == "video/H264"]
            )
            await pc.setLocalDescription(await pc.createOffer())
            await alice.send({"type": "publish", "sdp": pc.localDescription.sdp})
            error = await alice.expect("error")
            assert error["code"] == "no-codec" and "VP8" in error["message"]
            await pc.close()

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_VIDEO_CODECS": "VP8"})


def test_an_empty_room_closes_after_the_grace_period(tmp_path: Path) -> None:
    async def health(sfu: Sfu) -> dict[str, int]:
        return dict(await (await sfu.session.get(sfu.url + "/healthz")).json())

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice", room="short-lived"):
            assert (await health(sfu))["rooms"] == 1
        async with asyncio.timeout(5):
            while (now := await health(sfu))["participants"] > 0:
                await asyncio.sleep(0.05)
        assert now["rooms"] == 1  # empty, and held open for someone who dropped out to return
        await asyncio.sleep(1.5)
        assert (await health(sfu))["rooms"] == 0

    run(scenario, tmp_path)


def test_each_participant_is_recorded_unchanged_into_a_sealed_webm(
    clip: Path, tmp_path: Path
) -> None:
    """Every frame bob received is in alice's recording, byte for byte and in order; the file
    lasts as long as she was in the call, and the manifest places her on the room's clock."""
    import io

    import av

    from tests.sfu_harness import frame_hash

    sinks = SealedFiles(tmp_path)
    times: dict[str, float] = {}
    received: dict[str, list[str]] = {}

    async def scenario(sfu: Sfu) -> None:
        clock = asyncio.get_running_loop().time
        async with sfu.client("bob") as bob:
            times["recording"] = clock()  # bob's token starts the room's recording
            assert next(e for e in bob.events if e["type"] == "joined")["recording"] is True
            await asyncio.sleep(1.0)
            async with sfu.client("alice") as alice:
                times["publish"] = clock()
                await alice.publish(MediaPlayer(str(clip), decode=False))
                alice_id = participant_id(alice)
                await until(lambda: len(bob.frames_from(alice_id, "video")) >= 1, timeout=10)
                times["first"] = clock()
                await until(lambda: len(bob.frames_from(alice_id, "video")) >= 75)
                received["video"] = bob.frames_from(alice_id, "video")
                times["leaving"] = clock()
            times["left"] = clock()
        await asyncio.sleep(1.5)  # the room closes after its grace period and writes a manifest

    run(scenario, tmp_path, sinks)
    [path] = sinks.files["alice"]
    with av.open(io.BytesIO(sinks.plaintext(path))) as container:
        assert [s.codec_context.name for s in container.streams] == ["vp8", "opus"]
        packets = [p for p in container.demux(video=0) if p.size]
    recorded = [frame_hash(bytes(p)) for p in packets]
    start = recorded.index(received["video"][0])
    assert recorded[start : start + len(received["video"])] == received["video"]
    with av.open(io.BytesIO(sinks.plaintext(path))) as container:
        video_frames = list(container.decode(video=0))
    with av.open(io.BytesIO(sinks.plaintext(path))) as container:
        audio_frames = list(container.decode(audio=0))
    assert len(video_frames) == len(packets) and len(audio_frames) > 100
    duration = float((packets[-1].pts - packets[0].pts) * packets[0].time_base) + 1 / 30
    # Recorded from her first frame until she left: no longer than her time in the room, no
    # shorter than the time bob was receiving her.
    assert times["leaving"] - times["first"] - 0.5 <= duration <= times["left"] - times["publish"]
    [manifest] = sinks.manifests
    [alice] = manifest["participants"]
    assert {t["kind"] for t in alice["tracks"]} == {"audio", "video"}
    assert all(t["dropped"] == 0 for t in alice["tracks"]) and alice["error"] is None
    # Her tracks start when her media reached the SFU: after she published, about when bob
    # saw her first frame (the first audio packet may come a little after it).
    earliest, latest = times["publish"] - times["recording"], times["first"] - times["recording"]
    offsets = [t["start_offset_ms"] / 1000 for t in alice["tracks"]]
    assert all(earliest <= offset <= latest + 0.25 for offset in offsets), (offsets, times)


def test_h264_is_forwarded_unchanged_and_recorded_into_matroska(tmp_path: Path) -> None:
    import io

    import av

    clip = tmp_path / "clip.ts"
    make_clip(clip, codec="h264")
    video = source_frames(clip, "video")
    sinks = SealedFiles(tmp_path)

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False), video_codec="video/H264")
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= 60)
            assert_contiguous_from_keyframe(bob.frames_from(alice_id, "video"), video)
            assert bob.subscriber is not None
            assert "H264/90000" in bob.subscriber.remoteDescription.sdp
        await asyncio.sleep(1.5)

    run(scenario, tmp_path, sinks)
    assert sinks.containers["alice"] == "matroska"
    [path] = sinks.files["alice"]
    with av.open(io.BytesIO(sinks.plaintext(path))) as container:
        assert container.format.name == "matroska,webm"
        assert [s.codec_context.name for s in container.streams] == ["h264", "opus"]
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 240)
        frames = list(container.decode(video=0))
    assert len(frames) >= 60 and (frames[0].width, frames[0].height) == (320, 240)
    [manifest] = sinks.manifests
    [alice] = manifest["participants"]
    assert {t["codec"] for t in alice["tracks"]} == {"h264", "opus"}


def test_the_sfus_video_codec_preference_picks_from_what_the_publisher_offers(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            # aiortc offers VP8 first, then H.264; the SFU prefers H.264, so H.264 it is.
            await alice.publish(MediaPlayer(str(clip), decode=True))
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= 10)
            assert alice.publisher is not None and bob.subscriber is not None
            answer = alice.publisher.remoteDescription.sdp
            assert "H264/90000" in answer and "VP8/90000" not in answer
            offer = bob.subscriber.remoteDescription.sdp
            assert "H264/90000" in offer and "VP8/90000" not in offer

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_VIDEO_CODECS": "H264,VP8"})


def test_killing_the_sfu_mid_recording_leaves_a_playable_prefix(clip: Path, tmp_path: Path) -> None:
    import io
    import signal
    import subprocess
    import sys

    import aiohttp
    import av
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from appliance.storage.sealed import SealedReader, Truncated

    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sfu_recording_server.py")), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(server.stdout.readline().strip()))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            sfu = Sfu(f"http://127.0.0.1:{port}", key, session)
            async with sfu.client("bob") as bob, sfu.client("alice") as alice:
                await alice.publish(MediaPlayer(str(clip), decode=False))
                alice_id = participant_id(alice)
                await until(lambda: len(bob.frames_from(alice_id, "video")) >= 60)
                server.send_signal(signal.SIGKILL)
                server.wait()

    asyncio.run(scenario())
    secret = (tmp_path / "key").read_bytes()
    data_key, key_id = secret[:32], secret[32:]
    [path] = list(tmp_path.glob("alice-*.sealed"))
    prefix = []
    with path.open("rb") as source:
        reader = SealedReader(source, data_key, key_id)
        try:
            for block in reader.stream():
                prefix.append(block)
        except Truncated:
            pass
        else:
            raise AssertionError("a killed recording should read as unfinished")
    with av.open(io.BytesIO(b"".join(prefix))) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 30


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

    def for_room(self, room: str, publish: object) -> "PcmSink":
        return self


def test_the_caption_tap_hears_each_publisher_at_16_khz(clip: Path, tmp_path: Path) -> None:
    import numpy as np

    sink = PcmSink()
    heard: dict[str, int] = {}

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "audio")) >= 100)
            heard["packets"] = len(bob.frames_from(alice_id, "audio"))

    run(scenario, tmp_path, captions=sink)
    samples = np.frombuffer(bytes(sink.pcm["alice"]), dtype=np.int16)
    assert len(samples) >= heard["packets"] * 320 * 0.9  # 20 ms packets at 16 kHz
    spectrum = np.abs(np.fft.rfft(samples[:16000].astype(np.float64)))
    assert abs(np.argmax(spectrum) - 440) < 5  # 1 s of samples: bin i is i Hz; the clip's tone
    # Decoding runs beside the event loop, never on it: forwarding must not wait for captions.
    assert sink.threads == {"captions-alice"}
    assert sink.finished == ["alice"]


def test_a_flood_of_join_attempts_is_refused_and_other_rooms_keep_working(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with healthy_room(sfu, clip) as keeps_flowing:
            codes = []
            for _ in range(40):
                ws = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
                reply = await _errors(ws, json.dumps({"type": "join", "token": "forged.token"}))
                codes.append(reply["code"])
                await ws.close()
            assert "rate-limited" in codes and codes[0] == "bad-token"
            await keeps_flowing()

    run(scenario, tmp_path)


def test_a_replaced_connection_can_no_longer_publish(tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as first, sfu.client("alice"):
            # The replaced page is told so, unasked, so that it stops instead of rejoining.
            replaced = await first.expect("error")
            assert replaced["code"] == "replaced" and "request" not in replaced
            await first.send({"type": "publish", "sdp": "v=0\r\nm=audio 9 UDP 0\r\n"})
            assert (await first.expect("error"))["code"] == "not-joined"

    run(scenario, tmp_path)


class BrokenSinks:
    """Recording sinks on a disk that refuses every file."""

    def __init__(self) -> None:
        self.manifests: list[dict[str, Any]] = []

    def start(self, room: str, interview_id: int | None) -> "BrokenSinks":
        return self

    def open(self, participant_identity: str, container: str) -> object:
        raise OSError(28, "No space left on device")

    def close(self, participant_identity: str, sink: object) -> None:
        raise AssertionError("nothing was opened")

    def finish(self, manifest: dict[str, Any]) -> None:
        self.manifests.append(manifest)


def test_a_failing_recording_disk_does_not_stop_the_call(clip: Path, tmp_path: Path) -> None:
    sinks = BrokenSinks()

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= 10)
        await asyncio.sleep(1.5)

    run(scenario, tmp_path, sinks=sinks)
    [manifest] = sinks.manifests
    assert manifest["participants"] == []  # nothing recorded, and the room still closed cleanly


class StuckWriter:
    """A recording file on a disk that hangs until released."""

    def __init__(self, inner: Any, release: threading.Event) -> None:
        self.inner = inner
        self.release = release

    def write(self, data: bytes) -> int:
        self.release.wait()
        return int(self.inner.write(data))

    def flush(self) -> None:
        self.inner.flush()


class StuckDisk(SealedFiles):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.release = threading.Event()

    def open(self, participant_identity: str, container: str) -> Any:
        return StuckWriter(super().open(participant_identity, container), self.release)

    def close(self, participant_identity: str, sink: Any) -> None:
        super().close(participant_identity, sink.inner)


class StuckRecognizer(PcmSink):
    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def audio(self, identity: str, pcm: bytes, at_seconds: float) -> None:
        self.release.wait()
        super().audio(identity, pcm, at_seconds)


def test_a_stuck_disk_and_recognizer_never_stall_forwarding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The taps drop (counted) what their consumers cannot take, and a recording that lost
    video frames starts again on a keyframe, so every frame in the file still decodes."""
    import io

    import av

    from appliance.sfu import audio_tap, recorder

    monkeypatch.setattr(recorder, "QUEUE_FRAMES", 30)
    monkeypatch.setattr(audio_tap, "QUEUE_PACKETS", 20)
    clip = tmp_path / "clip.webm"
    make_clip(clip, seconds=8)
    sinks = StuckDisk(tmp_path)
    recognizer = StuckRecognizer(sinks.release)
    health: dict[str, dict[str, int]] = {}

    async def scenario(sfu: Sfu) -> None:
        async def counters() -> dict[str, int]:
            return dict(await (await sfu.session.get(sfu.url + "/healthz")).json())

        health["before"] = await counters()
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            # Both consumers hang, yet bob gets two seconds of alice, sound and picture.
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= 60)
            await until(lambda: len(bob.frames_from(alice_id, "audio")) >= 100)
            health["stuck"] = await counters()
            sinks.release.set()
            received = len(bob.frames_from(alice_id, "video"))
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= received + 45)
        await asyncio.sleep(1.5)

    run(scenario, tmp_path, sinks=sinks, captions=recognizer)
    for counter in ("recording_frames_dropped", "caption_packets_dropped"):
        assert health["stuck"][counter] > health["before"][counter], counter
    assert len(recognizer.pcm["alice"]) > 0  # captions resumed once the recognizer did
    [manifest] = sinks.manifests
    [alice] = manifest["participants"]
    video_track = next(t for t in alice["tracks"] if t["kind"] == "video")
    assert video_track["dropped"] > 0 and video_track["frames"] > 0
    [path] = sinks.files["alice"]
    with av.open(io.BytesIO(sinks.plaintext(path))) as container:
        packets = [p for p in container.demux(video=0) if p.size]
        assert packets[0].is_keyframe
        gaps = [(a, b) for a, b in itertools.pairwise(packets) if b.pts - a.pts > 50]
        assert gaps, "the stuck writer should have lost frames"
        assert all(b.is_keyframe for _, b in gaps), "recording resumed on a non-keyframe"
    with av.open(io.BytesIO(sinks.plaintext(path))) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == len(packets)


def test_offers_with_two_tracks_of_one_kind_are_refused() -> None:
    from appliance.sfu.peer import media_kinds
    from appliance.sfu.protocol import SignalingError

    assert media_kinds("v=0\r\nm=audio 9 X 0\r\nm=video 9 X 96\r\n") == ["audio", "video"]
    with pytest.raises(SignalingError):
        media_kinds("v=0\r\nm=video 9 X 96\r\nm=video 9 X 96\r\n")


def test_a_latecomer_receives_every_publisher_at_once(clip: Path, tmp_path: Path) -> None:
    """One negotiation offering two videos (and two audios) must start all four senders."""

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as alice, sfu.client("bob") as bob:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            await bob.publish(MediaPlayer(str(clip), decode=False))
            await asyncio.sleep(0.5)
            async with sfu.client("carol") as carol:
                for publisher in (alice, bob):
                    pid = participant_id(publisher)
                    await until(lambda p=pid: len(carol.frames_from(p, "video")) >= 10)
                    await until(lambda p=pid: len(carol.frames_from(p, "audio")) >= 10)

    run(scenario, tmp_path)


def test_the_panel_ends_the_room_for_everyone_and_it_cannot_be_joined_again(
    tmp_path: Path,
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("ivy", room="interview-9") as ivy,
            sfu.client("alex", room="interview-9", role="candidate") as alex,
        ):
            await alex.send({"type": "end"})
            assert (await alex.expect("error"))["code"] == "forbidden"
            await ivy.send({"type": "end"})
            ended = await alex.expect("room-ended")
            assert ended["by"] == "ivy"
        async with sfu.client("alex", room="interview-9", role="candidate", join=False) as again:
            await again.send(
                {"type": "join", "token": sfu.token("alex", "interview-9", "candidate")}
            )
            assert (await again.expect("error"))["code"] == "room-ended"
        async with sfu.client("ivy", room="interview-10"):
            pass  # other rooms are untouched

    run(scenario, tmp_path)


def test_recording_starts_when_a_consenting_participant_joins(clip: Path, tmp_path: Path) -> None:
    """The panel may wait in the room before the candidate has consented: their tokens say
    `record: false` until then. The first token that says `record: true` starts the recording,
    tells everyone, and records those already publishing."""
    sinks = SealedFiles(tmp_path)

    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("ivy", record=False, interview_id=3) as ivy,
            sfu.client("otto", role="observer", record=False, record_visible=False) as otto,
        ):
            assert next(e for e in ivy.events if e["type"] == "joined")["recording"] is False
            assert next(e for e in otto.events if e["type"] == "joined")["recording"] is None
            await ivy.publish(MediaPlayer(str(clip), decode=False))
            await asyncio.sleep(0.5)
            assert sinks.files == {}
            async with sfu.client("alex", role="candidate", record=True, interview_id=3) as alex:
                assert next(e for e in alex.events if e["type"] == "joined")["recording"] is True
                assert (await ivy.expect("recording"))["recording"] is True
                ivy_id = participant_id(ivy)
                await until(lambda: len(alex.frames_from(ivy_id, "video")) >= 45)
                await until(lambda: len(otto.frames_from(ivy_id, "video")) >= 45)
            # The observer saw the whole call and was never told it was recorded.
            assert not [e for e in otto.events if e["type"] == "recording"]
        await asyncio.sleep(1.5)

    run(scenario, tmp_path, sinks)
    [manifest] = sinks.manifests
    [ivy] = manifest["participants"]
    assert ivy["identity"] == "ivy" and {t["kind"] for t in ivy["tracks"]} == {"audio", "video"}
    assert all(t["frames"] > 0 for t in ivy["tracks"])


def candidate_ports(sdp: str) -> list[int]:
    return [int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")]


def test_media_uses_only_the_configured_udp_ports(clip: Path, tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= 10)
            assert alice.publisher is not None and bob.subscriber is not None
            for sdp in (
                alice.publisher.remoteDescription.sdp,
                bob.subscriber.remoteDescription.sdp,
            ):
                ports = candidate_ports(sdp)  # the SFU's answer to alice, its offer to bob
                assert ports and all(47100 <= port <= 47119 for port in ports), sdp

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_UDP_PORTS": "47100-47119"})


def test_a_udp_port_range_is_checked_and_a_full_one_says_so() -> None:
    import socket

    from appliance.core.config import SfuConfig
    from appliance.core.errors import ApplianceError
    from appliance.sfu.ice import bind_media_in_port_range, udp_port_range

    assert udp_port_range(SfuConfig()) is None
    assert udp_port_range(SfuConfig(udp_ports=" 40000 - 40999 ")) == (40000, 40999)
    for bad in ("40000", "abc", "50000-40000", "80-90", "60000-70000"):
        with pytest.raises(ApplianceError, match="udp_ports"):
            udp_port_range(SfuConfig(udp_ports=bad))

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            bind_media_in_port_range(loop, (port, port))
            with pytest.raises(OSError, match="in use"):
                await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
                )
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        assert transport.get_extra_info("sockname")[1] == port  # free again: it is used
        transport.close()

    asyncio.run(scenario())
