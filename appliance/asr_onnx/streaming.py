"""Live captions: every speaker's audio, as it arrives, turned into interim and final captions.

Each stream keeps a growing buffer of the current utterance. Every step it is transcribed
again, and words become final once two successive hypotheses agree on them (local agreement,
as in whisper_streaming) and a second of speech has followed them; the rest is shown as
interim text. When voice activity detection
hears the speaker stop, everything heard is made final at once and the buffer starts over,
so a caption lands about half a second plus one decode after a phrase ends.

One `CaptionEngine` serves every stream of the process on one thread: streams never compete
for the cores, and when the box falls behind it degrades — a longer step, then no interim
updates, then dropping the oldest audio (counted) — instead of lagging further and further.
Each round plans every stream's step first, then transcribes the utterances that need it
together, `batch` at a time, whatever room they come from: a GPU encodes them in one pass.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from appliance.asr_onnx.decoding import DecodeOptions
from appliance.asr_onnx.mel import SAMPLE_RATE
from appliance.asr_onnx.transcriber import Transcriber
from appliance.asr_onnx.transcript import Transcript, Word
from appliance.asr_onnx.vad import FRAME, SileroVad, VadStream

logger = logging.getLogger(__name__)


@dataclass
class Caption:
    speaker: str
    text: str
    start: float  # seconds on the speaker's stream clock
    end: float
    final: bool


@dataclass
class StreamOptions:
    language: str | None = None
    step_seconds: float = 1.0  # re-decode the utterance this often while someone speaks
    # A word becomes final mid-utterance only once this much speech has followed it: Whisper
    # revises a word when it hears the next ones ("I'm manage" becomes "I managed a").
    settle_seconds: float = 1.0
    max_step_seconds: float = 4.0
    end_silence_seconds: float = 0.5  # this much silence ends an utterance
    max_utterance_seconds: float = 20.0  # longer utterances are cut at their last final word
    no_interim_after_seconds: float = 6.0  # this far behind: only final captions
    drop_after_seconds: float = 30.0  # this far behind: the oldest audio is dropped
    speech_threshold: float = 0.5
    # Utterances of different streams (any room) encoded together. A GPU gains from it; on a
    # CPU, encoding two windows at once measured no faster than one after the other.
    batch: int = 1


JOIN_SECONDS = 0.25  # the least new speech worth bringing a decode forward for


def caption_decoding(options: StreamOptions) -> DecodeOptions:
    """Greedy, one temperature, word times: the fastest decoding that still aligns words."""
    return DecodeOptions(
        language=options.language,
        beam_size=1,
        temperatures=(0.0,),
        word_timestamps=True,
        condition_on_previous_text=False,
    )


def _key(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def _text(words: list[Word]) -> str:
    return "".join(w.word for w in words).strip()


@dataclass
class _Pending:
    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    ended: bool = False


class LiveStream:
    def __init__(
        self,
        speaker: str,
        transcriber: Transcriber,
        vad: VadStream,
        options: StreamOptions,
        emit: Callable[[Caption], None],
    ) -> None:
        self.speaker = speaker
        self.transcriber = transcriber
        self.vad = vad
        self.options = options
        self.emit = emit
        self.lock = threading.Lock()
        self.pending = _Pending()
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0.0  # stream time of buffer[0]
        self.heard = False  # speech somewhere in the buffer
        self.silence = 0.0  # trailing silence, seconds
        self.undecoded = 0.0  # buffered audio not yet in a hypothesis
        self.committed_end = 0.0
        self.previous: list[Word] = []
        self.step = options.step_seconds
        self.dropped_seconds = 0.0
        self.closed = False
        self.action = ""  # what the planned step does: close, finish, trim, interim or nothing

    # Producer side (the audio tap's thread).
    def push(self, samples: np.ndarray) -> None:
        with self.lock:
            self.pending.chunks.append(samples)
            self.pending.samples += len(samples)
            behind = self.pending.samples / SAMPLE_RATE
            if behind > self.options.drop_after_seconds:
                oldest = self.pending.chunks.pop(0)
                self.pending.samples -= len(oldest)
                self.dropped_seconds += len(oldest) / SAMPLE_RATE

    def end(self) -> None:
        with self.lock:
            self.pending.ended = True

    @property
    def behind_seconds(self) -> float:
        return self.pending.samples / SAMPLE_RATE

    def due(self) -> bool:
        with self.lock:
            return bool(self.pending.samples >= FRAME or self.pending.ended) and not self.closed

    # Consumer side (the engine's thread): plan what this step does, then complete it with the
    # transcript of `buffer` when the plan needs one (the engine batches those across streams).
    def plan(self) -> bool:
        """Take in the audio that arrived; True when the step needs `buffer` transcribed."""
        with self.lock:
            chunks, ended = self.pending.chunks, self.pending.ended
            self.pending = _Pending()
        behind = sum(len(c) for c in chunks) / SAMPLE_RATE
        self._adapt(behind)
        if chunks:
            self._listen(np.concatenate(chunks))
        if ended:
            self.action = "close"
        elif not self.heard:
            self._forget_silence()
            self.action = ""
        elif self.silence >= self.options.end_silence_seconds:
            self.action = "finish"
        elif len(self.buffer) / SAMPLE_RATE > self.options.max_utterance_seconds:
            self.action = "trim"
        elif self.undecoded >= self.step and behind < self.options.no_interim_after_seconds:
            self.action = "interim"
        else:
            self.action = ""
        if self.action in ("close", "finish"):
            return self.heard and len(self.buffer) > 0
        return self.action in ("trim", "interim")

    def join_batch(self) -> bool:
        """Decode now along with other streams, though the step is not yet due: True when there
        is new speech to decode and this round had nothing planned for the stream."""
        if self.action or not self.heard or self.undecoded < JOIN_SECONDS:
            return False
        self.action = "interim"
        return True

    def complete(self, heard: Transcript | None) -> None:
        """Finish the planned step with what `buffer` says (None when it needed no decoding)."""
        action, self.action = self.action, ""
        if action in ("close", "finish"):
            if heard is not None:
                self._hypothesis(heard, commit_all=True)
            self._reset()
            self.closed = action == "close"
        elif action in ("trim", "interim") and heard is not None:
            self._hypothesis(heard, commit_all=False)
            if action == "trim":
                self._trim()

    def _adapt(self, behind: float) -> None:
        if behind > 2 * self.step:
            self.step = min(self.options.max_step_seconds, self.step * 2)
        elif behind < self.options.step_seconds and self.step > self.options.step_seconds:
            self.step = max(self.options.step_seconds, self.step / 2)

    def _listen(self, samples: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, samples])
        self.undecoded += len(samples) / SAMPLE_RATE
        for probability in self.vad.feed(samples):
            if probability >= self.options.speech_threshold:
                self.heard = True
                self.silence = 0.0
            else:
                self.silence += FRAME / SAMPLE_RATE

    def _forget_silence(self) -> None:
        """No speech yet: keep only a short lead-in so the first word is not clipped."""
        keep = int(0.3 * SAMPLE_RATE)
        if len(self.buffer) > keep:
            self.offset += (len(self.buffer) - keep) / SAMPLE_RATE
            self.buffer = self.buffer[-keep:]
        self.undecoded = 0.0

    def _words(self, heard: Transcript) -> list[Word]:
        """The words of a transcript of `buffer`, on the stream's clock, not yet final."""
        self.undecoded = 0.0
        words = [w for s in heard.segments for w in s.words]
        for word in words:
            word.start = round(self.offset + word.start, 3)
            word.end = round(self.offset + word.end, 3)
        return [w for w in words if (w.start + w.end) / 2 > self.committed_end and _key(w.word)]

    def _hypothesis(self, heard: Transcript, commit_all: bool) -> None:
        words = self._words(heard)
        if commit_all:
            agreed = len(words)
        else:
            agreed = 0
            for old, new in zip(self.previous, words, strict=False):
                if _key(old.word) != _key(new.word):
                    break
                agreed += 1
            settled = self.offset + len(self.buffer) / SAMPLE_RATE - self.options.settle_seconds
            while agreed and words[agreed - 1].end > settled:
                agreed -= 1
        final, interim = words[:agreed], words[agreed:]
        if final:
            self.committed_end = final[-1].end
            self.emit(Caption(self.speaker, _text(final), final[0].start, final[-1].end, True))
        if interim or final:
            start = interim[0].start if interim else self.committed_end
            end = interim[-1].end if interim else self.committed_end
            self.emit(Caption(self.speaker, _text(interim), start, end, False))
        self.previous = interim

    def _reset(self) -> None:
        """The utterance is over: start a new one after it."""
        self.offset += len(self.buffer) / SAMPLE_RATE
        self.buffer = np.zeros(0, dtype=np.float32)
        self.heard, self.silence, self.undecoded, self.previous = False, 0.0, 0.0, []

    def _trim(self) -> None:
        """Cuts a long utterance at its last final word, keeping what is still open."""
        cut = int((self.committed_end - self.offset) * SAMPLE_RATE)
        if 0 < cut < len(self.buffer):
            self.buffer = self.buffer[cut:]
            self.offset += cut / SAMPLE_RATE


class CaptionEngine:
    """One recognizer thread for every live stream of the process."""

    def __init__(
        self, transcriber: Transcriber, vad: SileroVad, options: StreamOptions | None = None
    ) -> None:
        self.transcriber = transcriber
        self.vad = vad
        self.options = options or StreamOptions()
        self.streams: dict[str, LiveStream] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.dropped_seconds = 0.0
        self.encoder_runs = 0  # batches of utterances through the encoder
        self.windows = 0  # utterances in those batches
        self.thread = threading.Thread(target=self._run, name="captions", daemon=True)
        self.thread.start()

    def open(self, key: str, speaker: str, emit: Callable[[Caption], None]) -> LiveStream:
        stream = LiveStream(speaker, self.transcriber, self.vad.stream(), self.options, emit)
        with self.lock:
            previous = self.streams.get(key)
            self.streams[key] = stream
        if previous is not None:
            previous.end()
        return stream

    def stream(self, key: str) -> LiveStream | None:
        with self.lock:
            return self.streams.get(key)

    def end(self, key: str) -> None:
        stream = self.stream(key)
        if stream is not None:
            stream.end()

    def stats(self) -> dict[str, float]:
        with self.lock:
            streams = list(self.streams.values())
        return {
            "streams": len(streams),
            "dropped_seconds": self.dropped_seconds + sum(s.dropped_seconds for s in streams),
            "behind_seconds": max((s.behind_seconds for s in streams), default=0.0),
            "mean_batch": self.windows / self.encoder_runs if self.encoder_runs else 0.0,
        }

    def close(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                streams = list(self.streams.values())
            ready = [s for s in streams if s.due()]
            # The stream furthest behind goes first, so no speaker starves another.
            ready.sort(key=lambda s: -s.behind_seconds)
            needs: dict[LiveStream, bool] = {}
            for stream in ready:
                with self._failing(stream):
                    needs[stream] = stream.plan()
            decode = [stream for stream, need in needs.items() if need]
            # Streams decode whenever their own step is due, so on their own they drift out of
            # phase and never share a batch: with room left in one, bring forward the streams
            # that have heard something since their last decode.
            room = -len(decode) % max(1, self.options.batch) if decode else 0
            for stream in streams:
                if room and not stream.closed and stream.join_batch():
                    needs[stream] = True
                    decode.append(stream)
                    room -= 1
            heard = self._transcribe(decode)
            for stream in needs:
                if not stream.closed:
                    with self._failing(stream):
                        stream.complete(heard.get(stream))
            with self.lock:
                for key, stream in list(self.streams.items()):
                    if stream.closed:
                        self.dropped_seconds += stream.dropped_seconds
                        del self.streams[key]
            if not ready:
                time.sleep(0.05)

    def _transcribe(self, streams: list[LiveStream]) -> dict[LiveStream, Transcript]:
        """Every planned utterance, `batch` at a time; a batch that fails is retried one by one,
        so one bad stream cannot silence the others."""
        decoding = caption_decoding(self.options)
        heard: dict[LiveStream, Transcript] = {}
        size = max(1, self.options.batch)
        for start in range(0, len(streams), size):
            group = streams[start : start + size]
            try:
                results = self.transcriber.transcribe_many([s.buffer for s in group], decoding)
            except Exception:
                for stream in group:
                    with self._failing(stream):
                        heard[stream] = self.transcriber.transcribe(stream.buffer, decoding)
                continue
            self.encoder_runs += 1
            self.windows += len(group)
            heard.update(zip(group, results, strict=True))
        return heard

    @staticmethod
    @contextlib.contextmanager
    def _failing(stream: LiveStream) -> Iterator[None]:
        """A failure in one stream's step closes that stream alone."""
        try:
            yield
        except Exception:
            logger.exception("captions for %s failed", stream.speaker)
            stream.closed = True
