"""Transcribing a recording while it is being made, so its transcript is ready moments after
the interview ends, however long it was.

The worker follows each participant's track as the SFU seals it (storage/sealed_file.py's
FollowedFile reads it as it grows), decodes its audio as it arrives, and whenever a stretch of
speech has been closed by a silence (found with the VAD), transcribes that stretch with the
same model and settings as the batch transcript. When the recording is filed as finished, the
transcription job takes each followed track's segments and transcribes only what the follower
has not (recordings/transcription.py); a track nobody followed (the worker restarted during the
call, say) is transcribed whole, as before.

Followers run at the worker's priority (below the SFU's), one transcription at a time across
all of them, so live rooms keep the cores they need.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from appliance.asr_onnx.audio import track_pieces
from appliance.asr_onnx.errors import AudioError
from appliance.asr_onnx.mel import SAMPLE_RATE
from appliance.asr_onnx.service import decode_options
from appliance.asr_onnx.transcriber import Transcriber
from appliance.asr_onnx.vad import VadOptions
from appliance.core.config import AsrConfig
from appliance.core.errors import ApplianceError
from appliance.db.models import Recording, RecordingBlob
from appliance.recordings.store import open_blob
from appliance.recordings.transcription import ACTOR, TRACK_KINDS, FollowedTrack, shift
from appliance.runtime import Runtime
from appliance.storage.sealed_file import FollowedFile

logger = logging.getLogger(__name__)

# Speech gathered this long is transcribed up to its last pause; a monologue with no pause is
# cut here anyway (Whisper's own window is 30 s).
WINDOW_SECONDS = 30.0
LONGEST_SECONDS = 60.0
# Speech that has been followed by this much silence is finished.
PAUSE_SECONDS = 0.5


def cut_point(transcriber: Transcriber, audio: np.ndarray, at_end: bool) -> int:
    """How many samples of `audio` (speech not yet transcribed) can be transcribed now without
    cutting an utterance: all of it once its speech has ended; up to the middle of the last
    pause otherwise; 0 to wait for more."""
    if at_end or transcriber.vad is None:
        return len(audio)
    chunks = transcriber.vad.speech_chunks(audio, VadOptions())
    if not chunks:
        return len(audio)  # silence: nothing to transcribe in it
    last_start, last_end = chunks[-1]
    if len(audio) - last_end >= PAUSE_SECONDS * SAMPLE_RATE:
        return len(audio)
    if len(chunks) > 1:
        return (chunks[-2][1] + last_start) // 2
    return len(audio) if len(audio) >= LONGEST_SECONDS * SAMPLE_RATE else 0


class TrackFollower(threading.Thread):
    """Follows one track being written until its end, transcribing as it goes."""

    def __init__(
        self,
        runtime: Runtime,
        blob: RecordingBlob,
        transcriber: Transcriber,
        settings: AsrConfig,
        turn: threading.Lock,
        window: float = WINDOW_SECONDS,
    ) -> None:
        super().__init__(name=f"follow-{blob.object_id[:8]}", daemon=True)
        self.runtime = runtime
        self.blob_id = blob.id
        self.transcriber = transcriber
        self.settings = settings
        self.turn = turn
        self.window = window
        self.track = FollowedTrack(str(blob.participant_identity))
        self.stopping = threading.Event()

    def _writer_done(self) -> bool:
        if self.stopping.is_set():
            return True
        blob = RecordingBlob.get_or_none(RecordingBlob.id == self.blob_id)
        return blob is None or blob.status != "writing"

    def run(self) -> None:
        try:
            self._follow()
        except (ApplianceError, AudioError, OSError) as exc:
            self.track.error = str(exc)
            logger.warning("following track %s stopped: %s", self.blob_id, exc)
        except Exception as exc:  # the batch transcript takes over; the worker goes on
            self.track.error = f"{type(exc).__name__}: {exc}"
            logger.exception("following track %s failed", self.blob_id)

    def _follow(self) -> None:
        blob = RecordingBlob.get_by_id(self.blob_id)
        source = FollowedFile(
            open_blob(self.runtime, ACTOR, blob, "transcription"), self._writer_done
        )
        pending: list[np.ndarray] = []
        with source:
            for start, piece in track_pieces(source):
                self.track.start = start
                self.track.samples += len(piece)
                pending.append(piece)
                if self.track.samples - self.track.transcribed >= self.window * SAMPLE_RATE:
                    pending = self._transcribe(pending, at_end=False)
        if self.stopping.is_set():
            return
        self._transcribe(pending, at_end=True)
        self.track.finished = True

    def _transcribe(self, pending: list[np.ndarray], at_end: bool) -> list[np.ndarray]:
        """Transcribe what of `pending` can be now; returns what must wait for more."""
        audio = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        cut = cut_point(self.transcriber, audio, at_end)
        if cut:
            self._add(audio[:cut], self.track.start + self.track.transcribed / SAMPLE_RATE)
        self.track.transcribed += cut
        rest = audio[cut:]
        return [rest] if len(rest) else []

    def _add(self, audio: np.ndarray, offset: float) -> None:
        options = decode_options(self.settings, words=True)
        vad = VadOptions() if self.transcriber.vad is not None else None
        with self.turn:
            result = self.transcriber.transcribe(audio, options, vad=vad)
        shift(result.segments, offset)
        self.track.segments.extend(result.segments)
        self.track.language = self.track.language or result.language


class LiveTranscription:
    """The followers of every track being recorded, and what they made of them."""

    def __init__(
        self,
        runtime: Runtime,
        transcriber: Callable[[], Transcriber],
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.transcriber = transcriber
        self.window = window
        self.turn = threading.Lock()
        self.followers: dict[str, TrackFollower] = {}

    def follow_new_tracks(self) -> int:
        """Start following each track being written that nobody follows; returns how many."""
        writing = (
            RecordingBlob.select()
            .join(Recording)
            .where(
                (Recording.status == "recording")
                & (RecordingBlob.status == "writing")
                & RecordingBlob.kind.in_(TRACK_KINDS)
            )
        )
        started = 0
        for blob in writing:
            if blob.object_id in self.followers:
                continue
            follower = TrackFollower(
                self.runtime,
                blob,
                self.transcriber(),
                self.runtime.config.asr,
                self.turn,
                self.window,
            )
            self.followers[blob.object_id] = follower
            follower.start()
            started += 1
        return started

    def take(self, recording: Recording, wait: float = 120.0) -> dict[str, FollowedTrack]:
        """The followed tracks of `recording`, each once its follower has read it to the end
        (waiting up to `wait` seconds for the last speech), by object id; tracks whose
        follower failed or is still behind are left for the batch transcript."""
        ids = {
            b.object_id for b in RecordingBlob.select().where(RecordingBlob.recording == recording)
        }
        taken: dict[str, FollowedTrack] = {}
        for object_id in ids & set(self.followers):
            follower = self.followers.pop(object_id)
            follower.join(wait)
            if follower.is_alive():
                follower.stopping.set()
                logger.warning(
                    "track %s: its follower fell behind; transcribing it whole", object_id
                )
            elif follower.track.finished and not follower.track.error:
                taken[object_id] = follower.track
        return taken

    def stop(self) -> None:
        for follower in self.followers.values():
            follower.stopping.set()
