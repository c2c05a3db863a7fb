"""The signaling websocket (`/sfu/ws`): JSON messages, one session per connection.

docs/signaling.md is the protocol's authority. Every malformed or refused message gets an
`error` message; nothing a client sends can stop the SFU serving other rooms.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.contracts.join_token import TokenRejected, verify
from appliance.core.ratelimit import AddressLimiter, client_address
from appliance.sfu.connections import ConnectionGate
from appliance.sfu.peer import Participant
from appliance.sfu.protocol import SignalingError, error_message
from appliance.sfu.room import Room, Rooms

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024


class Session:
    """One websocket: joins once, then publishes, answers offers, and leaves."""

    def __init__(
        self,
        rooms: Rooms,
        public_key: Ed25519PublicKey,
        ws: web.WebSocketResponse,
        limiter: AddressLimiter,
        address: str,
    ) -> None:
        self.rooms = rooms
        self.limiter = limiter
        self.address = address
        self.public_key = public_key
        self.ws = ws
        self.room: Room | None = None
        self.participant: Participant | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "join": self.join,
            "publish": self.publish,
            "subscribe-answer": self.subscribe_answer,
            "end": self.end,
            "leave": self.leave,
        }

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        try:
            await self.ws.send_json(message)
        except ConnectionError:
            # The client went away mid-send; its session ends when the receive loop notices.
            logger.debug("signaling: dropped a message to a closing socket")

    async def error(self, code: str, message: str, request: str | None = None) -> None:
        await self.send(error_message(code, message, request))

    async def handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            await self.error("bad-json", "messages are JSON objects")
            return
        except RecursionError:  # nesting deeper than the parser's stack, well under the size cap
            await self.error("bad-json", "messages are JSON objects, nested a few levels at most")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.error("bad-message", "a message is a JSON object with a string 'type'")
            return
        handler = self.handlers.get(message["type"])
        if handler is None:
            await self.error("unknown-type", f"unknown message type {message['type'][:40]!r}")
            return
        try:
            await handler(message)
        except SignalingError as exc:
            await self.error(exc.code, exc.message, message["type"])
        except Exception:
            logger.exception("signaling: %s failed", message["type"])
            await self.error("internal", "the SFU could not handle that message", message["type"])

    def _joined(self) -> Participant:
        if self.participant is None:
            raise SignalingError("not-joined", "send 'join' with a token first")
        if self.participant.closed:
            raise SignalingError("not-joined", "this connection was replaced by a newer one")
        return self.participant

    async def join(self, message: dict[str, Any]) -> None:
        if self.participant is not None:
            raise SignalingError("already-joined", "this connection has already joined")
        if not self.limiter.allow(self.address):
            await self.error(
                "rate-limited", "too many join attempts; wait a minute and retry", "join"
            )
            await self.ws.close()
            return
        try:
            claims = verify(self.public_key, message.get("token", ""))
        except TokenRejected as exc:
            await self.error("bad-token", str(exc), "join")
            await self.ws.close()
            return
        if "room" in message and message["room"] != claims.room:
            raise SignalingError("wrong-room", "the token is for another room")
        room = self.rooms.get_or_create(claims)
        self.participant = await room.join(claims, self.send)
        self.room = room
        await self.send(
            {
                "type": "joined",
                "participant_id": self.participant.id,
                "identity": claims.identity,
                "name": claims.name,
                "participants": [
                    p.describe() for p in room.participants.values() if p is not self.participant
                ],
                # null: this observer is not told (see Permissions.record_visible).
                "recording": room.record if claims.permissions.record_visible else None,
                "can_publish": claims.permissions.publish and not claims.consent_required,
            }
        )

    async def publish(self, message: dict[str, Any]) -> None:
        sdp = message.get("sdp")
        if not isinstance(sdp, str):
            raise SignalingError("bad-sdp", "'publish' needs an 'sdp' string")
        answer = await self._joined().publish(sdp)
        await self.send({"type": "publish-answer", "sdp": answer})

    async def subscribe_answer(self, message: dict[str, Any]) -> None:
        sdp = message.get("sdp")
        if not isinstance(sdp, str):
            raise SignalingError("bad-sdp", "'subscribe-answer' needs an 'sdp' string")
        self._joined().take_answer(sdp)

    async def end(self, message: dict[str, Any]) -> None:
        participant = self._joined()
        assert self.room is not None
        await self.room.end(participant)
        await self.ws.close()

    async def leave(self, message: dict[str, Any]) -> None:
        await self.close()
        await self.ws.close()

    async def close(self) -> None:
        if self.room is not None and self.participant is not None:
            await self.room.leave(self.participant)
        self.participant = None
        self.room = None


def websocket_handler(
    rooms: Rooms,
    public_key: Ed25519PublicKey,
    limiter: AddressLimiter,
    gate: ConnectionGate,
    join_timeout: float,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        address = client_address(request.remote or "", request.headers.get("X-Forwarded-For", ""))
        refusal = gate.refusal(address)
        if refusal is not None:
            status, reason = refusal
            return web.json_response({"error": reason}, status=status)
        gate.opened(address)
        try:
            ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=20)
            await ws.prepare(request)
            session = Session(rooms, public_key, ws, limiter, address)
            try:
                await _serve(session, ws, join_timeout)
            finally:
                await session.close()
            return ws
        finally:
            gate.closed(address)

    return handle


async def _serve(session: Session, ws: web.WebSocketResponse, join_timeout: float) -> None:
    """Hand each message to the session until the socket closes; one that has not joined a
    room `join_timeout` seconds after opening is told so and closed."""
    deadline = asyncio.get_running_loop().time() + join_timeout
    while not ws.closed:
        if session.participant is None:
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await ws.receive()
            except TimeoutError:
                await session.error("join-timeout", "join a room within seconds of connecting")
                await ws.close()
                return
        else:
            msg = await ws.receive()
        if msg.type == WSMsgType.TEXT:
            await session.handle(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await session.error("bad-message", "messages are JSON text, not binary")
        else:
            return
