"""What the SFU reads from encoded video without decoding it, checked against real encoders."""

import fractions

import av
import numpy as np
import pytest
from aiortc.codecs.h264 import H264Encoder

from appliance.sfu.codecs import H264, VP8, h264_dimensions, nal_units, sps_dimensions, video_codecs


def encode(codec: str, width: int, height: int, frames: int = 3, **options: str) -> list[bytes]:
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, 30)
    context.options = options
    packets = []
    for i in range(frames):
        image = np.random.default_rng(i).integers(0, 255, (height, width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in context.encode(frame)]
    packets += [bytes(p) for p in context.encode(None)]
    return packets


@pytest.mark.parametrize(
    ("width", "height", "options"),
    [
        (320, 240, {"profile": "baseline"}),
        (640, 360, {"profile": "baseline"}),  # 360 is not a multiple of 16: cropped
        (1282, 722, {"profile": "high"}),
        (176, 144, {"profile": "high", "cqm": "jvt"}),  # with scaling matrices in the SPS
        (352, 288, {"profile": "high422"}),
    ],
)
def test_the_picture_size_comes_from_the_h264_parameter_set(
    width: int, height: int, options: dict[str, str]
) -> None:
    packets = encode("libx264", width, height, **options)
    first = packets[0]
    assert H264.is_keyframe(first) and not H264.is_keyframe(packets[-1])
    assert h264_dimensions(first) == (width, height)


def test_the_picture_size_comes_from_the_vp8_key_frame() -> None:
    packets = encode("libvpx", 642, 362)
    assert VP8.is_keyframe(packets[0]) and VP8.dimensions(packets[0]) == (642, 362)
    assert not VP8.is_keyframe(packets[1]) and VP8.dimensions(packets[1]) is None


def _carries_slice(payload: bytes) -> bool:
    kind = payload[0] & 0x1F
    return kind in (1, 5) or (kind == 28 and payload[1] & 0x1F in (1, 5))


@pytest.mark.parametrize("slices", ["1", "4"])
def test_the_first_packet_of_each_h264_frame_is_found_in_rtp(slices: str) -> None:
    """aiortc's packetizer makes STAP-A, FU-A and single-NAL packets. A frame's first packet
    starts it, whichever kind it is; so may its first slice (parameter sets may be missing
    from the stream), and nothing after that."""
    packets = encode("libx264", 640, 480, frames=4, profile="baseline", slices=slices)
    for frame in packets:
        payloads = H264Encoder._packetize(H264Encoder._split_bitstream(frame))
        starts = [H264.frame_start(p) for p in payloads]
        first_slice = next(i for i, p in enumerate(payloads) if _carries_slice(p))
        assert starts[0] is True and starts[first_slice] is True
        assert not any(starts[first_slice + 1 :]), [p[0] & 0x1F for p in payloads]
    assert len(H264Encoder._packetize(H264Encoder._split_bitstream(packets[0]))) > 1


@pytest.mark.parametrize("payload", [b"", b"\x1c", b"\x18\x00\x09\x67", b"\x1f\x00", b"\x00"])
def test_a_malformed_h264_payload_is_refused_not_a_crash(payload: bytes) -> None:
    assert H264.frame_start(payload) is None


def test_garbage_parameter_sets_raise_value_errors() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        sps = (
            bytes([0x67]) + rng.integers(0, 255, int(rng.integers(0, 12)), dtype=np.uint8).tobytes()
        )
        try:
            width, height = sps_dimensions(sps)
        except ValueError:
            continue
        assert width > 0 and height > 0
    assert h264_dimensions(b"\x00\x00\x00\x01\x67\x42") is None


def test_nal_units_ignore_start_code_lengths_and_trailing_zeros() -> None:
    stream = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x00\x01\x65\xcc"
    assert list(nal_units(stream)) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc"]


def test_the_codec_setting_is_checked() -> None:
    assert [c.name for c in video_codecs("h264, vp8")] == ["H264", "VP8"]
    for bad in ("", "AV1", "VP8,VP9"):
        with pytest.raises(ValueError, match="video_codecs"):
            video_codecs(bad)
