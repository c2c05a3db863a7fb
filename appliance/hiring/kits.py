"""Interview kits: competencies, each with a 1-5 scoring guide, and questions that probe them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from annotated_types import Len

from appliance.core import validation
from appliance.core.errors import Invalid, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Competency, Kit, Question
from appliance.db.paging import PAGE_SIZE, Page, paginate
from appliance.hiring.positions import get_position
from appliance.storage.audit import AuditLog

LEVELS = 5


@dataclass
class QuestionDoc:
    text: validation.RequiredText
    guidance: validation.Text = ""
    id: int | None = None


@dataclass
class CompetencyDoc:
    name: validation.RequiredShortText
    description: validation.LongText = ""
    # guide[i] says what a score of i + 1 looks like.
    guide: Annotated[list[validation.Text], Len(LEVELS, LEVELS)] = field(
        default_factory=lambda: [""] * LEVELS
    )
    questions: list[QuestionDoc] = field(default_factory=list)
    id: int | None = None


@dataclass
class KitDoc:
    name: validation.RequiredShortText
    description: validation.LongText = ""
    position_id: int | None = None
    competencies: list[CompetencyDoc] = field(default_factory=list)
    id: int | None = None


def _clean_kit(name: str, description: str, position_id: int | None) -> tuple[str, str]:
    if position_id is not None:
        get_position(position_id)
    return (
        validation.text("Kit name", name, validation.SHORT, required=True),
        validation.text("Kit description", description, validation.LONG),
    )


def _clean_competency(doc: CompetencyDoc) -> dict[str, str]:
    if len(doc.guide) != LEVELS:
        raise Invalid(f"a scoring guide has exactly {LEVELS} levels, got {len(doc.guide)}")
    cleaned = {
        "name": validation.text("Competency name", doc.name, validation.SHORT, required=True),
        "description": validation.text("Competency description", doc.description, validation.LONG),
    }
    for level, text in enumerate(doc.guide, start=1):
        cleaned[f"guide_{level}"] = validation.text(
            f"Guide for score {level}", text, validation.TEXT
        )
    return cleaned


def _clean_question(doc: QuestionDoc) -> dict[str, str]:
    return {
        "text": validation.text("Question", doc.text, validation.TEXT, required=True),
        "guidance": validation.text("Question guidance", doc.guidance, validation.TEXT),
    }


QUERY_BATCH = 500  # kits per IN list, well under SQLite's bound on query parameters


def list_kits() -> list[Kit]:
    return list(Kit.select().order_by(Kit.name))


def page_of_kits(text: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page[Kit]:
    """A page of the kits (by name) whose name holds `text`."""
    query = Kit.select()
    if text.strip():
        query = query.where(Kit.name ** f"%{text.strip()}%")
    return paginate(query.order_by(Kit.name, Kit.id), page, page_size)


def get_kit(kit_id: int) -> Kit:
    kit = Kit.get_or_none(Kit.id == kit_id)
    if kit is None:
        raise NotFound(f"no interview kit with id {kit_id}")
    return kit


def create_kit(audit: AuditLog, actor: str, doc: KitDoc) -> Kit:
    """Create a whole kit from a document; nothing is stored if any part is invalid."""
    with audit.db.atomic():
        name, description = _clean_kit(doc.name, doc.description, doc.position_id)
        kit = Kit.create(name=name, description=description, position=doc.position_id)
        for competency in doc.competencies:
            _insert_competency(kit, competency)
        audit.record(actor, "kit.create", f"kit:{kit.id}", {"name": name})
    return kit


def update_kit(
    audit: AuditLog, actor: str, kit_id: int, name: str, description: str, position_id: int | None
) -> Kit:
    with audit.db.atomic():
        kit = get_kit(kit_id)
        kit.name, kit.description = _clean_kit(name, description, position_id)
        kit.position_id = position_id
        kit.updated_at = utcnow()
        kit.save()
        audit.record(actor, "kit.update", f"kit:{kit.id}", {"name": kit.name})
    return kit


def add_competency(audit: AuditLog, actor: str, kit_id: int, doc: CompetencyDoc) -> Competency:
    with audit.db.atomic():
        kit = get_kit(kit_id)
        competency = _insert_competency(kit, doc)
        _touch(kit)
        audit.record(actor, "kit.competency_add", f"kit:{kit.id}", {"competency": competency.id})
    return competency


def update_competency(
    audit: AuditLog, actor: str, kit_id: int, competency_id: int, doc: CompetencyDoc
) -> Competency:
    with audit.db.atomic():
        competency = _competency_of(kit_id, competency_id)
        for name, value in _clean_competency(doc).items():
            setattr(competency, name, value)
        competency.save()
        _touch(competency.kit)
        audit.record(actor, "kit.competency_update", f"kit:{kit_id}", {"competency": competency_id})
    return competency


def remove_competency(audit: AuditLog, actor: str, kit_id: int, competency_id: int) -> None:
    with audit.db.atomic():
        competency = _competency_of(kit_id, competency_id)
        Question.delete().where(Question.competency == competency).execute()
        competency.delete_instance()
        _touch(get_kit(kit_id))
        audit.record(actor, "kit.competency_remove", f"kit:{kit_id}", {"competency": competency_id})


def add_question(
    audit: AuditLog, actor: str, kit_id: int, competency_id: int, doc: QuestionDoc
) -> Question:
    with audit.db.atomic():
        competency = _competency_of(kit_id, competency_id)
        question = _insert_question(competency, doc)
        _touch(competency.kit)
        audit.record(actor, "kit.question_add", f"kit:{kit_id}", {"question": question.id})
    return question


def remove_question(audit: AuditLog, actor: str, kit_id: int, question_id: int) -> None:
    with audit.db.atomic():
        question = Question.get_or_none((Question.id == question_id) & (Question.kit == kit_id))
        if question is None:
            raise NotFound(f"kit {kit_id} has no question with id {question_id}")
        question.delete_instance()
        _touch(get_kit(kit_id))
        audit.record(actor, "kit.question_remove", f"kit:{kit_id}", {"question": question_id})


def kit_document(kit: Kit) -> KitDoc:
    """The kit with its competencies and their questions, in order."""
    return kit_documents([kit])[0]


def kit_documents(kits: list[Kit]) -> list[KitDoc]:
    """Each kit's document, from two queries a batch of kits however many competencies and
    questions they hold."""
    competencies: dict[int, list[Competency]] = {kit.id: [] for kit in kits}
    questions: dict[int, list[Question]] = {}
    ids = list(competencies)
    for start in range(0, len(ids), QUERY_BATCH):
        batch = ids[start : start + QUERY_BATCH]
        for competency in (
            Competency.select()
            .where(Competency.kit.in_(batch))
            .order_by(Competency.ordinal, Competency.id)
        ):
            competencies[competency.kit_id].append(competency)
        for question in (
            Question.select().where(Question.kit.in_(batch)).order_by(Question.ordinal, Question.id)
        ):
            questions.setdefault(question.competency_id, []).append(question)
    return [
        KitDoc(
            id=kit.id,
            name=kit.name,
            description=kit.description,
            position_id=kit.position_id,
            competencies=[
                CompetencyDoc(
                    id=c.id,
                    name=c.name,
                    description=c.description,
                    guide=[getattr(c, f"guide_{level}") for level in range(1, LEVELS + 1)],
                    questions=[
                        QuestionDoc(id=q.id, text=q.text, guidance=q.guidance)
                        for q in questions.get(c.id, [])
                    ],
                )
                for c in competencies[kit.id]
            ],
        )
        for kit in kits
    ]


def _insert_competency(kit: Kit, doc: CompetencyDoc) -> Competency:
    ordinal = Competency.select().where(Competency.kit == kit).count()
    competency = Competency.create(kit=kit, ordinal=ordinal, **_clean_competency(doc))
    for question in doc.questions:
        _insert_question(competency, question)
    return competency


def _insert_question(competency: Competency, doc: QuestionDoc) -> Question:
    ordinal = Question.select().where(Question.kit == competency.kit_id).count()
    return Question.create(
        kit=competency.kit_id, competency=competency, ordinal=ordinal, **_clean_question(doc)
    )


def _competency_of(kit_id: int, competency_id: int) -> Competency:
    competency = Competency.get_or_none(
        (Competency.id == competency_id) & (Competency.kit == kit_id)
    )
    if competency is None:
        raise NotFound(f"kit {kit_id} has no competency with id {competency_id}")
    return competency


def _touch(kit: Kit) -> None:
    Kit.update(updated_at=utcnow()).where(Kit.id == kit.id).execute()
