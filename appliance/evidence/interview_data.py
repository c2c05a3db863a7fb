"""Quantitative interview data, deterministic and model-free: when each kit question was asked
and how long the candidate then spoke, each speaker's share of the talk, interruptions, and the
time to the first question.

It reads only the transcript's turns (who spoke from when to when) and the panel's "asked"
ticks: no audio, no face, no tone of voice. Definitions:

- talk time: the sum of a speaker's turns (each transcript segment is one turn);
- an interruption: a turn that begins while another speaker's turn still has more than
  OVERLAP_S to run. Turn boundaries come from the recogniser's word timestamps, which fall on
  a 20 ms grid and can be late or early by a word (~0.3 s), so an overlap shorter than 0.5 s
  is taken for timing noise or a short "mm-hm", not an interruption;
- answer time: the candidate's speech between a question being ticked and the next question
  being ticked (or the end of the recording), so a question ticked late counts the answer
  from the tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appliance.db.models import Question
from appliance.recordings.review import AskedQuestion, Review, Turn

OVERLAP_S = 0.5


@dataclass(frozen=True)
class SpeakerFigures:
    speaker: str
    is_candidate: bool
    seconds: float
    share: float  # of all speech, 0..1
    turns: int
    interruptions: int  # turns of theirs that began over someone else's


@dataclass(frozen=True)
class QuestionFigures:
    text: str
    asked_at: float  # seconds on the recording's clock
    answer_seconds: float  # the candidate's speech until the next question (or the end)


@dataclass(frozen=True)
class InterviewData:
    speakers: list[SpeakerFigures]  # most talk first
    questions: list[QuestionFigures]  # in the order asked
    first_question_at: float | None
    not_asked: list[str]  # the kit's questions nobody ticked


def _speech_within(turns: Sequence[Turn], start: float, end: float) -> float:
    return sum(max(0.0, min(t.end, end) - max(t.start, start)) for t in turns)


def figures(
    turns: Sequence[Turn],
    asked: Sequence[AskedQuestion],
    candidate: str,
    duration: float,
    kit_questions: Sequence[str] = (),
) -> InterviewData:
    """The figures of one interview. `candidate` is the candidate's speaker name in `turns`."""
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    seconds: dict[str, float] = {}
    count: dict[str, int] = {}
    interruptions: dict[str, int] = {}
    latest_end: dict[str, float] = {}  # per speaker, the latest end of their turns so far
    for turn in ordered:
        seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + max(0.0, turn.end - turn.start)
        count[turn.speaker] = count.get(turn.speaker, 0) + 1
        interruptions.setdefault(turn.speaker, 0)
        if any(
            end - turn.start > OVERLAP_S
            for speaker, end in latest_end.items()
            if speaker != turn.speaker
        ):
            interruptions[turn.speaker] += 1
        latest_end[turn.speaker] = max(latest_end.get(turn.speaker, turn.end), turn.end)
    total = sum(seconds.values())
    speakers = [
        SpeakerFigures(
            name,
            name == candidate,
            round(spoken, 1),
            round(spoken / total, 3) if total else 0.0,
            count[name],
            interruptions[name],
        )
        for name, spoken in sorted(seconds.items(), key=lambda item: -item[1])
    ]
    theirs = [t for t in ordered if t.speaker == candidate]
    marks = sorted(asked, key=lambda q: q.at)
    questions = [
        QuestionFigures(
            q.text,
            q.at,
            round(
                _speech_within(theirs, q.at, marks[n + 1].at if n + 1 < len(marks) else duration), 1
            ),
        )
        for n, q in enumerate(marks)
    ]
    ticked = {q.text for q in marks}
    return InterviewData(
        speakers,
        questions,
        marks[0].at if marks else None,
        [text for text in kit_questions if text not in ticked],
    )


def interview_data(shown: Review) -> InterviewData | None:
    """The figures for a review that has a transcript; None before there is one."""
    recording = shown.recording
    if recording is None or not shown.turns:
        return None
    # The tiles carry each track's speaker name as the transcript has it; a candidate with no
    # track has no turns, so their name does not matter then.
    candidate = next((t.name for t in shown.tiles if t.identity == "candidate"), "candidate")
    kit = shown.interview.kit_id
    kit_questions = (
        [
            str(q.text)
            for q in Question.select(Question.text)
            .where(Question.kit == kit)
            .order_by(Question.ordinal, Question.id)
        ]
        if kit is not None
        else []
    )
    duration = (
        (recording.ended_at - recording.started_at).total_seconds()
        if recording.ended_at is not None
        else max(t.end for t in shown.turns)
    )
    return figures(shown.turns, shown.questions, candidate, duration, kit_questions)
