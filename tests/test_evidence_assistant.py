"""The evidence assistant on a recorded interview: made only with the candidate's consent to AI
assistance, sealed, audited with the model's and the inputs' hashes, shown to a scorer only after
their own scorecard, and deleted when the candidate withdraws consent."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.asr_onnx.transcript import Segment, Transcript
from appliance.core.config import AsrConfig, Config
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Competency,
    Consent,
    EvidenceFeature,
    InterviewParticipant,
    Kit,
    Question,
    Recording,
    RecordingBlob,
    Scorecard,
    User,
)
from appliance.evidence import assistant
from appliance.evidence.embedder import Embedder
from appliance.interview import consent
from appliance.recordings import transcription
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from appliance.worker import TranscriptionRunner
from tests.conftest import csrf_token, make_user, sign_in
from tests.support.recordings import two_person_recording
from tests.support.speech import link_models
from tests.test_evidence_ranking import CANDIDATE, KIT, LINES, PANEL

MODEL = {"name": "test", "sha256": "0" * 64}


@pytest.fixture
def config(config: Config) -> Config:
    """The box asks candidates about AI assistance."""
    return dataclasses.replace(
        config, interviews=dataclasses.replace(config.interviews, ai_assistance=True)
    )


@pytest.fixture
def interview_with_kit(runtime: Runtime, tmp_path: Path) -> Recording:
    """A recorded interview of Alex by Una with a two-competency kit and a transcript of the
    dialogue in tests/test_evidence_ranking.py (spoken as Una and Alex)."""
    recording, _ = two_person_recording(runtime, tmp_path)
    interview = recording.interview
    una = User.get(User.email == "una@example.com")
    InterviewParticipant.create(interview=interview, user=una)
    kit = Kit.create(name="Analyst kit")
    for c in KIT:
        competency = Competency.create(
            id=c.id, kit=kit, name=c.name, description=c.description,
            **{f"guide_{n}": text for n, text in enumerate(c.guide, start=1)},
        )  # fmt: skip
        for q in c.questions:
            Question.create(id=q.id, kit=kit, competency=competency, text=q.text)
    interview.kit = kit
    interview.save()
    names = {PANEL: "Una Park", CANDIDATE: "Alex"}
    transcript = Transcript(
        "en",
        90.0,
        [
            Segment(i * 10.0, i * 10.0 + 9.0, text, speaker=names[who])
            for i, (who, text) in enumerate(LINES)
        ],
    )
    transcription.store_transcript(runtime, recording, transcript)
    job = transcription.queue_transcription(recording)
    job.status = "done"
    job.save()
    return recording


def agree(recording: Recording, ai: bool) -> None:
    Consent.create(interview=recording.interview, kind=consent.RECORDING, granted=True,
                   text_shown="recorded")  # fmt: skip
    Consent.create(interview=recording.interview, kind=consent.AI_ASSISTANCE, granted=ai,
                   text_shown="AI assistance?")  # fmt: skip


def evidence_blobs(recording: Recording) -> int:
    return (
        RecordingBlob.select()
        .where(
            (RecordingBlob.recording == recording) & (RecordingBlob.kind == assistant.EVIDENCE_KIND)
        )
        .count()
    )


def audited(action: str) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.seq))


def test_no_consent_means_no_evidence(
    runtime: Runtime, interview_with_kit: Recording, embedder: Embedder
) -> None:
    agree(interview_with_kit, ai=False)
    assert assistant.run(runtime, interview_with_kit, embedder, MODEL) is None
    assert evidence_blobs(interview_with_kit) == 0
    panel = assistant.for_review(runtime, "r", interview_with_kit, may_read_others=True)
    assert panel.state == "off" and "did not agree" in panel.message


def test_evidence_is_sealed_audited_and_replaced_not_duplicated(
    runtime: Runtime, interview_with_kit: Recording, embedder: Embedder
) -> None:
    agree(interview_with_kit, ai=True)
    made = assistant.run(runtime, interview_with_kit, embedder, MODEL)
    assert made is not None
    assistant.run(runtime, interview_with_kit, embedder, MODEL)
    assert evidence_blobs(interview_with_kit) == 1
    features = {
        f.competency_id: f
        for f in EvidenceFeature.select().where(EvidenceFeature.recording == interview_with_kit)
    }  # the figures the suggestion learns from: one row per competency, replaced, not added
    assert set(features) == {1, 2}
    assert features[2].best_score == made.competencies[1].best_score
    assert features[2].relevant_turns == made.competencies[1].relevant_turns
    (blob,) = RecordingBlob.select().where(RecordingBlob.kind == assistant.EVIDENCE_KIND)
    stored_bytes = (runtime.config.blob_dir).rglob(blob.object_id)
    assert all(b"churn" not in p.read_bytes() for p in stored_bytes)  # sealed, not plaintext
    runs = audited("evidence.create")
    assert len(runs) == 2
    details = json.loads(runs[-1].details)
    assert details["model_sha256"] == MODEL["sha256"]
    assert set(details["inputs_sha256"]) == {"transcript", "kit", "asked"}

    panel = assistant.for_review(runtime, "reader", interview_with_kit, may_read_others=True)
    assert panel.state == "shown" and panel.evidence is not None
    conflict, data = panel.evidence.competencies
    assert "ship without tests" in conflict.quotes[0].quote
    assert "churn figures" in data.quotes[0].quote
    assert [e.actor for e in audited("recording.open")][-1] == "reader"
    hidden = assistant.for_review(runtime, "scorer", interview_with_kit, may_read_others=False)
    assert hidden.state == "hidden" and hidden.evidence is None


def test_the_review_page_shows_it_to_a_recruiter_and_a_scorer_only_after_submitting(
    runtime: Runtime,
    client: TestClient[Litestar],
    interview_with_kit: Recording,
    embedder: Embedder,
) -> None:
    agree(interview_with_kit, ai=True)
    assistant.run(runtime, interview_with_kit, embedder, MODEL)
    url = f"/interviews/{interview_with_kit.interview_id}/review"
    assert sign_in(client, "una@example.com") == 303
    page = client.get(url).text
    assert "Evidence per competency" in page and "churn figures" not in page
    Scorecard.create(
        interview=interview_with_kit.interview,
        author=User.get(User.email == "una@example.com"),
        submitted_at=utcnow(),
    )
    page = client.get(url).text
    assert "churn figures" in page and "<h3>Data analysis</h3>" in page
    assert "No suggested levels: not enough calibrated data: 0 scored interviews" in page
    assert 'class="at" data-start="60.0">1:00</a>' in page  # seeks the review to the quote

    client.cookies.clear()
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    assert "churn figures" in client.get(url).text
    # At the decision: the debrief lists each competency's first quote, linked to its moment.
    debrief = client.get(f"/candidates/{interview_with_kit.interview.candidate_id}/debrief").text
    assert "AI evidence per competency" in debrief
    assert f'href="/interviews/{interview_with_kit.interview_id}/review#t=60.0">1:00</a>' in debrief


def test_withdrawing_consent_deletes_the_evidence_and_says_so(
    runtime: Runtime,
    client: TestClient[Litestar],
    interview_with_kit: Recording,
    embedder: Embedder,
) -> None:
    agree(interview_with_kit, ai=True)
    assistant.run(runtime, interview_with_kit, embedder, MODEL)
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    interview_url = f"/interviews/{interview_with_kit.interview_id}"
    assert "Consent to AI assistance</dt><dd>given" in client.get(interview_url).text
    response = client.post(
        f"{interview_url}/ai-consent/withdraw",
        data={"_csrf_token": csrf_token(client, interview_url)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "The evidence drawn from this interview was deleted" in response.text
    assert evidence_blobs(interview_with_kit) == 0
    assert (
        not EvidenceFeature.select().where(EvidenceFeature.recording == interview_with_kit).exists()
    )
    assert [e.actor for e in audited("evidence.delete")] == ["recruiter@example.com"]
    assert [e.actor for e in audited("consent.withdraw")] == ["recruiter@example.com"]
    page = client.get(f"{interview_url}/review").text
    assert "The candidate did not agree to AI assistance." in page
    assert assistant.run(runtime, interview_with_kit, embedder, MODEL) is None
    again = client.post(
        f"{interview_url}/ai-consent/withdraw",
        data={"_csrf_token": csrf_token(client, interview_url)},
    )
    assert again.status_code == 409


def test_the_worker_draws_evidence_after_transcribing_a_consented_interview(
    runtime: Runtime, tmp_path: Path, speech_models: Path, embedder: Embedder
) -> None:
    link_models(runtime.config.data_dir, speech_models)
    runtime.config.asr = AsrConfig(device="cpu", threads=2)
    consented, _ = two_person_recording(runtime, tmp_path)
    kit = Kit.create(name="Kit")
    competency = Competency.create(kit=kit, name="Planning", description="Plans budgets.")
    Question.create(kit=kit, competency=competency, text="Tell me about a project you led.")
    consented.interview.kit = kit
    consented.interview.save()
    agree(consented, ai=True)
    transcription.queue_transcription(consented)
    runner = TranscriptionRunner(runtime)
    assert runner.run_one()
    assert evidence_blobs(consented) == 1
    (run,) = audited("evidence.create")
    assert json.loads(run.details)["model_sha256"] == embedder.model.sha256
    panel = assistant.for_review(runtime, "r", consented, may_read_others=True)
    assert panel.evidence is not None
    (planning,) = panel.evidence.competencies
    assert planning.quotes and "budget" in planning.quotes[0].quote.lower()


def test_erasing_the_candidate_takes_the_evidence_and_its_figures(
    runtime: Runtime, interview_with_kit: Recording, embedder: Embedder
) -> None:
    agree(interview_with_kit, ai=True)
    assistant.run(runtime, interview_with_kit, embedder, MODEL)
    erase_candidate(
        runtime, "compliance@example.com", interview_with_kit.interview.candidate_id, "request"
    )
    assert evidence_blobs(interview_with_kit) == 0
    assert not EvidenceFeature.select().exists()


def test_a_model_that_passed_writes_a_summary_per_competency(
    runtime: Runtime,
    client: TestClient[Litestar],
    interview_with_kit: Recording,
    embedder: Embedder,
) -> None:
    agree(interview_with_kit, ai=True)
    prompts = []

    def first_quote(prompt: str) -> str:
        prompts.append(prompt)
        return "They described: " + prompt.split("\n- ", 1)[1].split("\n", 1)[0]

    writer = assistant.Writer("extractive", "1" * 64, first_quote)
    made = assistant.run(runtime, interview_with_kit, embedder, MODEL, writer)
    assert made is not None and made.summary_model == "extractive"
    _, data = made.competencies
    assert data.summary.startswith("They described: I pulled a year of churn figures")
    assert '"Data analysis" (Uses data and queries to answer business questions.)' in prompts[1]
    details = json.loads(audited("evidence.create")[-1].details)
    assert (details["summary_model"], details["summary_model_sha256"]) == ("extractive", "1" * 64)
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    page = client.get(f"/interviews/{interview_with_kit.interview_id}/review").text
    assert "They described: I pulled a year of churn figures" in page
    assert "summary written by extractive" in page
