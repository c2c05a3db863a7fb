"""Transcribing real spoken audio: words, times, long recordings, and every kind of bad input."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.asr_onnx.audio import decode_audio
from appliance.asr_onnx.decoding import DecodeOptions
from appliance.asr_onnx.errors import AudioError
from appliance.asr_onnx.transcriber import Transcriber
from appliance.asr_onnx.transcript import (
    Segment,
    Transcript,
    Word,
    merge_speakers,
    to_srt,
    to_text,
    to_vtt,
)
from appliance.asr_onnx.vad import VadOptions
from tests.support.speech import clip, link_models, silence, speak, wer, write_wav

GREEDY = DecodeOptions(language="en", beam_size=1, word_timestamps=True)


def test_words_carry_times_on_the_input_clock(tmp_path: Path, transcriber: Transcriber) -> None:
    speech, text = clip("answer", tmp_path)
    offset = 12.0
    audio = np.concatenate([silence(offset), speech, silence(2.0)])
    for vad in (None, VadOptions()):
        result = transcriber.transcribe(audio, GREEDY, vad=vad)
        assert wer(text, result.text) <= 0.3
        words = [w for s in result.segments for w in s.words]
        assert len(words) >= 12
        assert abs(words[0].start - offset) < 0.8, (vad, words[0])
        speech_end = offset + len(speech) / 16000
        assert abs(words[-1].end - speech_end) < 0.8
        for before, after in itertools.pairwise(words):
            assert before.start <= before.end <= after.start + 0.01
        for segment in result.segments:
            assert segment.start <= segment.words[0].start + 0.01
            assert "".join(w.word for w in segment.words).strip() == segment.text


def test_clips_encoded_as_one_batch_read_as_they_do_alone(
    tmp_path: Path, transcriber: Transcriber
) -> None:
    first, _ = clip("project", tmp_path)
    second, _ = clip("answer", tmp_path)
    nothing = np.zeros(0, np.float32)

    together = transcriber.transcribe_many([first, nothing, second], GREEDY)

    for alone, batched in zip(
        [transcriber.transcribe(first, GREEDY), transcriber.transcribe(second, GREEDY)],
        [together[0], together[2]],
        strict=True,
    ):
        assert batched.segments and batched.text == alone.text
        assert [(w.word, w.start, w.end) for s in batched.segments for w in s.words] == [
            (w.word, w.start, w.end) for s in alone.segments for w in s.words
        ]
    assert together[1].segments == [] and together[1].duration == 0


def test_long_audio_is_read_in_windows_and_silence_is_not_transcribed(
    tmp_path: Path, transcriber: Transcriber
) -> None:
    first, first_text = clip("welcome", tmp_path)
    second, second_text = clip("numbers", tmp_path)
    audio = np.concatenate([silence(3), first, silence(45), second, silence(20)])
    progress: list[float] = []
    result = transcriber.transcribe(
        audio, GREEDY, vad=VadOptions(), progress=lambda done, total: progress.append(done)
    )
    assert result.duration == pytest.approx(len(audio) / 16000)
    assert wer(f"{first_text} {second_text}", result.text) <= 0.2
    second_start = 3 + len(first) / 16000 + 45
    late = [s for s in result.segments if s.start > 30]
    assert late and abs(late[0].start - second_start) < 1.0
    assert progress[-1] == pytest.approx(result.duration)
    assert progress == sorted(progress)


@pytest.mark.parametrize(
    "make",
    [
        lambda: silence(40),
        lambda: np.random.default_rng(3).normal(0, 0.05, 16000 * 8).astype(np.float32),
        lambda: np.zeros(0, np.float32),
        lambda: np.zeros(100, np.float32),
    ],
    ids=["silence", "noise", "empty", "tiny"],
)
def test_audio_without_speech_gives_an_empty_transcript(
    make: object, transcriber: Transcriber
) -> None:
    audio = make()  # type: ignore[operator]
    result = transcriber.transcribe(audio, GREEDY, vad=VadOptions())
    assert result.segments == []


def test_clipped_and_resampled_inputs_still_transcribe(
    tmp_path: Path, transcriber: Transcriber
) -> None:
    speech, text = clip("welcome", tmp_path)
    clipped = np.clip(speech * 8, -0.3, 0.3)
    assert wer(text, transcriber.transcribe(clipped, GREEDY).text) <= 0.2
    t = np.arange(int(len(speech) * 3)) / 48000
    upsampled = np.interp(t, np.arange(len(speech)) / 16000, speech).astype(np.float32)
    stereo = np.stack([upsampled, upsampled * 0.5], axis=1)
    for path, samples, rate, channels in (
        (tmp_path / "48k-stereo.wav", stereo, 48000, 2),
        (tmp_path / "8k.wav", upsampled[::6], 8000, 1),
    ):
        write_wav(path, samples, rate, channels)
        decoded = decode_audio(path)
        assert abs(len(decoded) - len(speech)) < 400
        assert wer(text, transcriber.transcribe(decoded, GREEDY).text) <= 0.2


def test_unreadable_inputs_are_named_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all\n")
    for name in ("empty.wav", "text.wav", "missing.wav"):
        with pytest.raises(AudioError, match=name):
            decode_audio(tmp_path / name)


def test_a_truncated_file_decodes_what_is_there(tmp_path: Path) -> None:
    path = speak("One two three four five six seven eight nine ten.", tmp_path / "n.wav")
    whole = decode_audio(path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    part = decode_audio(path)
    assert 0.4 * len(whole) < len(part) < 0.6 * len(whole)


def test_exports_carry_speakers_and_times() -> None:
    a = Transcript("en", 9.0, [Segment(0.5, 2.0, "Hello there.", [Word(0.5, 1.0, " Hello", 0.9)])])
    b = Transcript("en", 9.0, [Segment(1.5, 3.25, "Hi.", [Word(1.5, 3.25, " Hi.", 0.8)])])
    merged = merge_speakers({"interviewer": a, "candidate": b}, 9.0)
    assert [s.speaker for s in merged.segments] == ["interviewer", "candidate"]
    assert merged.segments[1].words[0].speaker == "candidate"
    assert to_vtt(merged).startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\n<v interviewer>")
    assert "2\n00:00:01,500 --> 00:00:03,250\ncandidate: Hi.\n" in to_srt(merged)
    assert to_text(merged).splitlines()[1] == "[00:00:01.500] candidate: Hi."
    assert Transcript.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged


def test_the_command_transcribes_a_file(tmp_path: Path, speech_models: Path) -> None:
    data_dir = tmp_path / "data"
    link_models(data_dir, speech_models)
    audio = speak("Please describe your greatest strength.", tmp_path / "q.wav")
    run = [sys.executable, "-m", "appliance", "transcribe", "--data-dir", str(data_dir)]
    done = subprocess.run(
        [*run, str(audio), "--format", "json", "--words"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert wer("Please describe your greatest strength.", result["segments"][0]["text"]) <= 0.2
    assert result["segments"][0]["words"][0]["start"] < 0.5
    missing = subprocess.run(
        [*run, str(audio), "--model", "whisper-huge"], capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "appliance models install" in missing.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "appliance", "models", "list", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
    )
    assert listed.stdout.startswith("* whisper-base ")
