"""The debrief of a candidate for a position: every round, and in each the competencies'
scores across the submitted scorecards the viewer may read (rows competencies, columns
scorers), where the scorers disagree, their recommendations and summaries, the comments each
cited on the recording, and the decision with its history.

A round the viewer may not review is left out; in a round where independence still binds them
(evaluation/scorecards.py) they see only who has submitted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core.errors import Gone, NotFound
from appliance.db.models import Candidate, Position, Recording, User
from appliance.evaluation import charts, decisions, scorecards
from appliance.evaluation.decisions import DecisionView
from appliance.evaluation.scorecards import RECOMMENDATIONS, ScorecardView, Standing
from appliance.hiring.candidates import candidate_record, display_name
from appliance.hiring.positions import get_position
from appliance.hiring.scheduling import as_utc, interviewers, may_see
from appliance.recordings import comments
from appliance.recordings.review import latest_recording
from appliance.runtime import Runtime

DISAGREEMENT = 2  # scores this far apart on one competency are highlighted


@dataclass(frozen=True)
class CompetencyRow:
    name: str
    scores: list[int | None]  # one per scorer column; None: not assessed
    spread: int | None  # highest minus lowest score given; None with fewer than two
    disagree: bool
    chart: str  # SVG


@dataclass(frozen=True)
class Citation:
    at_ms: int
    end_ms: int | None
    text: str


@dataclass(frozen=True)
class Scorer:
    card: ScorecardView
    recommendation: str
    citations: list[Citation]


@dataclass(frozen=True)
class Round:
    interview_id: int
    starts_at: dt.datetime
    panel: list[str]
    standing: Standing
    readable: bool  # False: the viewer must submit their own scorecard first
    scorers: list[Scorer]
    rows: list[CompetencyRow]
    recorded: bool


@dataclass(frozen=True)
class Debrief:
    candidate: Candidate
    name: str
    position: Position | None
    rounds: list[Round]
    decisions: list[DecisionView]
    may_decide: bool
    missing: list[str]  # panel members whose scorecards are not in


def debrief(runtime: Runtime, viewer: User, candidate_id: int, position_id: int | None) -> Debrief:
    """The debrief `viewer` may see; audited. Refused when they may review none of the
    candidate's rounds for the position."""
    candidate = candidate_record(candidate_id)
    if candidate.erased_at is not None:
        raise Gone(f"candidate {candidate_id} was erased; there is nothing left to debrief")
    position = get_position(position_id) if position_id is not None else None
    visible = [i for i in decisions.rounds(candidate, position) if may_see(viewer, i.id)]
    deciding = decisions.may_decide(viewer, position)
    if not visible and not deciding:
        raise NotFound(f"no interview of candidate {candidate_id} for you to debrief")
    runtime.audit.record(
        viewer.email,
        "debrief.view",
        f"candidate:{candidate.id}",
        {"position": position_id, "interviews": [i.id for i in visible]},
    )
    rounds = []
    for interview in visible:
        readable = scorecards.may_read_others(viewer, interview)
        cards = scorecards.submitted_scorecards(interview) if readable else []
        recording = latest_recording(interview)
        rounds.append(
            Round(
                interview.id,
                as_utc(interview.starts_at),
                [scorecards.name_of(u) for u in interviewers(interview)],
                scorecards.standing(interview),
                readable,
                _scorers(runtime, recording, cards),
                _rows(cards),
                recording is not None and recording.status == "complete",
            )
        )
    return Debrief(
        candidate,
        display_name(candidate),
        position,
        rounds,
        decisions.history(candidate, position),
        deciding,
        decisions.missing_scorecards(candidate, position),
    )


def _rows(cards: list[ScorecardView]) -> list[CompetencyRow]:
    if not cards:
        return []
    rows = []
    for index, line in enumerate(cards[0].scores):
        scores = [card.scores[index].score for card in cards]
        given = [s for s in scores if s is not None]
        spread = max(given) - min(given) if len(given) >= 2 else None
        rows.append(
            CompetencyRow(
                line.competency,
                scores,
                spread,
                spread is not None and spread >= DISAGREEMENT,
                charts.score_distribution(line.competency, given),
            )
        )
    return rows


def _scorers(
    runtime: Runtime, recording: Recording | None, cards: list[ScorecardView]
) -> list[Scorer]:
    remarks = (
        comments.thread(runtime, recording.id)
        if cards and recording is not None and recording.status == "complete"
        else []
    )
    return [
        Scorer(
            card,
            RECOMMENDATIONS.get(card.recommendation or "", ""),
            [
                Citation(r.at_ms, r.end_ms, r.body)
                for r in remarks
                if r.author_id == card.author_id and not r.deleted
            ],
        )
        for card in cards
    ]
