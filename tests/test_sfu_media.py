"""Encoded forwarding with real aiortc peers on loopback: frames unchanged, keyframes first,
nothing stalls the forwarding."""

import asyncio
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
from aiortc.contrib.media import MediaPlayer

from tests.support.sfu_harness import (
    PcmSink,
    SealedFiles,
    Sfu,
    assert_contiguous_from_keyframe,
    make_clip,
    participant_id,
    run,
    source_frames,
    until,
)


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
