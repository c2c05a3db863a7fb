"""Calibration: how each interviewer scores against the rest of the panel on the same
candidates, to spot lenient and harsh raters.

Every competency score on a submitted scorecard is compared with the mean of the other
submitted scores for the same competency of the same interview; an interviewer's lean is the
mean of those differences. Below MIN_COMPARISONS the report says there are too few to tell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape

import peewee

from appliance.db.models import CompetencyScore, Interview, InterviewParticipant, Scorecard, User
from appliance.evaluation import charts
from appliance.evaluation.scorecards import name_of

MIN_COMPARISONS = 10
LEAN = 0.5  # a mean difference this far from the panel's is called lenient or harsh


@dataclass
class Rater:
    user_id: int
    name: str
    email: str
    interviews: set[int] = field(default_factory=set)
    scores: list[int] = field(default_factory=list)  # every score they gave
    differences: list[float] = field(default_factory=list)  # theirs minus the others' mean

    @property
    def comparisons(self) -> int:
        return len(self.differences)

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def lean(self) -> float | None:
        return sum(self.differences) / len(self.differences) if self.differences else None

    @property
    def verdict(self) -> str:
        if self.comparisons < MIN_COMPARISONS or self.lean is None:
            return "too few to tell"
        if self.lean >= LEAN:
            return "lenient"
        if self.lean <= -LEAN:
            return "harsh"
        return "in line"

    @property
    def chart(self) -> str:
        return charts.score_distribution(f"Scores given by {self.name}", self.scores)


@dataclass(frozen=True)
class Report:
    raters: list[Rater]
    since: dt.date | None
    until: dt.date | None
    position_id: int | None

    @property
    def chart(self) -> str:
        return lean_chart(self.raters)


def report(
    position_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    viewer: User | None = None,
) -> Report:
    """The calibration of every interviewer with a submitted scorecard in the range. For a
    `viewer` who still owes a scorecard on an interview, that interview is left out, so the
    report cannot show them its scores before they submit their own."""
    query = (
        CompetencyScore.select(CompetencyScore, Scorecard, Interview, User)
        .join(Scorecard)
        .join(Interview)
        .switch(Scorecard)
        .join(User)
        .where(Scorecard.submitted_at.is_null(False) & CompetencyScore.score.is_null(False))
    )
    if viewer is not None:
        query = query.where(Interview.id.not_in(owed_by(viewer)))
    if position_id is not None:
        query = query.where(Interview.position == position_id)
    if since is not None:
        query = query.where(Interview.starts_at >= dt.datetime.combine(since, dt.time()))
    if until is not None:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time())
        query = query.where(Interview.starts_at < end)
    # (interview, competency) -> [(author, score)]
    grouped: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    raters: dict[int, Rater] = {}
    for row in query:
        author, score = row.scorecard.author, int(row.score or 0)  # nulls are filtered out
        rater = raters.setdefault(author.id, Rater(author.id, name_of(author), author.email))
        rater.interviews.add(row.scorecard.interview_id)
        rater.scores.append(score)
        grouped[(row.scorecard.interview_id, row.competency_id)].append((author.id, score))
    for scores in grouped.values():
        for author_id, score in scores:
            others = [s for a, s in scores if a != author_id]
            if others:
                raters[author_id].differences.append(score - sum(others) / len(others))
    ordered = sorted(raters.values(), key=lambda r: (r.name.lower(), r.user_id))
    return Report(ordered, since, until, position_id)


def owed_by(viewer: User) -> peewee.ModelSelect[Interview]:
    """The interviews on which independence still binds `viewer`: on the panel, or with a
    scorecard started, and nothing submitted."""
    sat = InterviewParticipant.select(InterviewParticipant.interview).where(
        InterviewParticipant.user == viewer
    )
    started = Scorecard.select(Scorecard.interview).where(Scorecard.author == viewer)
    submitted = Scorecard.select(Scorecard.interview).where(
        (Scorecard.author == viewer) & Scorecard.submitted_at.is_null(False)
    )
    return Interview.select(Interview.id).where(
        (Interview.id.in_(sat) | Interview.id.in_(started)) & Interview.id.not_in(submitted)
    )


def as_csv(shown: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "interviewer",
            "email",
            "interviews",
            "scores",
            "comparisons",
            "mean score",
            "mean difference from panel",
            "leaning",
            *(f"gave {level}" for level in charts.LEVELS),
        ]
    )
    for r in shown.raters:
        writer.writerow(
            [
                _safe_cell(r.name),
                _safe_cell(r.email),
                len(r.interviews),
                len(r.scores),
                r.comparisons,
                "" if r.mean_score is None else f"{r.mean_score:.2f}",
                "" if r.lean is None else f"{r.lean:+.2f}",
                r.verdict,
                *(r.scores.count(level) for level in charts.LEVELS),
            ]
        )
    return out.getvalue()


def _safe_cell(text: str) -> str:
    """A spreadsheet reads a cell starting with = + - @ as a formula; such text is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


ROW, LABEL_WIDTH, HALF = 22, 180, 120  # px per rater, name column, half the axis


def lean_chart(raters: list[Rater]) -> str:
    """Each interviewer's mean difference from the panel on a -2..+2 axis; raters with too few
    comparisons are drawn hollow."""
    height = ROW * max(1, len(raters)) + 30
    width = LABEL_WIDTH + 2 * HALF + 60
    centre = LABEL_WIDTH + HALF
    described = "; ".join(
        f"{r.name}: {'no comparisons' if r.lean is None else f'{r.lean:+.2f}'} ({r.verdict})"
        for r in raters
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lean" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>Mean difference from the panel's scores: {escape(described)}</title>",
        f'<line x1="{centre}" y1="0" x2="{centre}" y2="{height - 20}" class="axis"/>',
    ]
    for tick in (-2, -1, 0, 1, 2):
        parts.append(
            f'<text x="{centre + tick * HALF // 2}" y="{height - 4}" text-anchor="middle" '
            f'class="level">{tick:+d}</text>'
        )
    for index, r in enumerate(raters):
        y = index * ROW + ROW // 2 + 4
        parts.append(f'<text x="4" y="{y + 4}">{escape(r.name[:28])}</text>')
        if r.lean is None:
            continue
        end = centre + max(-2.0, min(2.0, r.lean)) * HALF / 2
        left, span = (end, centre - end) if end < centre else (float(centre), end - centre)
        solid = r.comparisons >= MIN_COMPARISONS
        parts.append(
            f'<rect x="{left:.1f}" y="{y - 6}" width="{max(span, 1.0):.1f}" height="12" '
            f'class="{"count" if solid else "few"}"/>'
        )
        parts.append(f'<text x="{centre + HALF + 8}" y="{y + 4}">{r.lean:+.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)
