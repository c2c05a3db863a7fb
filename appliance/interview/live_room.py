"""The live interview: the candidate's lobby and admission, the panel's way into the room, ending
it, and each interviewer's scorecard as they fill it in during the call.

Plain functions over the models; the routes in web/routes/room.py and the candidate's pages
are thin. The tokens that let people into the room are minted in interview/join.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core.config import Config
from appliance.core.errors import ApplianceError, Invalid
from appliance.db.database import utcnow
from appliance.db.models import (
    Competency,
    CompetencyScore,
    Interview,
    Question,
    QuestionAsked,
    Scorecard,
    User,
)
from appliance.hiring import scheduling
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc, stored
from appliance.integrations import webhook_events
from appliance.interview import consent, window
from appliance.storage.audit import AuditLog

MAX_NOTES = 20000


def _now(now: dt.datetime | None) -> dt.datetime:
    return as_utc(now or utcnow())


def is_admitted(config: Config, interview: Interview, now: dt.datetime | None = None) -> bool:
    if interview.admitted_at is not None:
        return True
    return config.interviews.admit == "at-start" and _now(now) >= as_utc(interview.starts_at)


def candidate_state(config: Config, interview: Interview, now: dt.datetime | None = None) -> str:
    """ended, closed (outside the join window), admitted, waiting (in the lobby) or ready."""
    if window.is_ended(interview):
        return "ended"
    if not window.is_open(config, interview, now):
        return "closed"
    if is_admitted(config, interview, now):
        return "admitted"
    return "waiting" if interview.lobby_since is not None else "ready"


def enter_lobby(
    audit: AuditLog, config: Config, interview: Interview, now: dt.datetime | None = None
) -> str:
    """The candidate has checked their devices and waits to be let in; returns their state.
    Refused before they answered the recording notice."""
    if not consent.answered(interview):
        raise ApplianceError("please answer the recording notice first")
    state = candidate_state(config, interview, now)
    if state == "ready":
        interview.lobby_since = stored(_now(now))
        interview.save()
        audit.record("candidate", "lobby.enter", f"interview:{interview.id}")
        state = "waiting"
    return state


def admit(
    audit: AuditLog,
    user: User,
    interview: Interview,
    config: Config,
    now: dt.datetime | None = None,
) -> None:
    """A panel member lets the candidate in."""
    require_panel(user, interview)
    if window.is_ended(interview) or not window.is_open(config, interview, now):
        raise ApplianceError("the interview room is not open now")
    if interview.admitted_at is None:
        interview.admitted_at = stored(_now(now))
        interview.save()
        audit.record(user.email, "lobby.admit", f"interview:{interview.id}")


def require_panel(user: User, interview: Interview) -> None:
    if user.id not in {u.id for u in scheduling.interviewers(interview)}:
        raise ApplianceError("only the interview's panel can do that")


def end(audit: AuditLog, user: User, interview: Interview, now: dt.datetime | None = None) -> None:
    """ "End interview": the room closes for everyone and the candidate's link stops working."""
    require_panel(user, interview)
    if window.is_ended(interview):
        return
    interview.ended_at = stored(_now(now))
    with audit.db.atomic():
        interview.status = "completed"
        interview.save()
        audit.record(user.email, "interview.end", f"interview:{interview.id}")
        webhook_events.emit("interview.completed", webhook_events.interview_data(interview))


@dataclass(frozen=True)
class RoomSummary:
    interview_id: int
    starts_at: dt.datetime
    candidate: str
    state: str  # as candidate_state: ready, waiting, admitted, closed, ended
    opens_at: dt.datetime  # UTC: when the room's join window opens


def rooms_today(
    config: Config, user: User, now: dt.datetime | None = None, hours: int = 24
) -> list[RoomSummary]:
    """The user's interviews from now to `hours` ahead (and any still running), soonest first,
    with where each candidate stands and when each room opens: what a panel member's home page
    shows."""
    current = _now(now)
    interviews = (
        scheduling.upcoming_for(user, current)
        .where(
            (Interview.status == "scheduled")
            & (Interview.ends_at > stored(current))
            & (Interview.starts_at < stored(current + dt.timedelta(hours=hours)))
        )
        .limit(20)
    )
    return [
        RoomSummary(
            i.id,
            as_utc(i.starts_at),
            display_name(i.candidate),
            candidate_state(config, i, current),
            window.join_window(config, i)[0],
        )
        for i in interviews
    ]


# --- the kit and the interviewer's scorecard ---------------------------------------------------


@dataclass(frozen=True)
class KitQuestion:
    id: int
    text: str
    guidance: str
    competency_id: int
    competency: str


@dataclass(frozen=True)
class KitCompetency:
    id: int
    name: str
    description: str
    guides: tuple[str, str, str, str, str]  # what a score of 1..5 means


@dataclass(frozen=True)
class KitView:
    competencies: list[KitCompetency]
    questions: list[KitQuestion]


def kit_view(interview: Interview) -> KitView:
    """The interview's kit, questions in order, each with its competency and scoring guide."""
    if interview.kit_id is None:
        return KitView([], [])
    competencies = list(
        Competency.select()
        .where(Competency.kit == interview.kit_id)
        .order_by(Competency.ordinal, Competency.id)
    )
    names = {c.id: c.name for c in competencies}
    questions = (
        Question.select()
        .where(Question.kit == interview.kit_id)
        .order_by(Question.ordinal, Question.id)
    )
    return KitView(
        [
            KitCompetency(
                c.id,
                c.name,
                c.description,
                (c.guide_1, c.guide_2, c.guide_3, c.guide_4, c.guide_5),
            )
            for c in competencies
        ],
        [
            KitQuestion(q.id, q.text, q.guidance, q.competency_id, names[q.competency_id])
            for q in questions
        ],
    )


@dataclass(frozen=True)
class Draft:
    scores: dict[int, int]  # competency id -> 1..5
    notes: str
    asked: list[int]  # question ids
    updated_at: dt.datetime | None


def scorecard_of(interview: Interview, user: User) -> Scorecard:
    require_panel(user, interview)
    existing: Scorecard | None = Scorecard.get_or_none(
        (Scorecard.interview == interview) & (Scorecard.author == user)
    )
    if existing is not None:
        return existing
    created: Scorecard = Scorecard.create(interview=interview, author=user)
    return created


def draft_of(scorecard: Scorecard) -> Draft:
    scores = {
        s.competency_id: s.score
        for s in CompetencyScore.select().where(CompetencyScore.scorecard == scorecard)
        if s.score is not None  # "not assessed", set after the call, shows as unscored
    }
    asked = [
        a.question_id
        for a in QuestionAsked.select()
        .where(QuestionAsked.scorecard == scorecard)
        .order_by(QuestionAsked.id)
    ]
    return Draft(scores, scorecard.notes, asked, scorecard.updated_at)


def save_draft(
    interview: Interview,
    user: User,
    scores: dict[int, int | None],
    notes: str,
    asked: list[int],
) -> Draft:
    """Save what the interviewer has so far (the room autosaves as they go).

    `scores` holds 1..5 per competency of the kit, or None to clear one; `asked` is every
    question marked asked. Refused after the scorecard was submitted."""
    scorecard = scorecard_of(interview, user)
    if scorecard.submitted_at is not None:
        raise ApplianceError("this scorecard was submitted; it can no longer change")
    if len(notes) > MAX_NOTES:
        raise Invalid(f"notes are limited to {MAX_NOTES} characters")
    kit = kit_view(interview)
    competencies = {c.id for c in kit.competencies}
    questions = {q.id for q in kit.questions}
    if not set(scores) <= competencies:
        raise ApplianceError("a score names a competency that is not in this interview's kit")
    if not set(asked) <= questions:
        raise ApplianceError("a question marked asked is not in this interview's kit")
    for score in scores.values():
        if score is not None and score not in (1, 2, 3, 4, 5):
            raise Invalid("scores are whole numbers from 1 to 5")
    with Scorecard._meta.database.atomic():
        for competency_id, score in scores.items():
            if score is None:
                CompetencyScore.delete().where(
                    (CompetencyScore.scorecard == scorecard)
                    & (CompetencyScore.competency == competency_id)
                ).execute()
            else:
                CompetencyScore.insert(
                    scorecard=scorecard, competency=competency_id, score=score
                ).on_conflict(
                    conflict_target=[CompetencyScore.scorecard, CompetencyScore.competency],
                    update={CompetencyScore.score: score},
                ).execute()
        QuestionAsked.delete().where(
            (QuestionAsked.scorecard == scorecard) & QuestionAsked.question.not_in(asked)
        ).execute()
        already = {
            a.question_id
            for a in QuestionAsked.select().where(QuestionAsked.scorecard == scorecard)
        }
        for question_id in asked:
            if question_id not in already:
                QuestionAsked.create(scorecard=scorecard, question=question_id)
                already.add(question_id)
        scorecard.notes = notes
        scorecard.updated_at = utcnow()
        scorecard.save()
    return draft_of(scorecard)
