"""A transcript and its exports: JSON, WebVTT, SRT and plain text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    temperature: float = 0.0
    compression_ratio: float = 0.0


@dataclass
class Transcript:
    language: str
    duration: float
    segments: list[Segment]
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        segments = [
            Segment(**{**s, "words": [Word(**w) for w in s.get("words", [])]})
            for s in data["segments"]
        ]
        return cls(data["language"], data["duration"], segments, data.get("model", ""))

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(segment: Segment) -> str:
    text = segment.text.strip()
    return f"<v {segment.speaker}>{text}" if segment.speaker else text


def to_vtt(transcript: Transcript) -> str:
    cues = [
        f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{_cue_text(s)}"
        for s in transcript.segments
    ]
    return "WEBVTT\n\n" + "".join(cue + "\n\n" for cue in cues)


def to_srt(transcript: Transcript) -> str:
    blocks = []
    for number, s in enumerate(transcript.segments, start=1):
        speaker = f"{s.speaker}: " if s.speaker else ""
        times = f"{_clock(s.start, ',')} --> {_clock(s.end, ',')}"
        blocks.append(f"{number}\n{times}\n{speaker}{s.text.strip()}\n")
    return "\n".join(blocks)


def to_text(transcript: Transcript) -> str:
    lines = []
    for s in transcript.segments:
        speaker = f"{s.speaker}: " if s.speaker else ""
        lines.append(f"[{_clock(s.start, '.')}] {speaker}{s.text.strip()}")
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(transcript: Transcript) -> str:
    return json.dumps(transcript.to_dict(), indent=2, ensure_ascii=False) + "\n"


FORMATS = {"json": to_json, "vtt": to_vtt, "srt": to_srt, "txt": to_text}


def merge_speakers(tracks: dict[str, Transcript], duration: float) -> Transcript:
    """One transcript from per-speaker transcripts, ordered by time; every segment and word
    carries the speaker whose track it came from."""
    segments: list[Segment] = []
    languages: dict[str, float] = {}
    for speaker, transcript in tracks.items():
        for segment in transcript.segments:
            segment.speaker = speaker
            for word in segment.words:
                word.speaker = speaker
            segments.append(segment)
            languages[transcript.language] = languages.get(transcript.language, 0.0) + (
                segment.end - segment.start
            )
    segments.sort(key=lambda s: (s.start, s.end, s.speaker or ""))
    language = max(languages, key=lambda k: languages[k]) if languages else ""
    model = next((t.model for t in tracks.values()), "")
    return Transcript(language, duration, segments, model)
