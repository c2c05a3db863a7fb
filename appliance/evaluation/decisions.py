"""The hiring decision on a candidate for a position: advance to the next round, reject, make an
offer, or hold. The position's hiring manager and administrators decide, once the panel's
scorecards are in or with an explicit, recorded "decide without all scorecards". The candidate's
status follows, the recruiters are told, and the decision and every change to it are audited;
every earlier decision is kept as its history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, cast, get_args

from appliance.core import validation
from appliance.core.config import Config
from appliance.core.errors import ApplianceError, Gone, NotAllowed, NotFound
from appliance.db.models import Candidate, Decision, Interview, Position, Role, User
from appliance.db.paging import after_cursor
from appliance.evaluation.scorecards import name_of, standing
from appliance.hiring import mailer
from appliance.hiring.candidates import display_name, set_status
from appliance.hiring.scheduling import as_utc
from appliance.integrations import webhook_events
from appliance.storage.audit import AuditLog

OUTCOMES = {
    "advance": "Advance to the next round",
    "reject": "Reject",
    "offer": "Make an offer",
    "hold": "Hold",
}
# The candidate's status each outcome leaves (hiring/candidates.py STATUSES).
STATUS_AFTER = {"advance": "active", "reject": "rejected", "offer": "offered", "hold": "on_hold"}
MAX_REASON = validation.TEXT
Outcome = Literal["advance", "reject", "offer", "hold"]
OUTCOME_VALUES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True)
class DecisionView:
    id: int
    outcome: str
    label: str
    reason: str
    decided_by: str
    decided_at: dt.datetime
    without_all_scorecards: bool


def may_decide(user: User, position: Position | None) -> bool:
    """Administrators decide on any candidate; a position's hiring manager on its candidates."""
    if not user.active:
        return False
    if Role(user.role) == Role.ADMIN:
        return True
    return position is not None and position.hiring_manager_id == user.id


def rounds(candidate: Candidate, position: Position | None) -> list[Interview]:
    """The candidate's interviews for the position (or with no position), oldest first,
    cancelled ones left out."""
    query = Interview.select().where(
        (Interview.candidate == candidate) & (Interview.status != "cancelled")
    )
    if position is None:
        query = query.where(Interview.position.is_null())
    else:
        query = query.where(Interview.position == position)
    return list(query.order_by(Interview.starts_at, Interview.id))


def missing_scorecards(candidate: Candidate, position: Position | None) -> list[str]:
    """Panel members who have not submitted a scorecard for a round that has taken place."""
    missing = []
    for interview in rounds(candidate, position):
        if interview.status == "completed" or interview.ended_at is not None:
            missing += standing(interview).pending
    return missing


@dataclass(frozen=True)
class DecisionRecord:
    """A decision as the API gives it to another system."""

    id: int
    candidate_id: int
    external_id: str | None  # the candidate's id in the system that sent them, if any
    position_id: int | None
    outcome: Outcome
    reason: str
    decided_by_id: int | None
    decided_at: dt.datetime
    without_all_scorecards: bool
    in_force: bool  # False once a later decision on the same candidate and position replaced it


@dataclass(frozen=True)
class DecisionPage:
    items: list[DecisionRecord]
    next_cursor: int | None  # pass as `after` for the next page; None: this was the last


def _records(decisions: list[Decision]) -> list[DecisionRecord]:
    latest: dict[tuple[int, int | None], int] = {}
    for d in Decision.select(Decision.id, Decision.candidate, Decision.position).where(
        Decision.candidate.in_({d.candidate_id for d in decisions})
    ):
        key = (d.candidate_id, d.position_id)
        latest[key] = max(latest.get(key, 0), d.id)
    return [
        DecisionRecord(
            d.id, d.candidate_id, d.candidate.external_id, d.position_id, cast(Outcome, d.outcome),
            str(d.reason), d.decided_by_id, as_utc(d.decided_at), bool(d.without_all_scorecards),
            latest[(d.candidate_id, d.position_id)] == d.id,
        )
        for d in decisions
    ]  # fmt: skip


def decision_records(after: int, limit: int, candidate_id: int | None = None) -> DecisionPage:
    """Decisions with ids above `after`, in id order (the order they were made), at most
    `limit`; only the candidate's when `candidate_id` is given."""
    query = Decision.select(Decision, Candidate).join(Candidate)
    if candidate_id is not None:
        query = query.where(Decision.candidate == candidate_id)
    found, cursor = after_cursor(query, Decision.id, after, limit)
    return DecisionPage(_records(found), cursor)


def decision_record(decision_id: int) -> DecisionRecord:
    decision = Decision.get_or_none(Decision.id == decision_id)
    if decision is None:
        raise NotFound(f"no decision {decision_id}")
    return _records([decision])[0]


def history(candidate: Candidate, position: Position | None) -> list[DecisionView]:
    """Every decision on the candidate for the position, the one in force first."""
    query = Decision.select().where(Decision.candidate == candidate)
    if position is None:
        query = query.where(Decision.position.is_null())
    else:
        query = query.where(Decision.position == position)
    return [
        DecisionView(
            d.id,
            d.outcome,
            OUTCOMES[d.outcome],
            str(d.reason),
            name_of(d.decided_by) if d.decided_by is not None else "(removed)",
            as_utc(d.decided_at),
            bool(d.without_all_scorecards),
        )
        for d in query.order_by(Decision.decided_at.desc(), Decision.id.desc())
    ]


def decide(
    audit: AuditLog,
    config: Config,
    user: User,
    candidate: Candidate,
    position: Position | None,
    outcome: str,
    reason: str,
    without_all_scorecards: bool = False,
) -> DecisionView:
    """Record the decision (a change when there was one already) and move the candidate's
    status with it."""
    if candidate.erased_at is not None:
        raise Gone(f"candidate {candidate.id} was erased; there is nothing left to decide on")
    if candidate.legal_hold:
        raise ApplianceError(
            "this candidate's records are under legal hold; no decision can be recorded until "
            "the hold is lifted"
        )
    if not may_decide(user, position):
        raise NotAllowed("only the position's hiring manager or an administrator decides")
    validation.choice("Decision", outcome, OUTCOMES)
    why = validation.text("The reason for the decision", reason, MAX_REASON, required=True)
    with audit.db.atomic():
        missing = missing_scorecards(candidate, position)
        if missing and not without_all_scorecards:
            raise ApplianceError(
                f"{len(missing)} scorecard(s) are not in yet ({', '.join(missing)}); wait for "
                'them or choose "decide without all scorecards"'
            )
        earlier = history(candidate, position)
        decision = Decision.create(
            candidate=candidate,
            position=position,
            outcome=outcome,
            reason=why,
            decided_by=user,
            without_all_scorecards=bool(missing),
        )
        set_status(candidate, STATUS_AFTER[outcome])
        candidate.save()
        audit.record(
            user.email,
            "decision.change" if earlier else "decision.record",
            f"candidate:{candidate.id}",
            {
                "position": position.id if position is not None else None,
                "outcome": outcome,
                "before": earlier[0].outcome if earlier else None,
                "scorecards_missing": len(missing),
            },
        )
        webhook_events.emit(
            "decision.made",
            {"decision_id": decision.id, "outcome": outcome,
             "position_id": position.id if position is not None else None,
             "changed": bool(earlier), **webhook_events.candidate_data(candidate)},
        )  # fmt: skip
        _tell_recruiters(config, user, candidate, position, decision)
    return history(candidate, position)[0]


def recruiters_of(candidate: Candidate, position: Position | None) -> list[User]:
    """Who hears of a decision: the recruiters who scheduled the candidate's rounds, or every
    active recruiter when none of them did."""
    schedulers = {
        i.created_by.id: i.created_by
        for i in rounds(candidate, position)
        if i.created_by is not None
        and i.created_by.active
        and Role(i.created_by.role) == Role.RECRUITER
    }
    if schedulers:
        return list(schedulers.values())
    return list(User.select().where(User.active & (User.role == Role.RECRUITER)).order_by(User.id))


def _tell_recruiters(
    config: Config,
    user: User,
    candidate: Candidate,
    position: Position | None,
    decision: Decision,
) -> None:
    title = position.title if position is not None else "no position"
    link = f"{config.public_url}/candidates/{candidate.id}/debrief" + (
        f"?position={position.id}" if position is not None else ""
    )
    for recruiter in recruiters_of(candidate, position):
        if recruiter.id == user.id:
            continue
        mailer.queue_message(
            recruiter.email,
            f"Decision: {OUTCOMES[decision.outcome]} — {display_name(candidate)} ({title})",
            f"{name_of(user)} decided on {display_name(candidate)} for {title}: "
            f"{OUTCOMES[decision.outcome]}.\n\nThe debrief and the reason: {link}\n",
            dedupe_key=f"decision:{decision.id}:{recruiter.id}",
        )


@dataclass(frozen=True)
class PositionOutcome:
    position_id: int | None
    title: str
    rounds: int
    decision: DecisionView | None  # the one in force


def outcomes(candidate: Candidate) -> list[PositionOutcome]:
    """Each position the candidate is interviewed for (or applied to), with the decision in
    force: what the candidate's page lists."""
    positions: dict[int | None, Position | None] = {}
    if candidate.position_id is not None:
        positions[candidate.position_id] = candidate.position
    for interview in Interview.select().where(Interview.candidate == candidate):
        positions.setdefault(interview.position_id, interview.position)
    found = []
    for position_id, position in positions.items():
        decided = history(candidate, position)
        found.append(
            PositionOutcome(
                position_id,
                position.title if position is not None else "No position",
                len(rounds(candidate, position)),
                decided[0] if decided else None,
            )
        )
    return found
