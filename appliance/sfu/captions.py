"""Live captions in the SFU: each room's audio taps feed the process's one CaptionEngine, and
its captions go back to everyone in the room as `caption` events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from appliance.asr_onnx.errors import ModelError
from appliance.asr_onnx.models import vad_path
from appliance.asr_onnx.service import open_transcriber
from appliance.asr_onnx.streaming import Caption, CaptionEngine, StreamOptions
from appliance.asr_onnx.vad import SileroVad
from appliance.core.config import Config

logger = logging.getLogger(__name__)


class RoomCaptions:
    """The caption sink of one room (the audio tap's protocol)."""

    def __init__(
        self, engine: CaptionEngine, room: str, publish: Callable[[dict[str, Any]], None]
    ) -> None:
        self.engine = engine
        self.room = room
        self.publish = publish
        self.sequence = 0

    def _key(self, identity: str) -> str:
        return f"{self.room}\0{identity}"

    def _emit(self, caption: Caption) -> None:
        self.sequence += 1
        self.publish(
            {
                "type": "caption",
                "seq": self.sequence,
                "speaker": caption.speaker,
                "text": caption.text,
                "final": caption.final,
                "start": caption.start,
                "end": caption.end,
            }
        )

    def audio(self, identity: str, pcm: bytes, at_seconds: float) -> None:
        stream = self.engine.stream(self._key(identity)) or self.engine.open(
            self._key(identity), identity, self._emit
        )
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        stream.push(samples)

    def ended(self, identity: str) -> None:
        self.engine.end(self._key(identity))


GPU_CAPTION_BATCH = 8


class LiveCaptions:
    """The SFU's caption service over one engine."""

    def __init__(self, engine: CaptionEngine) -> None:
        self.engine = engine

    def for_room(self, room: str, publish: Callable[[dict[str, Any]], None]) -> RoomCaptions:
        return RoomCaptions(self.engine, room, publish)


def open_live_captions(config: Config) -> LiveCaptions | None:
    """The configured live captions, or None (turned off, or no model installed: the call
    goes on without captions and the log says why)."""
    settings = config.asr
    if not settings.live_captions:
        return None
    try:
        transcriber = open_transcriber(
            config.models_dir, settings, settings.live_model or settings.model
        )
        vad = SileroVad(vad_path(config.models_dir))
    except ModelError as exc:
        logger.warning("live captions are off: %s", exc)
        return None
    batch = settings.caption_batch or (GPU_CAPTION_BATCH if transcriber.engine.on_gpu else 1)
    options = StreamOptions(language=settings.language or None, batch=batch)
    return LiveCaptions(CaptionEngine(transcriber, vad, options))
