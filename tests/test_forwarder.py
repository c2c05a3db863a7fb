"""Frame assembly and fan-out rules, without a network."""

import asyncio

from appliance.sfu.codecs import VP8
from appliance.sfu.forwarder import (
    AudioPacketSequencer,
    EncodedFrame,
    RtpPiece,
    TimestampUnwrapper,
    TrackForwarder,
    VideoFrameAssembler,
    seq_newer,
)

KEY = b"\x00keyframe"  # VP8 frame tag bit 0 clear: a key frame
DELTA = b"\x01delta"


def pieces(first_seq: int, timestamp: int, parts: list[bytes]) -> list[RtpPiece]:
    return [
        RtpPiece(
            sequence=(first_seq + i) & 0xFFFF,
            timestamp=timestamp,
            marker=i == len(parts) - 1,
            frame_start=i == 0,
            data=part,
        )
        for i, part in enumerate(parts)
    ]


def test_a_frame_is_released_by_its_marker_packet_not_the_next_frame() -> None:
    assembler = VideoFrameAssembler(VP8)
    first, second = (
        pieces(10, 3000, [KEY, b"-a", b"-b"])[0:2],
        pieces(10, 3000, [KEY, b"-a", b"-b"])[2],
    )
    for piece in first:
        assert assembler.push(piece, 0.0) == ([], False)
    frames, need = assembler.push(second, 0.01)
    assert [f.data for f in frames] == [KEY + b"-a-b"] and not need and frames[0].keyframe


def test_packets_reordered_within_a_frame_wait_for_the_gap() -> None:
    assembler = VideoFrameAssembler(VP8)
    a, b, c = pieces(100, 90, [KEY, b"1", b"2"])
    assert assembler.push(a, 0)[0] == []
    assert assembler.push(c, 0)[0] == []
    frames, _ = assembler.push(b, 0)
    assert [f.data for f in frames] == [KEY + b"12"]


def test_nothing_is_forwarded_until_a_keyframe_and_a_keyframe_is_requested() -> None:
    assembler = VideoFrameAssembler(VP8)
    frames, need = assembler.push(pieces(5, 1, [DELTA])[0], 0)
    assert frames == [] and need
    frames, need = assembler.push(pieces(6, 2, [KEY])[0], 0)
    assert [f.data for f in frames] == [KEY] and not need


def test_an_unrepaired_gap_resyncs_on_the_next_keyframe() -> None:
    assembler = VideoFrameAssembler(VP8, gap_timeout=0.25)
    assembler.push(pieces(1, 100, [KEY])[0], 0.0)
    later = pieces(3, 300, [DELTA])[0]  # seq 2 was lost
    assert assembler.push(later, 0.1) == ([], False)
    frames, need = assembler.push(pieces(4, 400, [DELTA])[0], 0.5)
    assert frames == [] and need and assembler.resyncs == 1
    frames, _ = assembler.push(pieces(5, 500, [KEY])[0], 0.6)
    assert [f.data for f in frames] == [KEY]


def test_a_repaired_gap_releases_frames_in_order() -> None:
    assembler = VideoFrameAssembler(VP8)
    assembler.push(pieces(1, 100, [KEY])[0], 0.0)
    assembler.push(pieces(3, 300, [DELTA + b"3"])[0], 0.01)
    frames, _ = assembler.push(pieces(2, 200, [DELTA + b"2"])[0], 0.05)
    assert [f.data for f in frames] == [DELTA + b"2", DELTA + b"3"]


def test_sequence_numbers_and_timestamps_wrap() -> None:
    assert seq_newer(0, 65535) and not seq_newer(65535, 0)
    assembler = VideoFrameAssembler(VP8)
    frames = []
    for seq, ts in [(65534, 2**32 - 3000), (65535, 2**32 - 10), (0, 2980)]:
        frames += assembler.push(pieces(seq, ts, [KEY if seq == 65534 else DELTA])[0], 0)[0]
    assert [f.timestamp for f in frames] == [2**32 - 3000, 2**32 - 10, 2**32 + 2980]
    unwrapper = TimestampUnwrapper()
    assert [unwrapper.unwrap(t) for t in (10, 2**32 - 5, 20)] == [10, 2**32 - 5 - 2**32, 20]


def test_duplicate_and_late_audio_packets_are_dropped() -> None:
    sequencer = AudioPacketSequencer()
    got = []
    for seq in (1, 2, 2, 1, 4, 3):
        got += [
            f.data for f in sequencer.push(RtpPiece(seq, seq * 960, True, True, bytes([seq])), 0)
        ]
    assert got == [b"\x01", b"\x02", b"\x04"]


def frame(keyframe: bool, n: int = 0) -> EncodedFrame:
    return EncodedFrame(bytes([n]), n, keyframe, 0.0)


def test_a_new_video_subscriber_waits_for_a_keyframe_and_asks_for_one() -> None:
    async def scenario() -> None:
        requests = []
        forwarder = TrackForwarder("video", "alice/video", lambda: requests.append(1))
        track = forwarder.subscribe()
        assert requests == [1]
        forwarder.deliver(frame(False, 1))
        forwarder.deliver(frame(True, 2))
        forwarder.deliver(frame(False, 3))
        assert [bytes(await track.recv()) for _ in range(2)] == [b"\x02", b"\x03"]

    asyncio.run(scenario())


def test_a_slow_subscriber_loses_frames_without_slowing_the_others() -> None:
    async def scenario() -> None:
        forwarder = TrackForwarder("video", "alice/video", lambda: None)
        slow, fast = forwarder.subscribe(), forwarder.subscribe()
        forwarder.deliver(frame(True, 0))
        for n in range(1, 400):
            forwarder.deliver(frame(False, n % 256))
            await fast.recv()
        assert slow.dropped > 0 and slow.waiting_for_keyframe
        assert fast.dropped == 0

    asyncio.run(scenario())


def test_closing_a_forwarder_ends_its_subscriber_tracks() -> None:
    async def scenario() -> None:
        from aiortc.mediastreams import MediaStreamError

        forwarder = TrackForwarder("audio", "alice/audio", lambda: None)
        track = forwarder.subscribe()
        forwarder.close()
        try:
            await track.recv()
        except MediaStreamError:
            return
        raise AssertionError("recv() should have ended the track")

    asyncio.run(scenario())


def test_finishing_a_feed_whose_consumer_died_does_not_hang() -> None:
    import threading
    import time

    from appliance.sfu.feed import BoundedFeed

    feed: BoundedFeed[int] = BoundedFeed(1)
    consumer = threading.Thread(target=lambda: None)
    consumer.start()
    consumer.join()
    assert feed.offer(1) and not feed.offer(2)  # full, and nobody will ever drain it
    started = time.monotonic()
    assert feed.finish(consumer, timeout=5) is True  # nothing left running
    assert time.monotonic() - started < 1


def test_keyframe_requests_to_the_publisher_are_rate_limited() -> None:
    """Many subscribers joining (or PLIs) at once must not flood the publisher with requests."""
    import time

    from appliance.sfu.forwarder import KEYFRAME_REQUEST_INTERVAL

    async def scenario() -> None:
        requests: list[float] = []
        forwarder = TrackForwarder(
            "video", "alice/video", lambda: requests.append(time.monotonic())
        )
        for _ in range(5):
            forwarder.subscribe()
            forwarder.request_keyframe()
        assert len(requests) == 1
        await asyncio.sleep(KEYFRAME_REQUEST_INTERVAL + 0.05)
        forwarder.request_keyframe()
        assert len(requests) == 2 and requests[1] - requests[0] >= KEYFRAME_REQUEST_INTERVAL

    asyncio.run(scenario())
