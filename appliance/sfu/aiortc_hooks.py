"""The only module that touches aiortc's private internals (pinned: aiortc 1.16.0).

aiortc has no public API for receiving encoded frames or for learning that a subscriber asked
for a keyframe. These hooks provide both; tests/test_aiortc_hooks.py fails loudly if an
internal they rely on disappears or changes shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aioice.turn
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.rtp import RtpPacket

from appliance.sfu.codecs import VideoCodec
from appliance.sfu.forwarder import RtpPiece

RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_pending: set[asyncio.Future[None]] = set()  # keeps scheduled RTCP sends alive until done


class TapJitterBuffer(JitterBuffer):
    """Stands in for the receiver's jitter buffer: hands every packet to the forwarder and
    returns no frame, so aiortc's decoder thread never has anything to decode.

    `frame_start` reads a video payload's descriptor (None: unusable, dropped); audio packets
    are whole frames."""

    def __init__(
        self,
        frame_start: Callable[[bytes], bool | None] | None,
        on_piece: Callable[[RtpPiece, int], None],
    ) -> None:
        super().__init__(capacity=16)
        self.frame_start = frame_start
        self.on_piece = on_piece

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        data: bytes = getattr(packet, "_data", b"")
        frame_start = True
        if self.frame_start is not None:
            start = self.frame_start(packet.payload)
            if start is None:
                return False, None
            frame_start = start
        piece = RtpPiece(
            sequence=packet.sequence_number,
            timestamp=packet.timestamp,
            marker=bool(packet.marker),
            frame_start=frame_start,
            data=data,
        )
        self.on_piece(piece, packet.ssrc)
        return False, None


def tap_receiver(
    receiver: RTCRtpReceiver,
    frame_start: Callable[[bytes], bool | None] | None,
    on_piece: Callable[[RtpPiece, int], None],
) -> None:
    """Route a receiver's depayloaded packets to `on_piece` instead of its decoder."""
    if not hasattr(receiver, RECEIVER_JITTER_BUFFER):
        raise RuntimeError("aiortc changed: RTCRtpReceiver has no private jitter buffer to replace")
    setattr(receiver, RECEIVER_JITTER_BUFFER, TapJitterBuffer(frame_start, on_piece))


def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send the publisher a Picture Loss Indication for `media_ssrc`."""
    task = asyncio.ensure_future(receiver._send_rtcp_pli(media_ssrc))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` when the subscriber behind `sender` sends PLI or FIR.

    aiortc's sender would otherwise only flag its own encoder, which forwarded media bypasses.
    """
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise RuntimeError("aiortc changed: RTCRtpSender has no _send_keyframe to hook")
    sender._send_keyframe = callback  # type: ignore[method-assign]


def restrict_codecs(transceiver: RTCRtpTransceiver, video: VideoCodec | None = None) -> None:
    """Offer or accept only what the SFU forwards: Opus, or `video` (with RTX)."""
    if transceiver.kind == "video":
        assert video is not None, "a video transceiver needs its codec"
        allowed = {video.mime_type.lower(), "video/rtx"}
    else:
        allowed = {"audio/opus"}
    capabilities = RTCRtpReceiver.getCapabilities(transceiver.kind)
    assert capabilities is not None
    preferred: list[RTCRtpCodecCapability] = [
        codec for codec in capabilities.codecs if codec.mimeType.lower() in allowed
    ]
    transceiver.setCodecPreferences(preferred)


UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


def enlarge_udp_receive_buffers(size: int = UDP_RECEIVE_BUFFER) -> None:
    """Give every ICE socket of this process a receive buffer of `size` bytes (the kernel caps
    it at net.core.rmem_max).

    aioice asks for 256 KiB, which overflows when the process is briefly descheduled while
    several publishers send keyframes: each lost packet then costs video until the next
    keyframe. aioice reads the size from this module constant each time it binds a socket.
    """
    if not isinstance(getattr(aioice.turn, "UDP_SOCKET_BUFFER_SIZE", None), int):
        raise RuntimeError("aioice changed: aioice.turn.UDP_SOCKET_BUFFER_SIZE is gone")
    aioice.turn.UDP_SOCKET_BUFFER_SIZE = size
