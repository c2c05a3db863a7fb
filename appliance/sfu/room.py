"""Rooms: who is in them, which tracks they publish, and their lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiortc import RTCConfiguration

from appliance.contracts.ended_rooms import RoomEnded
from appliance.contracts.join_token import MAX_TTL_SECONDS, JoinClaims
from appliance.core.config import SfuConfig
from appliance.core.errors import ApplianceError
from appliance.sfu.audio_tap import AudioTap, CaptionService, CaptionSink
from appliance.sfu.codecs import VideoCodec, video_codecs
from appliance.sfu.forwarder import TrackForwarder
from appliance.sfu.peer import Participant
from appliance.sfu.protocol import Send, SignalingError, error_message
from appliance.sfu.recorder import RecordingSinks, RoomRecording

logger = logging.getLogger(__name__)


class Room:
    """Created by the first join; closed once it has stayed empty for the grace period."""

    def __init__(
        self,
        name: str,
        claims: JoinClaims,
        config: SfuConfig,
        video_codecs: list[VideoCodec],
        rtc_config: RTCConfiguration,
        on_closed: Callable[[Room], None],
        sinks: RecordingSinks | None = None,
        captions: CaptionService | None = None,
    ) -> None:
        self.name = name
        self.captions = captions
        self.caption_sink: CaptionSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.audio_taps: dict[str, AudioTap] = {}
        self._sinks = sinks
        self.recording: RoomRecording | None = None
        self._start_recording(claims)
        self.config = config
        self.video_codecs = video_codecs
        self.rtc_config = rtc_config
        self.participants: dict[str, Participant] = {}
        self._on_closed = on_closed
        self._closing: asyncio.TimerHandle | None = None
        self.closing = False
        self.ended = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def record(self) -> bool:
        return self.recording is not None

    def _start_recording(self, claims: JoinClaims) -> bool:
        """Record from now on, if this token asks for it and this SFU has somewhere to put it."""
        if self.recording is not None or not claims.record or self._sinks is None:
            return False
        room_sinks = self._sinks.start(self.name, claims.interview_id)
        if room_sinks is None:
            return False
        self.recording = RoomRecording(self.name, room_sinks)
        return True

    async def join(self, claims: JoinClaims, send: Send) -> Participant:
        """Admit a participant; one who rejoins with the same identity replaces their old self."""
        if self.closing:
            raise SignalingError("room-closing", "the room is closing; join again")
        previous = next(
            (p for p in self.participants.values() if p.claims.identity == claims.identity), None
        )
        if previous is not None:
            # Tell the page being replaced, so that it stops instead of rejoining in its turn.
            await previous.send(
                error_message("replaced", "you joined again from another page or device")
            )
            await self.leave(previous, reason="rejoined")
            if self.closing:
                raise SignalingError("room-closing", "the room is closing; join again")
        if len(self.participants) >= self.config.max_participants:
            raise SignalingError(
                "room-full", f"the room holds at most {self.config.max_participants}"
            )
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None
        participant = Participant(self, claims, send, self.rtc_config)
        others = list(self.participants.values())
        self.participants[participant.id] = participant
        started = self._start_recording(claims)
        for other in others:
            await other.send({"type": "participant-joined", "participant": participant.describe()})
            if started and other.claims.permissions.record_visible:
                await other.send({"type": "recording", "recording": True})
        if started:
            # The panel may have been talking before the candidate consented and came in: from
            # here on, everyone already publishing is recorded too.
            for other in others:
                if other.forwarders and self.recording is not None:
                    await asyncio.to_thread(
                        self.recording.add, other.claims.identity, other.forwarders
                    )
        self._schedule(participant.sync_subscriptions())
        return participant

    async def end(self, by: Participant) -> None:
        """End the room for everyone (the panel's "End interview"); it cannot be joined again."""
        if not by.claims.permissions.end_room:
            raise SignalingError("forbidden", "only the panel can end the interview")
        await self.end_as(by.claims.name)

    async def end_as(self, name: str) -> None:
        """End the room, telling everyone in it who did."""
        self.ended = True
        await self._broadcast({"type": "room-ended", "by": name})
        await self.close()

    async def start_taps(self, participant: Participant) -> None:
        """Tap a publisher's tracks into the recording and the captions (file work off the loop)."""
        identity = participant.claims.identity
        try:
            if self.recording is not None and participant.forwarders:
                await asyncio.to_thread(self.recording.add, identity, participant.forwarders)
            if self.captions is not None:
                await self._stop_audio_tap(identity)
                if self.caption_sink is None:
                    self._loop = asyncio.get_running_loop()
                    self.caption_sink = self.captions.for_room(self.name, self._publish_soon)
                tap = AudioTap(identity, self.caption_sink)
                tap.attach(participant.forwarders)
                self.audio_taps[identity] = tap
        except Exception:  # a broken disk or recognizer must not stop the call itself
            logger.exception(
                "room %s: could not start recording or captions for %s", self.name, identity
            )

    async def _stop_audio_tap(self, identity: str) -> None:
        tap = self.audio_taps.pop(identity, None)
        if tap is not None:
            await asyncio.to_thread(tap.close)

    async def leave(self, participant: Participant, reason: str = "left") -> None:
        if self.participants.pop(participant.id, None) is None:
            return
        try:
            await participant.close()
            await self._stop_audio_tap(participant.claims.identity)
            if self.recording is not None:
                await asyncio.to_thread(self.recording.remove, participant.claims.identity)
        except Exception:
            logger.exception("room %s: cleaning up after %s failed", self.name, participant.id)
        for other in self.participants.values():
            await other.send(
                {"type": "participant-left", "participant_id": participant.id, "reason": reason}
            )
        self.track_set_changed(participant)
        if not self.participants:
            loop = asyncio.get_running_loop()
            self._closing = loop.call_later(self.config.room_grace_seconds, self._close_if_empty)

    def _publish_soon(self, event: dict[str, Any]) -> None:
        """Delivers an event from another thread (the recognizer's) to every participant."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lambda: self._schedule(self._broadcast(event)))

    async def _broadcast(self, event: dict[str, Any]) -> None:
        for participant in list(self.participants.values()):
            if not participant.closed:
                await participant.send(event)

    def forwarders_except(
        self, participant: Participant
    ) -> list[tuple[TrackForwarder, Participant]]:
        return [
            (forwarder, other)
            for other in self.participants.values()
            if other is not participant and not other.closed
            for forwarder in other.forwarders
        ]

    def track_set_changed(self, source: Participant) -> None:
        """Someone published or left: every other participant renegotiates what they receive."""
        for other in list(self.participants.values()):
            if other is not source:
                self._schedule(other.sync_subscriptions())

    def _schedule(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("room %s: renegotiation failed: %r", self.name, task.exception())

    def _close_if_empty(self) -> None:
        self._closing = None
        if not self.participants:
            self._schedule(self.close())

    async def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        self._on_closed(self)  # new joiners get a fresh room from now on
        for participant in list(self.participants.values()):
            await self.leave(participant, reason="room closed")
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        if self.recording is not None:
            recording, self.recording = self.recording, None
            try:
                await asyncio.to_thread(recording.finish)
            except Exception:
                logger.exception("room %s: finishing the recording failed", self.name)


class Rooms:
    """Every open room of this SFU process, by name."""

    def __init__(
        self,
        config: SfuConfig,
        rtc_config: RTCConfiguration,
        sinks: RecordingSinks | None = None,
        captions: CaptionService | None = None,
        ended_record: Callable[[str], RoomEnded | None] = lambda room: None,
    ) -> None:
        try:
            self.video_codecs = video_codecs(config.video_codecs)
        except ValueError as exc:
            raise ApplianceError(f"[sfu] {exc}") from None
        self.config = config
        self.rtc_config = rtc_config
        self.sinks = sinks
        self.captions = captions
        self.rooms: dict[str, Room] = {}
        # Rooms ended by the panel, until every token for them has expired: room -> deadline.
        self.ended: dict[str, float] = {}
        # The web process's signed record that a room ended (contracts/ended_rooms.py).
        self.ended_record = ended_record

    def get_or_create(self, claims: JoinClaims) -> Room:
        now = time.time()
        self.ended = {name: until for name, until in self.ended.items() if until > now}
        if claims.room in self.ended or self.ended_record(claims.room) is not None:
            raise SignalingError("room-ended", "this interview has ended")
        room = self.rooms.get(claims.room)
        if room is None:
            if 0 < self.config.max_rooms <= len(self.rooms):
                raise SignalingError(
                    "busy", "the media server holds as many interviews as it can; retry later"
                )
            room = Room(
                claims.room,
                claims,
                self.config,
                self.video_codecs,
                self.rtc_config,
                self._closed,
                self.sinks,
                self.captions,
            )
            self.rooms[claims.room] = room
        return room

    def _closed(self, room: Room) -> None:
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]
        if room.ended:
            self.ended[room.name] = time.time() + MAX_TTL_SECONDS

    async def close_ended(self) -> None:
        """End every open room the web process has recorded as ended (the interview was ended
        or cancelled there), as if the panel had ended it here."""
        for room in list(self.rooms.values()):
            record = self.ended_record(room.name)
            if record is not None and not room.closing:
                logger.info("room %s: ended by %s in the web app", room.name, record.by)
                await room.end_as(record.by)

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()
