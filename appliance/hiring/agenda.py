"""The interviews a staff member sees: hiring staff every recent one, anyone else those they sit
on, each with its panel by name."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core.errors import NotFound
from appliance.db.database import utcnow
from appliance.db.models import (
    Candidate,
    Interview,
    InterviewParticipant,
    Recording,
    Role,
    User,
)
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc, stored, visible_to

RECENT_DAYS = 30
MAX_LISTED = 300


@dataclass(frozen=True)
class AgendaEntry:
    interview_id: int
    starts_at: dt.datetime  # UTC
    candidate: str
    panel: list[str]
    status: str
    recorded: bool  # it has a recording to review
    position: str = ""  # the position's title; empty for none


def get_interview(interview_id: int) -> Interview:
    interview: Interview | None = Interview.get_or_none(Interview.id == interview_id)
    if interview is None:
        raise NotFound(f"no interview with id {interview_id}")
    return interview


def agenda_for(user: User, now: dt.datetime | None = None) -> list[AgendaEntry]:
    """The interviews that ended in the last 30 days or have yet to: for hiring staff every
    one; for others those they sit on and those of positions whose hiring team they are on.
    Oldest first, at most 300."""
    since = stored(now or utcnow()) - dt.timedelta(days=RECENT_DAYS)
    query = visible_to(user, Interview.select().where(Interview.ends_at > since))
    return _entries(
        list(
            query.select_extend(Candidate)
            .switch(Interview)
            .join(Candidate)
            .order_by(Interview.starts_at)
            .limit(MAX_LISTED)
        )
    )


def interviews_of(candidate_id: int) -> list[AgendaEntry]:
    """Every interview of one candidate, newest first (for hiring staff, who see them all)."""
    query = Interview.select().where(Interview.candidate == candidate_id)
    return _entries(list(query.order_by(Interview.starts_at.desc()).limit(MAX_LISTED)))


def _entries(interviews: list[Interview]) -> list[AgendaEntry]:
    ids = [i.id for i in interviews]
    panels = panel_names(ids)
    recorded = {
        r.interview_id
        for r in Recording.select(Recording.interview).where(Recording.interview.in_(ids))
    }
    return [
        AgendaEntry(
            i.id,
            as_utc(i.starts_at),
            display_name(i.candidate),
            panels.get(i.id, []),
            i.status,
            i.id in recorded,
            i.position.title if i.position is not None else "",
        )
        for i in interviews
    ]


def panel_names(interview_ids: list[int]) -> dict[int, list[str]]:
    """Each interview's panel by name (or e-mail), for a whole page of interviews in one query."""
    names: dict[int, list[str]] = {}
    members = (
        InterviewParticipant.select(InterviewParticipant.interview, User.name, User.email)
        .join(User)
        .where(InterviewParticipant.interview.in_(interview_ids) & (User.role != Role.COMPLIANCE))
        .order_by(User.id)
    )
    for member in members:
        names.setdefault(member.interview_id, []).append(member.user.name or member.user.email)
    return names
