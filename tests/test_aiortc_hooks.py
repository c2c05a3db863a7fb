"""The aiortc internals the SFU relies on are still there, with the shapes it expects.

If aiortc is upgraded and any of these fails, appliance/sfu/aiortc_hooks.py needs work before
the pin in pyproject.toml may move.
"""

import asyncio
import inspect
from importlib.metadata import version
from pathlib import Path

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer

from appliance.sfu.aiortc_hooks import RECEIVER_JITTER_BUFFER, TapJitterBuffer


def test_aiortc_is_the_pinned_release() -> None:
    assert version("aiortc") == "1.16.0"


def test_receiver_internals_have_the_expected_shape() -> None:
    async def scenario() -> None:
        pc = RTCPeerConnection()
        transceiver = pc.addTransceiver("video", direction="recvonly")
        receiver = transceiver.receiver
        assert isinstance(getattr(receiver, RECEIVER_JITTER_BUFFER), JitterBuffer)
        assert inspect.iscoroutinefunction(RTCRtpReceiver._send_rtcp_pli)
        assert list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) == [
            "self",
            "media_ssrc",
        ]
        source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
        assert "self.__jitter_buffer.add(packet)" in source
        assert "packet._data = depayload(codec, packet.payload)" in source
        await pc.close()

    asyncio.run(scenario())


def test_sender_internals_have_the_expected_shape() -> None:
    assert callable(RTCRtpSender._send_keyframe)
    source = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self._send_keyframe()" in source
    assert "self.__encoder.pack(data)" in inspect.getsource(RTCRtpSender._next_encoded_frame)


def test_the_tap_replaces_the_buffer_interface_it_overrides() -> None:
    assert list(inspect.signature(JitterBuffer.add).parameters) == ["self", "packet"]
    assert issubclass(TapJitterBuffer, JitterBuffer)


def test_encoders_packetize_forwarded_packets_as_the_sfu_expects() -> None:
    """The sender hands `pack` an av.Packet of one frame: H.264 as Annex B (split at start
    codes), VP8 as the bare frame; and both offer the capability names the SFU restricts to."""
    import fractions

    import av
    from aiortc.codecs.h264 import H264Encoder, H264PayloadDescriptor
    from aiortc.codecs.vpx import Vp8Encoder, VpxPayloadDescriptor

    annex_b = b"\x00\x00\x00\x01\x67\x42\xc0\x1e\x00\x00\x01\x65\x88\x84"
    packet = av.Packet(annex_b)
    packet.pts, packet.time_base = 3000, fractions.Fraction(1, 90000)
    payloads, timestamp = H264Encoder().pack(packet)
    assert timestamp == 3000 and payloads[0][0] & 0x1F == 24  # STAP-A of both units
    assert H264PayloadDescriptor.parse(payloads[0])[1] == (
        b"\x00\x00\x00\x01\x67\x42\xc0\x1e\x00\x00\x00\x01\x65\x88\x84"
    )
    payloads, _ = Vp8Encoder().pack(packet)
    assert VpxPayloadDescriptor.parse(payloads[0])[1] == annex_b
    video = RTCRtpReceiver.getCapabilities("video")
    assert video is not None
    assert {c.mimeType for c in video.codecs} >= {"video/VP8", "video/H264", "video/rtx"}


def test_ice_sockets_get_the_larger_receive_buffer() -> None:
    import socket

    from aiortc import RTCConfiguration

    from appliance.sfu.aiortc_hooks import enlarge_udp_receive_buffers
    from appliance.sfu.ice import gather_on_loopback_only

    gather_on_loopback_only()
    enlarge_udp_receive_buffers(1024 * 1024)

    async def scenario() -> int:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video")
        await pc.setLocalDescription(await pc.createOffer())
        [transceiver] = pc.getTransceivers()
        gatherer = transceiver.sender.transport.transport.iceGatherer
        [protocol] = gatherer._connection._protocols
        size = protocol.transport.get_extra_info("socket").getsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF
        )
        await pc.close()
        return int(size)

    size = asyncio.run(scenario())
    limit = int(Path("/proc/sys/net/core/rmem_max").read_text())
    assert size >= 2 * min(1024 * 1024, limit) > 2 * 262144 or limit <= 262144


def test_aioice_still_lists_host_addresses_through_the_function_tests_replace() -> None:
    """`[sfu] ice_loopback_only` replaces aioice.ice.get_host_addresses; gathering must still
    call it by that name, or the setting would silently do nothing."""
    import aioice.ice

    assert list(inspect.signature(aioice.ice.get_host_addresses).parameters) == [
        "use_ipv4",
        "use_ipv6",
    ]
    assert "get_host_addresses(" in inspect.getsource(aioice.ice.Connection.gather_candidates)
