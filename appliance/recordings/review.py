"""What the review page of a finished interview shows: every participant's recorded track on
one timeline, and the speaker-attributed transcript with each word's time.

The tracks are on the room recording's clock (each participant's timestamps start where they
joined), and so are the transcript's times, so a player seeks every track to the same time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.core.errors import Gone
from appliance.db.models import Interview, Question, QuestionAsked, Recording, Scorecard
from appliance.recordings.rendition import renditions
from appliance.recordings.transcription import (
    job_for,
    load_transcript,
    speaker_names,
    track_blobs,
)
from appliance.runtime import Runtime

# What the page says while there is no transcript to show, by the transcription job's state.
TRANSCRIPT_PENDING = {
    "none": "This recording has not been transcribed.",
    "queued": "The transcript is queued; it appears here when it is ready.",
    "running": "The transcript is being made; it appears here when it is ready.",
    "failed": "Transcription failed: {error}",
}


@dataclass(frozen=True)
class Tile:
    identity: str
    name: str
    object_id: str
    media_type: str


@dataclass(frozen=True)
class TimedWord:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float
    words: list[TimedWord]


@dataclass(frozen=True)
class AskedQuestion:
    """A question of the kit that the panel marked as asked, at the moment it was marked."""

    at: float  # seconds on the recording's clock
    text: str
    question_id: int | None = None


@dataclass(frozen=True)
class Review:
    interview: Interview
    recording: Recording | None
    tiles: list[Tile]
    turns: list[Turn]
    note: str  # why there is nothing to play, or no transcript; empty when all is there
    questions: list[AskedQuestion] = field(default_factory=list)


def latest_recording(interview: Interview) -> Recording | None:
    recording: Recording | None = (
        Recording.select()
        .where(Recording.interview == interview)
        .order_by(Recording.id.desc())
        .first()
    )
    return recording


def _tiles(recording: Recording) -> list[Tile]:
    """A tile per track, playing its seekable rendition where there is one."""
    blobs = track_blobs(recording)
    names = speaker_names(recording, [b.participant_identity for b in blobs])
    seekable = renditions(recording, blobs)
    tiles = []
    for blob in blobs:
        played = seekable.get(blob.object_id, blob)
        identity = blob.participant_identity
        tiles.append(Tile(identity, names[identity], played.object_id, played.media_type))
    return tiles


def _turns(runtime: Runtime, viewer: str, recording: Recording) -> list[Turn]:
    transcript = load_transcript(runtime, viewer, recording.id)
    return [
        Turn(
            segment.speaker or "",
            segment.start,
            segment.end,
            [TimedWord(w.start, w.end, w.word) for w in segment.words],
        )
        for segment in transcript.segments
    ]


def asked_questions(recording: Recording) -> list[AskedQuestion]:
    """The kit's questions the panel marked as asked during the recording, each once (when
    it was first marked), in the order they were asked."""
    marked = (
        QuestionAsked.select(QuestionAsked.asked_at, Question.id, Question.text)
        .join(Scorecard)
        .switch(QuestionAsked)
        .join(Question)
        .where(Scorecard.interview == recording.interview_id)
        .order_by(QuestionAsked.asked_at, QuestionAsked.id)
    )
    started, ended = recording.started_at, recording.ended_at
    first: dict[int, AskedQuestion] = {}
    for mark in marked:
        if mark.asked_at < started or (ended is not None and mark.asked_at > ended):
            continue
        at = (mark.asked_at - started).total_seconds()
        first.setdefault(
            mark.question.id,
            AskedQuestion(round(at, 3), str(mark.question.text), mark.question.id),
        )
    return sorted(first.values(), key=lambda q: q.at)


def review(runtime: Runtime, viewer: str, interview: Interview) -> Review:
    """The review of `interview` for `viewer` (whose right to see it the caller checked);
    the opening is audited."""
    if interview.candidate.erased_at is not None:
        raise Gone(
            f"interview {interview.id} was erased with its candidate's data; there is nothing "
            "left to review"
        )
    runtime.audit.record(viewer, "interview.review", f"interview:{interview.id}")
    recording = latest_recording(interview)
    if recording is None:
        return Review(interview, None, [], [], "This interview was not recorded.")
    if recording.status == "recording":
        note = "This interview is still being recorded; review it once it has ended."
        return Review(interview, recording, [], [], note)
    tiles = _tiles(recording)
    questions = asked_questions(recording)
    job = job_for(recording.id)
    if job is None or job.status != "done":
        state = job.status if job is not None else "none"
        note = TRANSCRIPT_PENDING[state].format(error=job.error if job else "")
        return Review(interview, recording, tiles, [], note, questions)
    turns = _turns(runtime, viewer, recording)
    return Review(interview, recording, tiles, turns, "", questions)
