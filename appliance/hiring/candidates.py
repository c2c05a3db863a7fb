"""Candidates: the people interviewed. Personal fields are erasable (see storage erasure)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

import peewee
from annotated_types import MaxLen

from appliance.core import validation
from appliance.core.errors import Gone, Invalid, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Candidate, Position
from appliance.db.paging import PAGE_SIZE, Page, paginate
from appliance.hiring.positions import get_position
from appliance.integrations import webhook_events
from appliance.staff.accounts import normalize_email
from appliance.storage.audit import AuditLog

Status = Literal["active", "on_hold", "offered", "hired", "rejected", "withdrawn"]
STATUSES: tuple[Status, ...] = get_args(Status)
# The statuses that close the candidate's process and start the decision retention clock.
DECIDED = ("hired", "rejected", "withdrawn")


@dataclass
class CandidateFields:
    name: validation.RequiredShortText
    email: Annotated[str, MaxLen(254)]
    phone: Annotated[str, MaxLen(64)] = ""
    position_id: int | None = None
    status: Status = "active"
    notes: validation.LongText = ""

    def cleaned(self) -> CandidateFields:
        if self.position_id is not None:
            get_position(self.position_id)
        return CandidateFields(
            name=validation.text("Name", self.name, validation.SHORT, required=True),
            email=normalize_email(self.email),
            phone=validation.text("Phone", self.phone, 64),
            position_id=self.position_id,
            status=validation.choice("Status", self.status, STATUSES),
            notes=validation.text("Notes", self.notes, validation.LONG),
        )


ERASED = "(erased)"


def display_name(candidate: Candidate) -> str:
    """The candidate's name as staff see it: an erased candidate's is gone for good."""
    return ERASED if candidate.erased_at is not None else str(candidate.name)


def list_candidates(
    position_id: int | None = None,
    text: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page[Candidate]:
    """One page of the candidates (by name) for a position, and whose name or e-mail holds
    `text`: a page costs its rows, however many candidates the box holds."""
    query = (
        Candidate.select(Candidate, Position)
        .join(Position, peewee.JOIN.LEFT_OUTER)
        .where(Candidate.erased_at.is_null())
    )
    if position_id is not None:
        query = query.where(Candidate.position == position_id)
    if text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where((Candidate.name**pattern) | (Candidate.email**pattern))
    return paginate(query.order_by(Candidate.name, Candidate.id), page, page_size)


def get_candidate(candidate_id: int) -> Candidate:
    candidate = Candidate.get_or_none(
        (Candidate.id == candidate_id) & Candidate.erased_at.is_null()
    )
    if candidate is None:
        raise NotFound(f"no candidate with id {candidate_id}")
    return candidate


def candidate_record(candidate_id: int) -> Candidate:
    """The candidate, erased or not: for what is kept about them after an erasure."""
    candidate = Candidate.get_or_none(Candidate.id == candidate_id)
    if candidate is None:
        raise NotFound(f"no candidate with id {candidate_id}")
    return candidate


def create_candidate(
    audit: AuditLog, actor: str, fields: CandidateFields, external_id: str | None = None
) -> Candidate:
    with audit.db.atomic():
        clean = fields.cleaned()
        candidate = Candidate.create(
            external_id=external_id,
            name=clean.name,
            email=clean.email,
            phone=clean.phone,
            position=clean.position_id,
            status=clean.status,
            notes=clean.notes,
            decided_at=utcnow() if clean.status in DECIDED else None,
        )
        audit.record(actor, "candidate.create", f"candidate:{candidate.id}")
        webhook_events.emit("candidate.created", webhook_events.candidate_data(candidate))
    return candidate


def update_candidate(
    audit: AuditLog, actor: str, candidate_id: int, fields: CandidateFields
) -> Candidate:
    with audit.db.atomic():
        clean = fields.cleaned()
        candidate = get_candidate(candidate_id)
        candidate.name = clean.name
        candidate.email = clean.email
        candidate.phone = clean.phone
        candidate.position_id = clean.position_id
        set_status(candidate, clean.status)
        candidate.notes = clean.notes
        candidate.save()
        audit.record(actor, "candidate.update", f"candidate:{candidate.id}")
    return candidate


MAX_EXTERNAL_ID = 200


def check_external_id(external_id: str) -> None:
    """Another system's id for a candidate: 1 to MAX_EXTERNAL_ID characters, none of them a
    control character (they would garble logs and exports)."""
    if not 1 <= len(external_id) <= MAX_EXTERNAL_ID or any(
        unicodedata.category(c) == "Cc" for c in external_id
    ):
        raise Invalid(f"external_id: 1 to {MAX_EXTERNAL_ID} characters, no control characters")


def upsert_by_external_id(
    audit: AuditLog, actor: str, external_id: str, fields: CandidateFields
) -> tuple[Candidate, bool]:
    """The candidate another system knows as `external_id`, made or brought up to date from
    `fields`; (candidate, whether it was made). Sending the same twice changes nothing."""
    check_external_id(external_id)
    with audit.db.atomic():
        known = Candidate.get_or_none(Candidate.external_id == external_id)
        if known is not None and known.erased_at is not None:
            raise Gone(f"the candidate {external_id!r} was erased; their data is gone for good")
        if known is None:
            return create_candidate(audit, actor, fields, external_id), True
        return update_candidate(audit, actor, known.id, fields), False


def set_status(candidate: Candidate, status: str) -> None:
    """Change the candidate's status (the caller saves): a closing status starts the decision
    retention clock, reopening stops it."""
    if status != candidate.status:
        candidate.decided_at = utcnow() if status in DECIDED else None
    candidate.status = status
    candidate.updated_at = utcnow()
