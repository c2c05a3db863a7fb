"""The SFU's recording tap: each participant's packets unchanged into a sealed container, a crash
leaves a readable prefix."""

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiortc.contrib.media import MediaPlayer

from tests.support.sfu_harness import (
    SealedFiles,
    Sfu,
    assert_contiguous_from_keyframe,
    make_clip,
    participant_id,
    run,
    source_frames,
    until,
)


def test_each_participant_is_recorded_unchanged_into_a_sealed_webm(
    clip: Path, tmp_path: Path
) -> None:
    """Every frame bob received is in alice's recording, byte for byte and in order; the file
    lasts as long as she was in the call, and the manifest places her on the room's clock."""
    import io

    import av

    from tests.support.sfu_harness import frame_hash

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


def test_killing_the_sfu_mid_recording_leaves_a_playable_prefix(clip: Path, tmp_path: Path) -> None:
    import io
    import signal
    import subprocess
    import sys

    import av
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from appliance.storage.sealed import SealedReader, Truncated

    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "scenarios" / "sfu_recording_server.py"),
            str(tmp_path),
        ],
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

    def abandon(self, participant_identity: str, sink: object) -> None:
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
