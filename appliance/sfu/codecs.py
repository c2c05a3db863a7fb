"""What the SFU must know of each video codec it forwards without decoding.

Per codec: where a frame starts in RTP (from the payload descriptor), whether a frame is a
keyframe, its picture size (from a VP8 key frame header or an H.264 sequence parameter set),
and how a recording stores it (WebM for VP8, Matroska for H.264).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiortc.codecs.h264 import H264PayloadDescriptor
from aiortc.codecs.vpx import VpxPayloadDescriptor


@dataclass(frozen=True)
class VideoCodec:
    name: str  # as in SDP and in the [sfu] video_codecs setting
    mime_type: str
    mux_name: str  # the codec's name for PyAV's muxers
    container: str  # the recording's container format
    frame_start: Callable[[bytes], bool | None]  # RTP payload → first packet of a frame?
    is_keyframe: Callable[[bytes], bool]  # complete frame
    dimensions: Callable[[bytes], tuple[int, int] | None]  # keyframe → (width, height)


CONTAINERS = {"webm": ("webm", "video/webm"), "matroska": ("mkv", "video/x-matroska")}


# --- VP8 -------------------------------------------------------------------------------------


def vp8_frame_start(payload: bytes) -> bool | None:
    try:
        descriptor, _ = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        return None
    return bool(descriptor.partition_start) and descriptor.partition_id == 0


def vp8_is_keyframe(frame: bytes) -> bool:
    # The VP8 frame tag's lowest bit is 0 for a key frame (RFC 6386, section 9.1).
    return len(frame) > 0 and frame[0] & 0x01 == 0


def vp8_dimensions(keyframe: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386, section 9.1)."""
    if len(keyframe) < 10 or keyframe[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack("<HH", keyframe[6:10])
    return width & 0x3FFF, height & 0x3FFF


# --- H.264 -----------------------------------------------------------------------------------

NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD = 1, 5, 6, 7, 8, 9
STAP_A, FU_A = 24, 28
START_CODE = re.compile(b"\x00\x00\x01")
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def nal_units(annex_b: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B byte stream, start codes and trailing zeros removed."""
    starts = [m.end() for m in START_CODE.finditer(annex_b)]
    for begin, end in zip(starts, [*starts[1:], len(annex_b) + 3], strict=True):
        unit = annex_b[begin : end - 3].rstrip(b"\x00")
        if unit:
            yield unit


def _starts_access_unit(nal: bytes) -> bool:
    """Whether a NAL unit opens a frame: parameter sets, SEI and delimiters come before its
    slices, and a frame's first slice has first_mb_in_slice = 0 (ue(v) '1')."""
    kind = nal[0] & 0x1F
    if kind in (NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD):
        return True
    return kind in (NAL_SLICE, NAL_IDR) and len(nal) > 1 and bool(nal[1] & 0x80)


def h264_frame_start(payload: bytes) -> bool | None:
    """RFC 6184 payloads: single NAL unit, STAP-A (first unit counts), FU-A (first fragment)."""
    try:
        H264PayloadDescriptor.parse(payload)
    except ValueError:
        return None
    kind = payload[0] & 0x1F
    if kind == STAP_A:
        return len(payload) > 3 and _starts_access_unit(payload[3:])
    if kind == FU_A:
        first_fragment = bool(payload[1] & 0x80)
        header = bytes([(payload[0] & 0xE0) | (payload[1] & 0x1F)])
        return first_fragment and _starts_access_unit(header + payload[2:3])
    return _starts_access_unit(payload)


def h264_is_keyframe(frame: bytes) -> bool:
    """An IDR picture, which the SFU forwards only with its parameter sets in front."""
    kinds = {unit[0] & 0x1F for unit in nal_units(frame)}
    return NAL_IDR in kinds and NAL_SPS in kinds


class _Bits:
    """Reads an RBSP (emulation-prevention bytes removed) bit by bit, Exp-Golomb included."""

    def __init__(self, rbsp: bytes) -> None:
        self.value = int.from_bytes(rbsp, "big")
        self.left = len(rbsp) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise ValueError("the parameter set ends early")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("an Exp-Golomb code is too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    return nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last, following = 8, 8
    for _ in range(size):
        if following != 0:
            following = (last + bits.se() + 256) % 256
        last = following if following != 0 else last


def sps_dimensions(sps: bytes) -> tuple[int, int]:
    """Cropped width and height from a sequence parameter set NAL unit (H.264, 7.3.2.1.1)."""
    bits = _Bits(_rbsp(sps))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    separate_planes = 0
    if profile in HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_planes = bits.u(1)
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        if chroma_format == 0 or separate_planes:
            unit_x, unit_y = 1, 2 - frame_mbs_only
        else:
            unit_x = 2 if chroma_format in (1, 2) else 1
            unit_y = (2 if chroma_format == 1 else 1) * (2 - frame_mbs_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise ValueError("the parameter set describes an empty picture")
    return width, height


def h264_dimensions(keyframe: bytes) -> tuple[int, int] | None:
    for unit in nal_units(keyframe):
        if unit[0] & 0x1F == NAL_SPS:
            try:
                return sps_dimensions(unit)
            except ValueError:
                return None
    return None


VP8 = VideoCodec(
    "VP8", "video/VP8", "vp8", "webm", vp8_frame_start, vp8_is_keyframe, vp8_dimensions
)
H264 = VideoCodec(
    "H264", "video/H264", "h264", "matroska", h264_frame_start, h264_is_keyframe, h264_dimensions
)
VIDEO_CODECS = {codec.name: codec for codec in (VP8, H264)}


def video_codecs(setting: str) -> list[VideoCodec]:
    """The `[sfu] video_codecs` setting ("VP8,H264"), in order of preference."""
    names = [name.strip().upper() for name in setting.split(",") if name.strip()]
    unknown = [name for name in names if name not in VIDEO_CODECS]
    if unknown or not names:
        raise ValueError(
            f"video_codecs must list some of {', '.join(VIDEO_CODECS)}; got {setting!r}"
        )
    return [VIDEO_CODECS[name] for name in dict.fromkeys(names)]
