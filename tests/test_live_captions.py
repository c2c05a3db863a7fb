"""Live captions: local agreement on a real-time stream, degrading when behind, and captions
reaching everyone in a real SFU room from a real aiortc publisher."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from aiortc.contrib.media import MediaPlayer

from appliance.asr_onnx.models import vad_path
from appliance.asr_onnx.streaming import Caption, CaptionEngine, LiveStream, StreamOptions
from appliance.asr_onnx.transcriber import Transcriber
from appliance.asr_onnx.transcript import Segment, Transcript, Word
from appliance.asr_onnx.vad import SileroVad
from appliance.sfu.captions import LiveCaptions
from tests.support.sfu_harness import running_sfu
from tests.support.speech import clip, participant_webm, silence, wer


@pytest.fixture(scope="module")
def vad(speech_models: Path) -> SileroVad:
    return SileroVad(vad_path(speech_models))


class Collected:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.captions: list[tuple[float, Caption]] = []

    def __call__(self, caption: Caption) -> None:
        with self.lock:
            self.captions.append((time.monotonic(), caption))

    def finals(self, speaker: str) -> list[Caption]:
        with self.lock:
            return [c for _, c in self.captions if c.final and c.speaker == speaker]


def test_two_speakers_get_interim_then_final_captions_in_real_time(
    tmp_path: Path, transcriber: Transcriber, vad: SileroVad
) -> None:
    engine = CaptionEngine(transcriber, vad, StreamOptions(language="en"))
    collected = Collected()
    streams = {
        "interviewer": engine.open("r/interviewer", "interviewer", collected),
        "candidate": engine.open("r/candidate", "candidate", collected),
    }
    script = [("interviewer", "project"), ("candidate", "answer")]
    spoken: dict[str, str] = {}
    phrase_ends: dict[str, float] = {}
    started = time.monotonic()
    pushed = 0.0
    try:
        for speaker, name in script:
            samples, spoken[speaker] = clip(name, tmp_path)
            audio = np.concatenate([samples, silence(1.5)])
            for start in range(0, len(audio), 1600):  # 100 ms at a time, at the speed of speech
                chunk = audio[start : start + 1600]
                for who, stream in streams.items():
                    stream.push(chunk if who == speaker else np.zeros_like(chunk))
                if start <= len(samples) < start + 1600:
                    phrase_ends[speaker] = time.monotonic()
                pushed += len(chunk) / 16000
                time.sleep(max(0.0, started + pushed - time.monotonic()))
        deadline = time.monotonic() + 20
        last_word = spoken["candidate"].split()[-1].strip(".").lower()
        while time.monotonic() < deadline and last_word not in " ".join(
            c.text.lower() for c in collected.finals("candidate")
        ):
            time.sleep(0.1)
    finally:
        engine.close()
    for speaker, text in spoken.items():
        finals = collected.finals(speaker)
        assert finals, speaker
        heard = " ".join(c.text for c in finals)
        assert wer(text, heard) <= 0.3, heard
        # Final words never repeat: each final starts where the previous one ended.
        for before, after in itertools.pairwise(finals):
            assert after.start >= before.end - 0.05
        # The phrase's last words became final after the speaker stopped, not before.
        arrived = max(t for t, c in collected.captions if c.final and c.speaker == speaker)
        assert arrived > phrase_ends[speaker]
    interim = [c for _, c in collected.captions if not c.final and c.text]
    assert interim, "interim captions show words before they are final"
    assert engine.stats()["dropped_seconds"] == 0


def test_two_calls_speaking_at_once_are_encoded_together(
    tmp_path: Path, transcriber: Transcriber, vad: SileroVad
) -> None:
    engine = CaptionEngine(transcriber, vad, StreamOptions(language="en", batch=2))
    collected = Collected()
    spoken: dict[str, str] = {}
    audio: dict[str, np.ndarray] = {}
    for speaker, name in (("room-a/ada", "project"), ("room-b/bo", "answer")):
        samples, spoken[speaker] = clip(name, tmp_path)
        audio[speaker] = np.concatenate([samples, silence(1.5)])
    streams = {speaker: engine.open(speaker, speaker, collected) for speaker in audio}
    try:
        started, pushed = time.monotonic(), 0.0
        for start in range(0, max(len(a) for a in audio.values()), 1600):
            for speaker, stream in streams.items():
                chunk = audio[speaker][start : start + 1600]
                stream.push(chunk if len(chunk) else np.zeros(1600, np.float32))
            pushed += 0.1
            time.sleep(max(0.0, started + pushed - time.monotonic()))
        for stream in streams.values():
            stream.end()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and engine.stats()["streams"]:
            time.sleep(0.1)
    finally:
        engine.close()
    for speaker, text in spoken.items():
        assert wer(text, " ".join(c.text for c in collected.finals(speaker))) <= 0.3
    assert engine.stats()["mean_batch"] > 1  # the two utterances went through together


def test_a_recognizer_that_falls_behind_drops_audio_and_says_so(
    tmp_path: Path, transcriber: Transcriber, vad: SileroVad
) -> None:
    engine = CaptionEngine(transcriber, vad, StreamOptions(language="en", drop_after_seconds=8))
    collected = Collected()
    samples, text = clip("numbers", tmp_path)
    try:
        stream = engine.open("r/x", "x", collected)
        with engine.lock:  # hold the engine off while a burst arrives
            stream.push(silence(20))
            stream.push(np.concatenate([samples, silence(1.0)]))
            assert stream.dropped_seconds >= 12
        stream.end()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not collected.finals("x"):
            time.sleep(0.1)
    finally:
        engine.close()
    assert engine.stats()["dropped_seconds"] >= 12
    assert wer(text, " ".join(c.text for c in collected.finals("x"))) <= 0.3


def test_captions_reach_everyone_in_the_room(
    tmp_path: Path, transcriber: Transcriber, vad: SileroVad
) -> None:
    samples, text = clip("welcome", tmp_path)
    media = participant_webm(tmp_path / "alice.webm", np.concatenate([samples, silence(2)]), 0)
    engine = CaptionEngine(transcriber, vad, StreamOptions(language="en"))
    heard: dict[str, list[dict[str, object]]] = {}

    async def scenario() -> None:
        async with (
            running_sfu(tmp_path, captions=LiveCaptions(engine)) as sfu,
            sfu.client("bob") as bob,
            sfu.client("alice") as alice,
        ):
            await alice.publish(MediaPlayer(str(media)))
            for name, client in (("bob", bob), ("alice", alice)):
                events = heard.setdefault(name, [])
                async with asyncio.timeout(30):
                    # Until the phrase's last word is final (finals may come in several parts).
                    while "today" not in " ".join(str(e["text"]) for e in events if e["final"]):
                        events.append(await client.expect("caption", timeout=30))

    try:
        asyncio.run(scenario())
    finally:
        engine.close()
    for events in heard.values():
        assert {e["speaker"] for e in events} == {"alice"}
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    finals = [str(e["text"]) for e in heard["bob"] if e["final"]]
    assert wer(text, " ".join(finals)) <= 0.3


def _heard(*words: tuple[str, float, float]) -> Transcript:
    """A transcript of the stream's buffer; Whisper's words carry their leading space."""
    said = [Word(start, end, text, 0.9) for text, start, end in words]
    return Transcript("en", 0.0, [Segment(0.0, said[-1].end, "", said)])


def test_agreed_words_become_final_only_once_a_second_of_speech_followed_them() -> None:
    """Hypotheses on 0.9 s and 1.2 s of audio agree on "I'm"; with more audio Whisper hears "I
    managed a". Words are committed only once a second of audio has followed them."""
    captions: list[Caption] = []
    options = StreamOptions()
    stream = LiveStream("alex", None, None, options, captions.append)  # type: ignore[arg-type]
    hypotheses = [
        (0.9, _heard((" I'm", 0.0, 0.3), (" manage", 0.3, 0.9))),
        (1.2, _heard((" I'm", 0.0, 0.3), (" manage", 0.3, 1.0), (" the", 1.0, 1.2))),
    ]
    for seconds, heard in hypotheses:
        stream.buffer = np.zeros(int(seconds * 16000), dtype=np.float32)
        stream._hypothesis(heard, commit_all=False)
    assert [c for c in captions if c.final] == []  # two agreed on "I'm", unsettled
    said = [(" I", 0.0, 0.2), (" managed", 0.2, 1.0), (" a", 1.1, 1.2), (" team", 1.3, 2.0)]
    for seconds, heard in [(2.6, _heard(*said[:3])), (3.4, _heard(*said))]:
        stream.buffer = np.zeros(int(seconds * 16000), dtype=np.float32)
        stream._hypothesis(heard, commit_all=False)
    assert [c.text for c in captions if c.final] == ["I managed a"]
