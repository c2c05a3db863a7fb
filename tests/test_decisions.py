"""The debrief of a candidate's rounds and the hiring decision: the panel's scores side by side
with their spread and a chart, the position's hiring manager (or an administrator) deciding
once the scorecards are in or explicitly without them, the candidate's status following, the
recruiter told, every decision and change audited."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, Candidate, Decision, OutboxMessage, Scorecard
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.retention import set_hold
from appliance.runtime import Runtime
from tests.conftest import make_user, post_form
from tests.support.scoring import Panel, signed_in_as, submit


@pytest.fixture
def panel(runtime: Runtime) -> Panel:
    return Panel(runtime)


def _decide(client: TestClient[Litestar], p: Panel, outcome: str, **extra: str) -> object:
    return post_form(
        client,
        f"/candidates/{p.candidate.id}/decision",
        {"position_id": str(p.position.id), "outcome": outcome, "reason": "Because", **extra},
    )


def test_the_hiring_manager_decides_and_the_candidate_moves_with_it(
    runtime: Runtime, client: TestClient[Litestar], panel: Panel
) -> None:
    signed_in_as(client, "recruiter@example.com")
    named = post_form(
        client, f"/positions/{panel.position.id}/manager", {"user_id": str(panel.hana.id)}
    )
    assert named.status_code == 303
    assert "hiring manager" in client.get(f"/positions/{panel.position.id}").text
    refused = _decide(client, panel, "advance")  # a recruiter does not decide
    assert refused.status_code == 403

    headers = signed_in_as(client, "ana@example.com")
    assert submit(client, panel, headers, panel.card(5, 2, "strong_yes", "ANA")).status_code == 201
    assert _decide(client, panel, "advance").status_code == 403  # a panel member does not

    signed_in_as(client, "hana@example.com")
    waiting = _decide(client, panel, "advance")
    assert waiting.status_code == 400 and "ben@example.com" in waiting.text
    assert Decision.select().count() == 0
    decided = _decide(client, panel, "advance", without_all_scorecards="yes")
    assert decided.status_code == 303
    decision = Decision.get()
    assert decision.without_all_scorecards and decision.decided_by_id == panel.hana.id
    assert Candidate.get_by_id(panel.candidate.id).status == "active"
    told = OutboxMessage.get(OutboxMessage.recipient == "recruiter@example.com")
    assert "Advance to the next round" in told.subject and "Sam Lee" in told.body

    headers = signed_in_as(client, "ben@example.com")  # after the decision: marked as such
    assert submit(client, panel, headers, panel.card(2, 2, "no", "BEN")).status_code == 201
    assert Scorecard.get(Scorecard.author == panel.ben).after_decision

    signed_in_as(client, "hana@example.com")
    page = client.get(f"/candidates/{panel.candidate.id}/debrief?position={panel.position.id}")
    assert page.status_code == 200
    assert "decided without all scorecards" in page.text and "after the decision" in page.text
    assert 'class="disagree"' in page.text  # System design: 5 and 2
    assert page.text.count("<svg") == 2 and "1 gave 5" in page.text
    assert "ANA" in page.text and "BEN" in page.text
    rejected = _decide(client, panel, "reject")
    assert rejected.status_code == 303
    candidate = Candidate.get_by_id(panel.candidate.id)
    assert candidate.status == "rejected" and candidate.decided_at is not None
    page = client.get(f"/candidates/{panel.candidate.id}/debrief?position={panel.position.id}")
    assert "Earlier decisions" in page.text

    audited = [
        (e.action, e.actor)
        for e in AuditEntry.select().order_by(AuditEntry.seq)
        if e.action.startswith("decision.")
    ]
    assert audited == [
        ("decision.record", "hana@example.com"),
        ("decision.change", "hana@example.com"),
    ]
    signed_in_as(client, "recruiter@example.com")
    listed = client.get(f"/candidates/{panel.candidate.id}").text
    assert "Reject" in listed and "Debrief" in listed


def test_an_administrator_decides_over_the_api(
    runtime: Runtime, client: TestClient[Litestar], panel: Panel
) -> None:
    make_user(runtime, "admin", "root@example.com")
    headers = signed_in_as(client, "root@example.com")
    url = f"/api/candidates/{panel.candidate.id}/decisions"
    body = {"outcome": "offer", "reason": "Strong", "position_id": panel.position.id}
    missing = client.post(url, json=body, headers=headers)
    assert missing.status_code == 422 and "not in yet" in missing.json()["detail"]
    for bad in ({**body, "outcome": "maybe"}, {**body, "reason": ""}, {**body, "position_id": 999}):
        response = client.post(url, json=bad | {"without_all_scorecards": True}, headers=headers)
        assert response.status_code in (400, 404), response.text
    made = client.post(url, json=body | {"without_all_scorecards": True}, headers=headers)
    assert made.status_code == 201 and made.json()["label"] == "Make an offer"
    assert Candidate.get_by_id(panel.candidate.id).status == "offered"
    listed = client.get(f"{url}?position={panel.position.id}", headers=headers).json()
    assert [d["outcome"] for d in listed] == ["offer"]


def test_no_decision_under_legal_hold_or_after_erasure(
    runtime: Runtime, client: TestClient[Litestar], panel: Panel
) -> None:
    make_user(runtime, "admin", "root@example.com")
    headers = signed_in_as(client, "root@example.com")
    url = f"/api/candidates/{panel.candidate.id}/decisions"
    body = {
        "outcome": "reject",
        "reason": "No",
        "position_id": panel.position.id,
        "without_all_scorecards": True,
    }
    set_hold(runtime.audit, "test", panel.candidate.id, "case 12")
    held = client.post(url, json=body, headers=headers)
    assert held.status_code == 422 and "legal hold" in held.json()["detail"]
    Candidate.update(legal_hold=False).execute()
    assert client.post(url, json=body, headers=headers).status_code == 201
    erase_candidate(runtime, "test", panel.candidate.id, "asked")
    assert Decision.get().reason == ""  # the reason may name them; the outcome stays
    gone = client.post(url, json=body, headers=headers)
    assert gone.status_code == 410 and "erased" in gone.json()["detail"]
    assert Decision.select().count() == 1
    assert OutboxMessage.select().count() == 0  # the unsent notice named them


def test_an_interviewer_off_the_position_sees_no_debrief(
    runtime: Runtime, client: TestClient[Litestar], panel: Panel
) -> None:
    make_user(runtime, "interviewer", "ivo@example.com")
    signed_in_as(client, "ivo@example.com")
    assert client.get(f"/candidates/{panel.candidate.id}/debrief").status_code == 404
    api = client.get(f"/api/candidates/{panel.candidate.id}/decisions")
    assert api.status_code == 404
    assert not AuditEntry.select().where(AuditEntry.action == "debrief.view").exists()
