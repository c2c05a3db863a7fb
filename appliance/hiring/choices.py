"""Choosing one position, kit or interview type from however many the box holds: the few
whose name holds what was typed, for a form's search box (web/static/js/picker.js)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import peewee

from appliance.db.models import InterviewType, Kit, Position

Kind = Literal["positions", "kits", "interview-types"]
LIMIT = 20


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


def find(kind: Kind, text: str = "", limit: int = LIMIT) -> list[Choice]:
    """At most `limit` choices of `kind` whose name holds `text`, by name."""
    model, name, key = _named(kind)
    query = model.select()
    if text.strip():
        query = query.where(name ** f"%{text.strip()}%")
    return [_choice(row) for row in query.order_by(name, key).limit(limit)]


def label_of(kind: Kind, choice_id: object) -> str:
    """The label of the chosen one, for showing a form's current value ("" if none)."""
    try:
        number = int(str(choice_id))
    except ValueError:
        return ""
    if not 0 < number < 2**63:
        return ""
    model, _, key = _named(kind)
    row = model.get_or_none(key == number)
    return "" if row is None else _choice(row).label


def _named(kind: Kind) -> tuple[type[peewee.Model], peewee.Field, peewee.Field]:
    if kind == "positions":
        return Position, Position.title, Position.id
    if kind == "kits":
        return Kit, Kit.name, Kit.id
    return InterviewType, InterviewType.name, InterviewType.id


def _choice(row: peewee.Model) -> Choice:
    if isinstance(row, Position):
        closed = "" if row.status == "open" else f" ({str(row.status).replace('_', ' ')})"
        return Choice(row.id, f"{row.title}{closed}")
    if isinstance(row, InterviewType):
        return Choice(row.id, f"{row.name} ({row.duration_minutes} min)")
    assert isinstance(row, Kit)
    return Choice(row.id, str(row.name))
