"""One participant in a room: a publishing peer connection in, a subscribing one out."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidStateError, OperationError
from aiortc.sdp import SessionDescription

from appliance.contracts.join_token import JoinClaims
from appliance.sfu.aiortc_hooks import (
    on_keyframe_request,
    request_keyframe,
    restrict_codecs,
    tap_receiver,
)
from appliance.sfu.codecs import VideoCodec
from appliance.sfu.forwarder import (
    AudioPacketSequencer,
    RtpPiece,
    TrackForwarder,
    VideoFrameAssembler,
)
from appliance.sfu.protocol import Send, SignalingError, error_message

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT = 15.0
MAX_SDP_BYTES = 64 * 1024
MEDIA_LINE = re.compile(r"^m=(audio|video|application) ", re.MULTILINE)
# What aiortc's SDP parser raises on malformed text. It validates with `assert`, so an m-line
# without formats or a non-numeric port is an AssertionError.
UNPARSABLE_SDP = (ValueError, TypeError, KeyError, IndexError, AssertionError)
# What aiortc raises on a well-formed description it cannot use (no ICE credentials, no RTCP
# mux, a wrong state); anything else is a bug, and signaling logs it.
UNUSABLE_SDP = (ValueError, InternalError, InvalidStateError)


@dataclass
class Subscription:
    transceiver: RTCRtpTransceiver
    publisher_id: str
    kind: str


def sdp_problem(exc: Exception) -> str:
    return str(exc) or "a line that cannot be parsed"


def parse_sdp(sdp: str, what: str) -> SessionDescription:
    """`sdp` parsed, or a bad-sdp SignalingError naming `what` ("offer", "answer")."""
    if len(sdp) > MAX_SDP_BYTES:
        raise SignalingError("bad-sdp", f"the {what} is too large")
    if not sdp.startswith("v=0"):
        raise SignalingError("bad-sdp", f"the {what} does not start with v=0")
    try:
        return SessionDescription.parse(sdp)
    except UNPARSABLE_SDP as exc:
        raise SignalingError(
            "bad-sdp", f"the {what} could not be read: {sdp_problem(exc)}"
        ) from None


def media_kinds(sdp: str) -> list[str]:
    """The audio and video m-lines of an offer, in order; refuses anything else."""
    kinds = MEDIA_LINE.findall(sdp)
    media = [k for k in kinds if k in ("audio", "video")]
    if not media:
        raise SignalingError("bad-sdp", "the offer has no audio or video")
    if len(kinds) != len(media) or len(set(media)) != len(media):
        raise SignalingError("bad-sdp", "offer one audio and one video track, nothing else")
    return media


class ParticipantRoom(Protocol):
    """What a participant needs of the room it is in (sfu/room.py's Room is one)."""

    video_codecs: list[VideoCodec]

    async def start_taps(self, participant: Participant) -> None: ...

    def track_set_changed(self, source: Participant) -> None: ...

    def forwarders_except(
        self, participant: Participant
    ) -> list[tuple[TrackForwarder, Participant]]: ...


class Participant:
    def __init__(
        self, room: ParticipantRoom, claims: JoinClaims, send: Send, rtc_config: RTCConfiguration
    ) -> None:
        self.id = secrets.token_hex(6)
        self.room = room
        self.claims = claims
        self._send = send
        self._rtc_config = rtc_config
        self.publisher: RTCPeerConnection | None = None
        self.subscriber: RTCPeerConnection | None = None
        self.forwarders: list[TrackForwarder] = []
        self.subscriptions: dict[TrackForwarder, Subscription] = {}
        self._negotiation = asyncio.Lock()
        self._answer: asyncio.Future[str] | None = None
        self.closed = False

    def describe(self) -> dict[str, str]:
        return {
            "participant_id": self.id,
            "identity": self.claims.identity,
            "name": self.claims.name,
            "role": self.claims.role,
        }

    async def send(self, message: dict[str, Any]) -> None:
        if not self.closed:
            await self._send(message)

    # --- publishing -------------------------------------------------------------------------

    async def publish(self, sdp: str) -> str:
        """Accept the client's offer of its camera and microphone; returns the SDP answer."""
        if not self.claims.permissions.publish:
            raise SignalingError("forbidden", "this participant may not publish")
        if self.claims.consent_required:
            raise SignalingError(
                "consent-required", "recording consent must be recorded before publishing"
            )
        if self.closed:
            raise SignalingError("not-joined", "this connection was replaced or has left")
        if self.publisher is not None:
            raise SignalingError("already-publishing", "this participant already publishes")
        offer = parse_sdp(sdp, "offer")
        kinds = media_kinds(sdp)
        video = self._video_codec(offer) if "video" in kinds else None
        pc = RTCPeerConnection(self._rtc_config)
        for kind in kinds:
            restrict_codecs(pc.addTransceiver(kind, direction="recvonly"), video)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for transceiver in pc.getTransceivers():
                self._forward(transceiver, video)
            await pc.setLocalDescription(await pc.createAnswer())
        except OperationError as exc:
            await pc.close()
            raise SignalingError("no-codec", f"no codec in common: offer Opus ({exc})") from None
        except UNUSABLE_SDP as exc:
            await pc.close()
            raise SignalingError(
                "bad-sdp", f"the offer could not be used: {sdp_problem(exc)}"
            ) from None
        if self.closed:  # replaced or gone while the offer was being answered
            await pc.close()
            raise SignalingError("not-joined", "this connection was replaced or has left")
        self.publisher = pc
        await self.room.start_taps(self)
        self.room.track_set_changed(self)
        return pc.localDescription.sdp

    def _video_codec(self, offer: SessionDescription) -> VideoCodec:
        """The first of the SFU's video codecs, in its order of preference, that the offer has."""
        offered = {
            codec.mimeType.lower()
            for media in offer.media
            if media.kind == "video"
            for codec in media.rtp.codecs
        }
        for codec in self.room.video_codecs:
            if codec.mime_type.lower() in offered:
                return codec
        names = " or ".join(codec.name for codec in self.room.video_codecs)
        raise SignalingError("no-codec", f"no video codec in common: offer {names}")

    def _forward(self, transceiver: RTCRtpTransceiver, video: VideoCodec | None) -> None:
        kind = transceiver.kind
        receiver = transceiver.receiver
        media_ssrc: list[int] = []

        def ask_for_keyframe() -> None:
            if media_ssrc:
                request_keyframe(receiver, media_ssrc[0])

        codec = video if kind == "video" else None
        forwarder = TrackForwarder(kind, f"{self.claims.identity}/{kind}", ask_for_keyframe, codec)
        assembler = VideoFrameAssembler(codec) if codec is not None else None
        audio = AudioPacketSequencer() if codec is None else None

        def on_piece(piece: RtpPiece, ssrc: int) -> None:
            if not media_ssrc:
                media_ssrc.append(ssrc)
            now = time.monotonic()
            if assembler is not None:
                frames, need_keyframe = assembler.push(piece, now)
                if need_keyframe:
                    forwarder.request_keyframe()
            else:
                assert audio is not None
                frames = audio.push(piece, now)
            for frame in frames:
                forwarder.deliver(frame)

        tap_receiver(receiver, codec.frame_start if codec is not None else None, on_piece)
        self.forwarders.append(forwarder)

    # --- subscribing ------------------------------------------------------------------------

    async def sync_subscriptions(self) -> None:
        """Offer the client every other participant's tracks, and withdraw departed ones."""
        if self.closed or not self.claims.permissions.subscribe:
            return
        async with self._negotiation:
            if self.closed:
                return
            wanted = dict(self.room.forwarders_except(self))
            changed = False
            if self.subscriber is None:
                self.subscriber = RTCPeerConnection(self._rtc_config)
            pc = self.subscriber
            for forwarder, publisher in wanted.items():
                if forwarder not in self.subscriptions:
                    track = forwarder.subscribe()
                    # Always a new transceiver: aiortc ends a sender's RTP loop for good when
                    # its track ends, so one whose publisher left can never carry media again.
                    transceiver = pc.addTransceiver(track, direction="sendonly")
                    restrict_codecs(transceiver, forwarder.codec)
                    on_keyframe_request(transceiver.sender, forwarder.request_keyframe)
                    self.subscriptions[forwarder] = Subscription(
                        transceiver, publisher.id, forwarder.kind
                    )
                    changed = True
            for forwarder in [f for f in self.subscriptions if f not in wanted]:
                self.subscriptions.pop(forwarder).transceiver.direction = "inactive"
                changed = True
            if changed:
                await self._renegotiate(pc)

    async def _renegotiate(self, pc: RTCPeerConnection) -> None:
        await pc.setLocalDescription(await pc.createOffer())
        self._answer = asyncio.get_running_loop().create_future()
        await self.send(
            {
                "type": "tracks",
                "tracks": [
                    {"mid": s.transceiver.mid, "participant_id": s.publisher_id, "kind": s.kind}
                    for s in self.subscriptions.values()
                ],
            }
        )
        await self.send({"type": "subscribe-offer", "sdp": pc.localDescription.sdp})
        try:
            answer = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
        except TimeoutError:
            logger.warning("participant %s never answered a subscribe offer", self.id)
            return
        finally:
            self._answer = None
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except (OperationError, *UNUSABLE_SDP) as exc:
            # The offered tracks never reached the client: start again from nothing, so the
            # next change in the room offers them all afresh.
            await self._drop_subscriber()
            await self.send(
                error_message(
                    "bad-sdp",
                    f"the subscribe answer could not be used: {sdp_problem(exc)}",
                    "subscribe-answer",
                )
            )

    def take_answer(self, sdp: str) -> None:
        """The client's answer to the pending subscribe offer."""
        if self._answer is None or self._answer.done():
            raise SignalingError("unexpected", "there is no subscribe offer waiting for an answer")
        parse_sdp(sdp, "answer")
        self._answer.set_result(sdp)

    async def _drop_subscriber(self) -> None:
        for subscription in self.subscriptions.values():
            track = subscription.transceiver.sender.track
            if track is not None:
                track.stop()
        self.subscriptions.clear()
        if self.subscriber is not None:
            await self.subscriber.close()
            self.subscriber = None

    # --- leaving ----------------------------------------------------------------------------

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        for forwarder in self.forwarders:
            forwarder.close()
        await self._drop_subscriber()
        if self.publisher is not None:
            await self.publisher.close()
