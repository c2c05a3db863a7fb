"""Positions: the jobs candidates interview for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from appliance.core import validation
from appliance.core.errors import NotFound
from appliance.db.database import utcnow
from appliance.db.models import Position
from appliance.db.paging import PAGE_SIZE, Page, paginate
from appliance.storage.audit import AuditLog

Status = Literal["open", "on_hold", "closed"]
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass
class PositionFields:
    title: validation.RequiredShortText
    department: validation.ShortText = ""
    location: validation.ShortText = ""
    description: validation.LongText = ""
    status: Status = "open"

    def cleaned(self) -> PositionFields:
        return PositionFields(
            title=validation.text("Title", self.title, validation.SHORT, required=True),
            department=validation.text("Department", self.department, validation.SHORT),
            location=validation.text("Location", self.location, validation.SHORT),
            description=validation.text("Description", self.description, validation.LONG),
            status=validation.choice("Status", self.status, STATUSES),
        )


def list_positions() -> list[Position]:
    """Every position, for choosing one (forms, filters)."""
    return list(Position.select().order_by(Position.status, Position.title))


def page_of_positions(text: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page[Position]:
    """A page of the positions (by status, then title) whose title holds `text`."""
    query = Position.select()
    if text.strip():
        query = query.where(Position.title ** f"%{text.strip()}%")
    return paginate(query.order_by(Position.status, Position.title, Position.id), page, page_size)


def get_position(position_id: int) -> Position:
    position = Position.get_or_none(Position.id == position_id)
    if position is None:
        raise NotFound(f"no position with id {position_id}")
    return position


def create_position(audit: AuditLog, actor: str, fields: PositionFields) -> Position:
    clean = fields.cleaned()
    with audit.db.atomic():
        position = Position.create(**vars(clean))
        audit.record(actor, "position.create", f"position:{position.id}", {"title": clean.title})
    return position


def update_position(
    audit: AuditLog, actor: str, position_id: int, fields: PositionFields
) -> Position:
    clean = fields.cleaned()
    with audit.db.atomic():
        position = get_position(position_id)
        for name, value in vars(clean).items():
            setattr(position, name, value)
        position.updated_at = utcnow()
        position.save()
        audit.record(actor, "position.update", f"position:{position.id}", {"title": clean.title})
    return position
