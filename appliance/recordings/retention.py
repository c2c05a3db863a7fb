"""Retention: which candidates are due for erasure, legal holds, and the periodic run."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import peewee

from appliance.core.config import RetentionConfig
from appliance.core.errors import ApplianceError, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Candidate, Interview
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from appliance.storage.audit import AuditLog


@dataclass(frozen=True)
class Due:
    candidate_id: int
    rule: str
    since: datetime.datetime


def due_for_erasure(policy: RetentionConfig, now: datetime.datetime) -> list[Due]:
    """Candidates past a retention rule, not erased and not on legal hold."""
    last_end = peewee.fn.MAX(Interview.ends_at)
    rows = (
        Candidate.select(Candidate, last_end.alias("last_interview_end"))
        .join(Interview, peewee.JOIN.LEFT_OUTER)
        .where(Candidate.erased_at.is_null() & (Candidate.legal_hold == False))  # noqa: E712
        .group_by(Candidate.id)
        .order_by(Candidate.id)
    )
    due: list[Due] = []
    for candidate in rows:
        reasons: list[tuple[datetime.datetime, str]] = []
        ended = getattr(candidate, "last_interview_end", None)
        if isinstance(ended, str):
            ended = datetime.datetime.fromisoformat(ended)
        if policy.days_after_interview and ended is not None:
            reasons.append(
                (ended + datetime.timedelta(days=policy.days_after_interview), "interview")
            )
        if policy.days_after_decision and candidate.decided_at is not None:
            limit = candidate.decided_at + datetime.timedelta(days=policy.days_after_decision)
            reasons.append((limit, "decision"))
        passed = [r for r in reasons if r[0] <= now]
        if passed:
            since, rule = min(passed)
            due.append(Due(candidate.id, rule, since))
    return due


def run(runtime: Runtime, actor: str, dry_run: bool) -> list[Due]:
    """Erase every candidate due under the configured policy (or only list them)."""
    due = due_for_erasure(runtime.config.retention, utcnow())
    if dry_run:
        return due
    for item in due:
        erase_candidate(runtime, actor, item.candidate_id, f"retention:{item.rule}")
    runtime.audit.record(actor, "retention.run", "", {"erased": [d.candidate_id for d in due]})
    return due


def set_hold(audit: AuditLog, actor: str, candidate_id: int, reason: str) -> None:
    """Put a candidate on legal hold: retention and erasure leave them alone until released."""
    if not reason.strip():
        raise ApplianceError("a legal hold needs a reason (a case or ticket reference)")
    with audit.db.atomic():
        candidate = _candidate(candidate_id)
        candidate.legal_hold = True
        candidate.hold_reason = reason.strip()
        candidate.save()
        audit.record(
            actor, "retention.hold", f"candidate:{candidate_id}", {"reason": reason.strip()}
        )


def release_hold(audit: AuditLog, actor: str, candidate_id: int) -> None:
    with audit.db.atomic():
        candidate = _candidate(candidate_id)
        candidate.legal_hold = False
        candidate.hold_reason = ""
        candidate.save()
        audit.record(actor, "retention.release", f"candidate:{candidate_id}")


def _candidate(candidate_id: int) -> Candidate:
    candidate = Candidate.get_or_none(Candidate.id == candidate_id)
    if candidate is None or candidate.erased_at is not None:
        raise NotFound(f"no candidate with id {candidate_id}")
    return candidate
