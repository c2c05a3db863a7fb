"""Interviews as the API gives them to another system (an applicant tracking system): ids, state,
times with their time zone, the panel and the consent given; never recordings or transcripts.
Listed by id with a cursor, so a client that pages while interviews are added misses none and
sees none twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from appliance.core import validation
from appliance.core.errors import NotFound
from appliance.db.models import Consent, Interview, InterviewParticipant, Role, User
from appliance.db.paging import after_cursor
from appliance.hiring.scheduling import as_utc

Status = Literal["scheduled", "completed", "cancelled"]
STATUSES: tuple[Status, ...] = ("scheduled", "completed", "cancelled")


@dataclass(frozen=True)
class PanelMember:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class ConsentState:
    recording: bool | None  # None: not yet asked
    ai_assistance: bool | None  # None: not asked (or not yet)


@dataclass(frozen=True)
class InterviewRecord:
    id: int
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    timezone: str
    candidate_id: int
    position_id: int | None
    kit_id: int | None
    panel: list[PanelMember]
    consent: ConsentState


@dataclass(frozen=True)
class RecordPage:
    items: list[InterviewRecord]
    next_cursor: int | None  # pass as `after` for the next page; None: this was the last


def _records(interviews: list[Interview]) -> list[InterviewRecord]:
    ids = [i.id for i in interviews]
    panels: dict[int, list[PanelMember]] = {}
    for member in (
        InterviewParticipant.select(InterviewParticipant.interview, User)
        .join(User)
        .where(InterviewParticipant.interview.in_(ids) & (User.role != Role.COMPLIANCE))
        .order_by(User.id)
    ):
        user = member.user
        panels.setdefault(member.interview_id, []).append(
            PanelMember(user.id, user.name or user.email, user.email)
        )
    consents: dict[int, dict[str, bool]] = {}
    for row in Consent.select().where(Consent.interview.in_(ids)).order_by(Consent.id):
        consents.setdefault(row.interview_id, {})[row.kind] = bool(row.granted)
    return [
        InterviewRecord(
            i.id, i.status, as_utc(i.starts_at), as_utc(i.ends_at), i.timezone, i.candidate_id,
            i.position_id, i.kit_id, panels.get(i.id, []),
            ConsentState(consents.get(i.id, {}).get("recording"),
                         consents.get(i.id, {}).get("ai_assistance")),
        )
        for i in interviews
    ]  # fmt: skip


def records(after: int = 0, limit: int = 50, status: str = "") -> RecordPage:
    """Interviews with ids above `after`, in id order, at most `limit`."""
    query = Interview.select()
    if status:
        validation.choice("status", status, STATUSES)
        query = query.where(Interview.status == status)
    found, cursor = after_cursor(query, Interview.id, after, limit)
    return RecordPage(_records(found), cursor)


def interview(interview_id: int) -> Interview:
    found: Interview | None = Interview.get_or_none(Interview.id == interview_id)
    if found is None:
        raise NotFound(f"no interview {interview_id}")
    return found


def record(interview_id: int) -> InterviewRecord:
    return _records([interview(interview_id)])[0]
