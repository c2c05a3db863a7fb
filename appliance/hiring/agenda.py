"""The interviews a staff member sees: hiring staff every one, anyone else those they sit on and
those of their hiring teams' positions, each with its panel by name; listed a page at a time,
narrowed by position, status, interviewer and dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core import validation
from appliance.core.errors import NotFound
from appliance.db.models import (
    Candidate,
    Interview,
    InterviewParticipant,
    Position,
    Recording,
    Role,
    User,
)
from appliance.db.paging import Page, paginate
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc, stored, visible_to, zone

MAX_LISTED = 300
STATUSES = ("scheduled", "completed", "cancelled")


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


@dataclass(frozen=True)
class Filters:
    position_id: int | None = None
    status: str = ""  # one of STATUSES, or empty for any
    interviewer_id: int | None = None
    since: dt.date | None = None  # by start, in the viewer's zone's calendar
    until: dt.date | None = None  # inclusive
    newest_first: bool = False


def listing(
    user: User, filters: Filters, page: int = 1, timezone: str = "UTC"
) -> Page[AgendaEntry]:
    """One page of the interviews `user` may see that match `filters`, oldest first (or newest
    first, as `filters` says)."""
    if filters.status:
        validation.choice("Status", filters.status, STATUSES)
    query = visible_to(user, Interview.select())
    if filters.position_id is not None:
        query = query.where(Interview.position == filters.position_id)
    if filters.status:
        query = query.where(Interview.status == filters.status)
    if filters.interviewer_id is not None:
        sits = InterviewParticipant.select(InterviewParticipant.interview).where(
            InterviewParticipant.user == filters.interviewer_id
        )
        query = query.where(Interview.id.in_(sits))
    local = zone(timezone)
    if filters.since is not None:
        start = dt.datetime.combine(filters.since, dt.time(), local)
        query = query.where(Interview.starts_at >= stored(start))
    if filters.until is not None:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), local)
        query = query.where(Interview.starts_at < stored(end))
    ordered = (
        query.select_extend(Candidate)
        .switch(Interview)
        .join(Candidate)
        .order_by(
            *(
                (Interview.starts_at.desc(), Interview.id.desc())
                if filters.newest_first
                else (Interview.starts_at, Interview.id)
            )
        )
    )
    listed = paginate(ordered, page)
    return Page(_entries(listed.rows), listed.page, listed.pages, listed.total)


def positions_for(user: User) -> list[tuple[int, str]]:
    """The positions of the interviews `user` may see, to narrow a list or a search to one."""
    query = visible_to(
        user, Interview.select(Interview.position).where(Interview.position.is_null(False))
    )
    chosen = Position.select(Position.id, Position.title).where(Position.id.in_(query))
    return [(p.id, str(p.title)) for p in chosen.order_by(Position.title)]


def interviewers_for(user: User) -> list[tuple[int, str]]:
    """Who sits on the interviews `user` may see, to narrow the list to one of them."""
    seen = visible_to(user, Interview.select(Interview.id))
    people = (
        User.select(User.id, User.name, User.email)
        .join(InterviewParticipant)
        .where(InterviewParticipant.interview.in_(seen) & (User.role != Role.COMPLIANCE))
        .distinct()
        .order_by(User.name, User.email)
    )
    return [(u.id, str(u.name or u.email)) for u in people]
