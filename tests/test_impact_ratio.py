"""Voluntary self-identification on the booking page (sealed, never shown to scorers, erased with
the candidate) and the impact-ratio report over decisions made with the AI assistant on."""

from __future__ import annotations

import dataclasses
import json

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.core.config import Config
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Candidate,
    Competency,
    Decision,
    EvidenceFeature,
    Interview,
    Kit,
    Recording,
    SelfIdentification,
)
from appliance.evidence import impact_ratio, self_identification
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from tests.conftest import make_user, post_form, sign_in
from tests.test_web_scheduling import _booked_ahead


@pytest.fixture
def config(config: Config) -> Config:
    """The box uses AI assistance, so candidates are offered self-identification."""
    return dataclasses.replace(
        config, interviews=dataclasses.replace(config.interviews, ai_assistance=True)
    )


def test_the_booked_page_offers_it_and_keeps_the_answers_sealed(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    link, interview = _booked_ahead(runtime)
    page = client.get(link).text
    assert "Voluntary self-identification (optional)" in page
    assert '<option value="declined">I prefer not to say</option>' in page
    refused = post_form(client, f"{link}/self-identification", {"sex": "robot"})
    assert refused.status_code == 400 and "choose one of the answers offered" in refused.text
    assert not SelfIdentification.select().exists()

    saved = post_form(
        client, f"{link}/self-identification", {"sex": "female", "race_ethnicity": "asian"}
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"]).text
    assert "never shown to the people who assess you" in page
    assert "Voluntary self-identification (optional)" not in page
    (row,) = SelfIdentification.select()
    assert b"female" not in bytes(row.sealed) and b"asian" not in bytes(row.sealed)
    recorded = AuditEntry.get(AuditEntry.action == "self_identification.record")
    assert "female" not in recorded.details and "asian" not in recorded.details
    opened = self_identification.open_for(runtime, "cleo@example.com", [interview.candidate_id])
    assert opened == {interview.candidate_id: {"sex": "female", "race_ethnicity": "asian"}}

    erase_candidate(runtime, "cleo@example.com", interview.candidate_id, "request")
    assert not SelfIdentification.select().exists()
    assert self_identification.open_for(runtime, "cleo@example.com", [interview.candidate_id]) == {}


def _decided(runtime: Runtime, n: int, outcome: str, answers: dict[str, str] | None,
             assisted: bool = True) -> None:  # fmt: skip
    kit = Kit.get_or_none(Kit.name == "K") or Kit.create(name="K")
    competency = Competency.get_or_none(Competency.kit == kit) or Competency.create(
        kit=kit, name="C"
    )
    for _ in range(n):
        count = Candidate.select().count()
        candidate = Candidate.create(name=f"C{count}", email=f"c{count}@example.com")
        interview = Interview.create(candidate=candidate, starts_at=utcnow(), ends_at=utcnow())
        recording = Recording.create(interview=interview, key_id="00" * 16)
        if assisted:
            EvidenceFeature.create(recording=recording, competency=competency, best_score=0.5,
                                   relevant_turns=2, relevant_share=0.2)  # fmt: skip
        Decision.create(candidate=candidate, outcome=outcome, reason="r")
        if answers is not None:
            self_identification.record(runtime, candidate, answers)


def test_the_report_compares_selection_rates_and_flags_small_groups(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    women = {"sex": "female", "race_ethnicity": "white"}
    men = {"sex": "male", "race_ethnicity": "white"}
    _decided(runtime, 6, "advance", women)
    _decided(runtime, 4, "reject", women)  # women: 6 of 10 selected
    _decided(runtime, 3, "offer", men)
    _decided(runtime, 6, "reject", men)  # men: 3 of 9
    _decided(runtime, 2, "advance", {"sex": "female", "race_ethnicity": "asian"})
    _decided(runtime, 2, "reject", None)  # never answered: counted apart
    _decided(runtime, 3, "hold", women)  # not decided either way: left out
    _decided(runtime, 5, "reject", men, assisted=False)  # decided without the assistant

    report = impact_ratio.report(runtime, "cleo@example.com")
    assert report.counted == 10 + 9 + 2 + 2
    sex = {c.name: c for c in report.tables[0].categories}
    assert (sex["Female"].candidates, sex["Female"].selected) == (12, 8)
    assert (sex["Male"].candidates, sex["Male"].selected) == (9, 3)
    assert sex["Female"].impact_ratio == pytest.approx(1.0)
    assert sex["Male"].impact_ratio == pytest.approx((3 / 9) / (8 / 12))
    assert report.tables[0].declined == 2
    race = {c.name: c for c in report.tables[1].categories}
    assert race["Asian"].small and race["Asian"].impact_ratio is None
    assert race["White"].rate == pytest.approx(9 / 19)
    opened = AuditEntry.get(AuditEntry.action == "self_identification.open")
    assert (
        opened.actor == "cleo@example.com" and json.loads(opened.details)["count"] == 21
    )  # only those counted

    make_user(runtime, "compliance", "cleo@example.com")
    assert sign_in(client, "cleo@example.com") == 303
    page = client.get("/compliance/impact-ratio").text
    assert "<caption>Sex</caption>" in page and "0.50 <strong>under 0.8</strong>" in page
    assert "too few to compare (under 5)" in page
