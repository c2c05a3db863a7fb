"""Positions and interview types as the API gives them to another system, which needs their
ids to send candidates to a position and invite them to an interview type. Listed by id with a
cursor, like every list of the versioned API."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.models import InterviewType, PanelMember, Position
from appliance.db.paging import after_cursor


@dataclass(frozen=True)
class PositionRecord:
    id: int
    title: str
    department: str
    location: str
    status: str


@dataclass(frozen=True)
class PositionPage:
    items: list[PositionRecord]
    next_cursor: int | None


@dataclass(frozen=True)
class InterviewTypeRecord:
    id: int
    name: str
    duration_minutes: int
    kit_id: int | None
    panel: list[int]  # the interviewers' user ids


@dataclass(frozen=True)
class InterviewTypePage:
    items: list[InterviewTypeRecord]
    next_cursor: int | None


def positions(after: int, limit: int) -> PositionPage:
    found, cursor = after_cursor(Position.select(), Position.id, after, limit)
    return PositionPage(
        [PositionRecord(p.id, p.title, p.department, p.location, p.status) for p in found], cursor
    )


def interview_types(after: int, limit: int) -> InterviewTypePage:
    found, cursor = after_cursor(InterviewType.select(), InterviewType.id, after, limit)
    panels: dict[int, list[int]] = {}
    for member in (
        PanelMember.select()
        .where(PanelMember.interview_type.in_([k.id for k in found]))
        .order_by(PanelMember.user)
    ):
        panels.setdefault(member.interview_type_id, []).append(member.user_id)
    return InterviewTypePage(
        [
            InterviewTypeRecord(k.id, k.name, k.duration_minutes, k.kit_id, panels.get(k.id, []))
            for k in found
        ],
        cursor,
    )
