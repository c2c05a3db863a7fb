"""The live interview's rules: lobby and admission, who gets into the room with what token,
ending it, and the interviewer's autosaved scorecard."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from appliance.contracts.join_token import verify
from appliance.core.config import Config, InterviewsConfig
from appliance.core.errors import ApplianceError
from appliance.db.models import (
    AuditEntry,
    Competency,
    CompetencyScore,
    Interview,
    InterviewParticipant,
    Kit,
    Question,
    User,
)
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.interview import consent, join, live_room
from appliance.runtime import Runtime
from tests.conftest import make_user

START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class Setup:
    interview: Interview
    ivy: User
    outsider: User
    kit: Kit
    competencies: list[Competency]
    questions: list[Question]


@pytest.fixture
def setup(runtime: Runtime) -> Setup:
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    outsider = make_user(runtime, "interviewer", "otto@example.com")
    kit = Kit.create(name="Backend")
    competencies = [
        Competency.create(kit=kit, name=name, ordinal=i, guide_1="weak", guide_5="strong")
        for i, name in enumerate(["Design", "Debugging"])
    ]
    questions = [
        Question.create(kit=kit, competency=competencies[i % 2], text=f"Q{i}", ordinal=i)
        for i in range(3)
    ]
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    interview = Interview.create(
        candidate=candidate,
        kit=kit,
        starts_at=START.replace(tzinfo=None),
        ends_at=(START + dt.timedelta(hours=1)).replace(tzinfo=None),
    )
    InterviewParticipant.create(interview=interview, user=ivy)
    return Setup(interview, ivy, outsider, kit, competencies, questions)


def _consent(runtime: Runtime, interview: Interview, recording: bool) -> None:
    notice = consent.notice_for(runtime.config, interview)
    consent.record(runtime.audit, interview, notice, recording, None)


def _at(minutes: int) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


def _with_admit(config: Config, mode: str) -> Config:
    return dataclasses.replace(config, interviews=InterviewsConfig(admit=mode))


def test_the_candidate_waits_in_the_lobby_until_the_panel_admits_them(
    runtime: Runtime, setup: Setup
) -> None:
    config, interview = runtime.config, setup.interview
    _consent(runtime, interview, True)
    assert live_room.candidate_state(config, interview, _at(-30)) == "closed"
    assert live_room.candidate_state(config, interview, _at(61)) == "closed"  # the slot is over
    assert live_room.candidate_state(config, interview, _at(-5)) == "ready"
    with pytest.raises(join.NotInLobby) as refused:
        join.candidate_token(config, runtime.keys.signing_key, interview, _at(-5))
    assert refused.value.state == "ready"
    assert live_room.enter_lobby(runtime.audit, config, interview, _at(-5)) == "waiting"
    with pytest.raises(join.NotInLobby, match="let you in"):
        join.candidate_token(config, runtime.keys.signing_key, interview, _at(-4))
    with pytest.raises(ApplianceError, match="panel"):
        live_room.admit(runtime.audit, setup.outsider, interview, config, _at(-4))
    live_room.admit(runtime.audit, setup.ivy, interview, config, _at(-3))
    token, recorded = join.candidate_token(config, runtime.keys.signing_key, interview, _at(-3))
    claims = verify(runtime.keys.public_key, token, now=_at(-3).timestamp())
    assert recorded and claims.record and claims.role == "candidate"
    assert not claims.permissions.end_room
    actions = [
        e.action
        for e in AuditEntry.select().where(AuditEntry.subject == f"interview:{interview.id}")
    ]
    assert "lobby.enter" in actions and "lobby.admit" in actions


def test_at_start_admission_lets_the_candidate_in_from_the_start_time(
    runtime: Runtime, setup: Setup
) -> None:
    config = _with_admit(runtime.config, "at-start")
    interview = setup.interview
    _consent(runtime, interview, True)
    live_room.enter_lobby(runtime.audit, config, interview, _at(-5))
    assert live_room.candidate_state(config, interview, _at(-1)) == "waiting"
    assert live_room.candidate_state(config, interview, _at(0)) == "admitted"


def test_a_panel_token_never_starts_the_recording(runtime: Runtime, setup: Setup) -> None:
    config, key, interview = runtime.config, runtime.keys.signing_key, setup.interview
    early = verify(
        runtime.keys.public_key,
        join.panel_token(config, key, interview, setup.ivy, _at(-10)),
        now=_at(-10).timestamp(),
    )
    assert (
        not early.record and early.permissions.end_room and early.name == "ivy@example.com"
    )  # no display name: the e-mail
    assert early.room == join.room_name(interview) and early.interview_id == interview.id
    _consent(runtime, interview, False)
    assert not verify(
        runtime.keys.public_key,
        join.panel_token(config, key, interview, setup.ivy, _at(1)),
        now=_at(1).timestamp(),
    ).record
    _consent(runtime, interview, True)
    assert not verify(
        runtime.keys.public_key,
        join.panel_token(config, key, interview, setup.ivy, _at(2)),
        now=_at(2).timestamp(),
    ).record
    with pytest.raises(ApplianceError, match="panel"):
        join.panel_token(config, key, interview, setup.outsider, _at(2))
    with pytest.raises(ApplianceError, match="not open"):
        join.panel_token(config, key, interview, setup.ivy, _at(90))


def test_ending_the_interview_closes_the_room_to_everyone(runtime: Runtime, setup: Setup) -> None:
    config, key, interview = runtime.config, runtime.keys.signing_key, setup.interview
    _consent(runtime, interview, True)
    live_room.admit(runtime.audit, setup.ivy, interview, config, _at(0))
    with pytest.raises(ApplianceError, match="panel"):
        live_room.end(runtime.audit, setup.outsider, interview, _at(20))
    live_room.end(runtime.audit, setup.ivy, interview, _at(20))
    interview = Interview.get_by_id(interview.id)
    assert interview.status == "completed" and interview.ended_at is not None
    assert live_room.candidate_state(config, interview, _at(21)) == "ended"
    with pytest.raises(join.NotInLobby, match="ended"):
        join.candidate_token(config, key, interview, _at(21))
    with pytest.raises(ApplianceError, match="ended"):
        join.panel_token(config, key, interview, setup.ivy, _at(21))


def test_the_scorecard_autosaves_scores_notes_and_asked_questions(
    runtime: Runtime, setup: Setup
) -> None:
    design, debugging = setup.competencies
    interview, ivy = setup.interview, setup.ivy
    first = live_room.save_draft(
        interview, ivy, {design.id: 4}, "good on trade-offs", [setup.questions[0].id]
    )
    assert first.scores == {design.id: 4} and first.asked == [setup.questions[0].id]
    second = live_room.save_draft(
        interview,
        ivy,
        {design.id: None, debugging.id: 2},
        "good on trade-offs; slow to bisect",
        [setup.questions[2].id, setup.questions[1].id],
    )
    assert second.scores == {debugging.id: 2}
    assert second.asked == [setup.questions[2].id, setup.questions[1].id]
    reloaded = live_room.draft_of(live_room.scorecard_of(interview, ivy))
    assert reloaded.notes == "good on trade-offs; slow to bisect" and reloaded.updated_at
    assert CompetencyScore.select().count() == 1


@pytest.mark.parametrize(
    ("scores", "asked", "message"),
    [
        ({999: 3}, [], "competency"),
        ({}, [999], "question"),
        ("design", [], "1 to 5"),
    ],
)
def test_a_bad_scorecard_is_refused_and_changes_nothing(
    runtime: Runtime, setup: Setup, scores: object, asked: list[int], message: str
) -> None:
    design = setup.competencies[0]
    live_room.save_draft(setup.interview, setup.ivy, {design.id: 3}, "kept", [])
    bad = {design.id: 9} if scores == "design" else scores
    with pytest.raises(ApplianceError, match=message):
        live_room.save_draft(setup.interview, setup.ivy, bad, "lost?", asked)  # type: ignore[arg-type]
    draft = live_room.draft_of(live_room.scorecard_of(setup.interview, setup.ivy))
    assert draft.scores == {design.id: 3} and draft.notes == "kept"
    with pytest.raises(ApplianceError, match="panel"):
        live_room.save_draft(setup.interview, setup.outsider, {}, "", [])
