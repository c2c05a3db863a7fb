"""Scorecards after the call: a draft (what the room autosaves, or what a reviewer fills in from
the recording) becomes a submitted, locked scorecard; an amendment is a new version with a
reason, and every version is kept.

Independence: a scorer sees nobody else's scorecard, not even the scores in aggregate, until
they have submitted their own; they only see who has submitted. Drafts are their author's
alone. Panel members are always scorers; anyone else who may review the interview becomes one
when they start a scorecard "from the recording".
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Annotated, Literal, get_args

from annotated_types import Interval

from appliance.core import validation
from appliance.core.errors import ApplianceError, Gone, Invalid, NotAllowed
from appliance.db.database import utcnow
from appliance.db.models import (
    CompetencyScore,
    Decision,
    HiringTeamMember,
    Interview,
    Role,
    Scorecard,
    ScorecardVersion,
    User,
)
from appliance.hiring.scheduling import as_utc, interviewers, may_see
from appliance.integrations import webhook_events
from appliance.interview.live_room import kit_view
from appliance.storage.audit import AuditLog

RECOMMENDATIONS = {
    "strong_no": "Strong no",
    "no": "No",
    "yes": "Yes",
    "strong_yes": "Strong yes",
}
SCORES = (1, 2, 3, 4, 5)
MAX_RATIONALE = validation.TEXT
MAX_SUMMARY = validation.LONG
MAX_REASON = validation.TEXT
Score = Annotated[int, Interval(ge=SCORES[0], le=SCORES[-1])]
# "" is no recommendation, as an empty select sends it.
Recommendation = Literal["strong_no", "no", "yes", "strong_yes", ""]
RECOMMENDATION_VALUES: tuple[Recommendation, ...] = get_args(Recommendation)


@dataclass
class ScoreIn:
    competency_id: int
    score: Score | None  # None: marked "not assessed"
    rationale: validation.Text = ""


@dataclass
class ScorecardIn:
    """What a scorer fills in. In a draft any part may be missing; to submit, every competency
    of the kit is scored or marked not assessed and there is a recommendation."""

    scores: list[ScoreIn] = field(default_factory=list)
    recommendation: Recommendation | None = None
    summary: validation.LongText = ""


@dataclass(frozen=True)
class ScoreLine:
    competency_id: int
    competency: str
    score: int | None  # None: not assessed (or, in a draft, not scored yet: see `assessed`)
    assessed: bool  # False: not scored yet in a draft
    rationale: str


@dataclass(frozen=True)
class ScorecardView:
    id: int
    interview_id: int
    author_id: int
    author: str
    on_panel: bool
    from_recording: bool
    after_decision: bool
    version: int  # 0 while a draft
    submitted_at: dt.datetime | None
    updated_at: dt.datetime | None  # last saved, draft or not
    recommendation: str | None
    summary: str
    scores: list[ScoreLine]


@dataclass(frozen=True)
class Standing:
    """Who on an interview has submitted a scorecard and who has not: what everyone who may
    review it is shown, scorecards or not."""

    submitted: list[str]
    pending: list[str]  # panel members who have not submitted


def name_of(user: User) -> str:
    return str(user.name or user.email)


def on_panel(user: User, interview: Interview) -> bool:
    return user.id in {u.id for u in interviewers(interview)}


def may_score(user: User, interview: Interview) -> bool:
    """Panel members score the interview they sat on; the position's hiring team (its hiring
    manager among them) may score it from the recording."""
    if Role(user.role) == Role.COMPLIANCE or not user.active:
        return False
    if on_panel(user, interview):
        return True
    return interview.position_id is not None and bool(
        HiringTeamMember.select()
        .where(
            (HiringTeamMember.position == interview.position_id) & (HiringTeamMember.user == user)
        )
        .exists()
    )


def own_scorecard(user: User, interview: Interview) -> Scorecard | None:
    found: Scorecard | None = Scorecard.get_or_none(
        (Scorecard.interview == interview) & (Scorecard.author == user)
    )
    return found


def is_scorer(user: User, interview: Interview) -> bool:
    """Whether independence binds `user` on this interview: a panel member, or someone who
    started a scorecard of their own."""
    return on_panel(user, interview) or own_scorecard(user, interview) is not None


def may_read_others(user: User, interview: Interview) -> bool:
    """Whether `user` may read the interview's submitted scorecards: they may review it, and
    they are no scorer or have submitted their own."""
    if not may_see(user, interview.id):
        return False
    own = own_scorecard(user, interview)
    if own is not None:
        return own.submitted_at is not None
    return not on_panel(user, interview)


def standing(interview: Interview) -> Standing:
    submitted = {
        s.author_id: name_of(s.author)
        for s in Scorecard.select(Scorecard, User)
        .join(User)
        .where((Scorecard.interview == interview) & Scorecard.submitted_at.is_null(False))
        .order_by(Scorecard.submitted_at)
    }
    pending = [name_of(u) for u in interviewers(interview) if u.id not in submitted]
    return Standing(list(submitted.values()), pending)


def submitted_scorecards(interview: Interview) -> list[ScorecardView]:
    """Every submitted scorecard of the interview, in the order they came in. The caller
    checked `may_read_others`."""
    cards = list(
        Scorecard.select(Scorecard, User)
        .join(User)
        .where((Scorecard.interview == interview) & Scorecard.submitted_at.is_null(False))
        .order_by(Scorecard.submitted_at, Scorecard.id)
    )
    panel = {u.id for u in interviewers(interview)}
    return [_view(card, interview, card.author_id in panel) for card in cards]


def scorecard_view(user: User, interview: Interview) -> ScorecardView | None:
    """The user's own scorecard, draft or submitted, if they have one."""
    own = own_scorecard(user, interview)
    return None if own is None else _view(own, interview, on_panel(user, interview))


def _view(card: Scorecard, interview: Interview, panel: bool) -> ScorecardView:
    rows = {
        s.competency_id: s
        for s in CompetencyScore.select().where(CompetencyScore.scorecard == card)
    }
    lines = [
        ScoreLine(
            c.id,
            c.name,
            rows[c.id].score if c.id in rows else None,
            c.id in rows,
            str(rows[c.id].notes) if c.id in rows else "",
        )
        for c in kit_view(interview).competencies
    ]
    return ScorecardView(
        card.id,
        card.interview_id,
        card.author_id,
        name_of(card.author),
        panel,
        bool(card.from_recording),
        bool(card.after_decision),
        int(card.version),
        as_utc(card.submitted_at) if card.submitted_at is not None else None,
        as_utc(card.updated_at) if card.updated_at is not None else None,
        card.recommendation,
        str(card.summary),
        lines,
    )


# --- writing -----------------------------------------------------------------------------


def _check_interview(user: User, interview: Interview, now: dt.datetime | None) -> None:
    if interview.candidate.erased_at is not None:
        raise Gone(f"interview {interview.id} was erased with its candidate's data")
    if not may_score(user, interview):
        raise NotAllowed("only the interview's panel and its position's hiring team may score it")
    if interview.status == "cancelled":
        raise ApplianceError("this interview was cancelled; there is nothing to score")
    if as_utc(now or utcnow()) < as_utc(interview.starts_at):
        raise ApplianceError("this interview has not started yet; score it once it has")


def _cleaned(interview: Interview, data: ScorecardIn, complete: bool) -> ScorecardIn:
    competencies = {c.id: c.name for c in kit_view(interview).competencies}
    seen: set[int] = set()
    scores = []
    for line in data.scores:
        if line.competency_id not in competencies:
            raise ApplianceError("a score names a competency that is not in this interview's kit")
        if line.competency_id in seen:
            raise ApplianceError("a competency is scored twice")
        seen.add(line.competency_id)
        if line.score is not None and line.score not in SCORES:
            raise Invalid("scores are whole numbers from 1 to 5")
        rationale = validation.text(
            f"The rationale for {competencies[line.competency_id]}", line.rationale, MAX_RATIONALE
        )
        scores.append(ScoreIn(line.competency_id, line.score, rationale))
    recommendation = data.recommendation or None
    if recommendation is not None:
        validation.choice("Recommendation", recommendation, RECOMMENDATIONS)
    summary = validation.text("Summary", data.summary, MAX_SUMMARY)
    if complete:
        missing = [name for cid, name in competencies.items() if cid not in seen]
        if missing:
            raise ApplianceError(
                "score every competency or mark it not assessed before submitting: "
                + ", ".join(missing)
            )
        if recommendation is None:
            raise ApplianceError("choose an overall recommendation before submitting")
    return ScorecardIn(scores, recommendation, summary)


def _scorecard_for(user: User, interview: Interview) -> Scorecard:
    own = own_scorecard(user, interview)
    if own is not None:
        return own
    created: Scorecard = Scorecard.create(
        interview=interview, author=user, from_recording=not on_panel(user, interview)
    )
    return created


def _write(card: Scorecard, data: ScorecardIn, replace: bool) -> None:
    """Store `data` on the scorecard; with `replace`, competencies it leaves out are cleared."""
    given = {line.competency_id for line in data.scores}
    if replace:
        CompetencyScore.delete().where(
            (CompetencyScore.scorecard == card) & CompetencyScore.competency.not_in(given)
        ).execute()
    for line in data.scores:
        CompetencyScore.insert(
            scorecard=card, competency=line.competency_id, score=line.score, notes=line.rationale
        ).on_conflict(
            conflict_target=[CompetencyScore.scorecard, CompetencyScore.competency],
            update={CompetencyScore.score: line.score, CompetencyScore.notes: line.rationale},
        ).execute()
    card.recommendation = data.recommendation
    card.summary = data.summary
    card.updated_at = utcnow()


def save_draft(
    user: User, interview: Interview, data: ScorecardIn, now: dt.datetime | None = None
) -> ScorecardView:
    """Keep what the scorer has so far; refused once submitted (amend instead)."""
    _check_interview(user, interview, now)
    clean = _cleaned(interview, data, complete=False)
    with Scorecard._meta.database.atomic():
        card = _scorecard_for(user, interview)
        if card.submitted_at is not None:
            raise ApplianceError("this scorecard was submitted; amend it with a reason instead")
        _write(card, clean, replace=True)
        card.save()
    return _view(card, interview, on_panel(user, interview))


def _content(card: Scorecard, interview: Interview) -> str:
    view = _view(card, interview, False)
    return json.dumps(
        {
            "recommendation": view.recommendation,
            "summary": view.summary,
            "scores": {str(s.competency_id): [s.score, s.rationale] for s in view.scores},
        },
        sort_keys=True,
    )


def _decided(interview: Interview) -> bool:
    return bool(
        Decision.select()
        .where(
            (Decision.candidate == interview.candidate_id)
            & (Decision.position == interview.position_id)
        )
        .exists()
    )


def submit(
    audit: AuditLog,
    user: User,
    interview: Interview,
    data: ScorecardIn,
    now: dt.datetime | None = None,
) -> ScorecardView:
    """Submit the scorecard: it is locked and the others' become readable to its author.
    Submitting the same scorecard again changes nothing; a different one needs an amendment."""
    _check_interview(user, interview, now)
    clean = _cleaned(interview, data, complete=True)
    with audit.db.atomic():
        card = _scorecard_for(user, interview)
        if card.submitted_at is not None:
            before = _content(card, interview)
            _write(card, clean, replace=True)
            if _content(card, interview) != before:
                raise ApplianceError(
                    "this scorecard was already submitted; amend it with a reason to change it"
                )
            return _view(card, interview, on_panel(user, interview))
        _write(card, clean, replace=True)
        card.submitted_at = utcnow()
        card.version = 1
        card.after_decision = _decided(interview)
        card.save()
        _keep_version(card, interview, "")
        audit.record(
            user.email,
            "scorecard.submit",
            f"interview:{interview.id}",
            {
                "scorecard": card.id,
                "from_recording": bool(card.from_recording),
                "after_decision": bool(card.after_decision),
            },
        )
        _announce(card, interview)
    return _view(card, interview, on_panel(user, interview))


def _announce(card: Scorecard, interview: Interview) -> None:
    webhook_events.emit(
        "scorecard.submitted",
        {"scorecard_id": card.id, "version": int(card.version), "author_id": card.author_id,
         "interview_id": interview.id, **webhook_events.candidate_data(interview.candidate)},
    )  # fmt: skip


def amend(
    audit: AuditLog,
    user: User,
    interview: Interview,
    data: ScorecardIn,
    reason: str,
    now: dt.datetime | None = None,
) -> ScorecardView:
    """Change a submitted scorecard: a new version, the reason kept with it, the old ones
    kept whole."""
    _check_interview(user, interview, now)
    why = validation.text("The reason for the amendment", reason, MAX_REASON, required=True)
    clean = _cleaned(interview, data, complete=True)
    with audit.db.atomic():
        card = own_scorecard(user, interview)
        if card is None or card.submitted_at is None:
            raise ApplianceError("submit the scorecard first; only a submitted one is amended")
        before = _content(card, interview)
        _write(card, clean, replace=True)
        if _content(card, interview) == before:
            raise ApplianceError("the amendment changes nothing")
        card.version += 1
        card.save()
        _keep_version(card, interview, why)
        audit.record(
            user.email,
            "scorecard.amend",
            f"interview:{interview.id}",
            {"scorecard": card.id, "version": int(card.version)},
        )
        _announce(card, interview)
    return _view(card, interview, on_panel(user, interview))


def _keep_version(card: Scorecard, interview: Interview, reason: str) -> None:
    ScorecardVersion.create(
        scorecard=card, number=card.version, reason=reason, content=_content(card, interview)
    )


@dataclass(frozen=True)
class Version:
    number: int
    submitted_at: dt.datetime
    reason: str


def versions(card_id: int) -> list[Version]:
    return [
        Version(v.number, as_utc(v.submitted_at), str(v.reason))
        for v in ScorecardVersion.select()
        .where(ScorecardVersion.scorecard == card_id)
        .order_by(ScorecardVersion.number)
    ]


@dataclass(frozen=True)
class ScorecardPanel:
    """The scorecards part of an interview's review page, for one viewer."""

    may_score: bool
    on_panel: bool
    mine: ScorecardView | None
    history: list[Version]  # the viewer's own submitted versions
    standing: Standing
    readable: bool  # whether `others` may be shown; False while independence binds the viewer
    others: list[ScorecardView]


def panel_for(viewer: User, interview: Interview) -> ScorecardPanel:
    mine = scorecard_view(viewer, interview)
    readable = may_read_others(viewer, interview)
    others = (
        [c for c in submitted_scorecards(interview) if c.author_id != viewer.id] if readable else []
    )
    return ScorecardPanel(
        may_score(viewer, interview),
        on_panel(viewer, interview),
        mine,
        versions(mine.id) if mine is not None else [],
        standing(interview),
        readable,
        others,
    )
