"""The evidence assistant on a recorded interview: run after transcription, only where the
candidate agreed to AI assistance; its result sealed with the recording's key; every run,
every opening and every deletion audited.

An audit entry of a run names the model and its SHA-256 and the SHA-256 of each input (the
transcript, the kit, the question ticks), so anyone can later tell exactly what produced the
evidence a hiring team saw.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from appliance.core.errors import ApplianceError
from appliance.db.models import EvidenceFeature, Interview, Recording, RecordingBlob
from appliance.evidence import embedding_model, language_model, suggestion, summary_evaluation
from appliance.evidence.embedder import Embedder
from appliance.evidence.ranking import (
    Asked,
    CompetencyEvidence,
    Evidence,
    KitCompetency,
    KitQuestion,
    Quote,
    TextEmbedder,
    Utterance,
    rank,
)
from appliance.hiring.kits import kit_document
from appliance.interview import consent
from appliance.recordings.review import asked_questions, latest_recording
from appliance.recordings.store import BlobSpec, delete_blobs, open_blob, seal_blob
from appliance.recordings.transcription import load_transcript, speaker_names, track_blobs
from appliance.runtime import Runtime

logger = logging.getLogger(__name__)

ACTOR = "assistant"
EVIDENCE_KIND = "evidence"


def allowed(runtime: Runtime, interview: Interview) -> bool:
    """AI assistance is on for the box and the candidate said yes to it (and has not since
    withdrawn)."""
    if not runtime.config.interviews.ai_assistance:
        return False
    return consent.choices(interview).get(consent.AI_ASSISTANCE) is True


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _kit(interview: Interview) -> list[KitCompetency]:
    if interview.kit is None:
        return []
    document = kit_document(interview.kit)
    return [
        KitCompetency(
            int(c.id or 0), c.name, c.description, list(c.guide),
            [KitQuestion(int(q.id or 0), q.text) for q in c.questions],
        )
        for c in document.competencies
    ]  # fmt: skip


def _evidence_blobs(recording: Recording) -> list[RecordingBlob]:
    return list(
        RecordingBlob.select().where(
            (RecordingBlob.recording == recording) & (RecordingBlob.kind == EVIDENCE_KIND)
        )
    )


def run(
    runtime: Runtime,
    recording: Recording,
    embedder: TextEmbedder,
    model: dict[str, str],
    writer: Writer | None = None,
) -> Evidence | None:
    """Evidence for the recording's transcript, stored sealed in place of any earlier; None
    (and nothing stored) where AI assistance is not allowed or there is no kit. `model` names
    the embedding model ("name", "sha256") for the audit log; `writer`, where an imported
    language model passed its evaluation, writes a summary per competency."""
    interview = recording.interview
    if not allowed(runtime, interview):
        return None
    kit = _kit(interview)
    if not kit:
        return None
    transcript = load_transcript(runtime, ACTOR, recording.id)
    identities = [b.participant_identity for b in track_blobs(recording)]
    candidate = speaker_names(recording, identities).get("candidate", "candidate")
    asked = [
        Asked(q.question_id, q.at) for q in asked_questions(recording) if q.question_id is not None
    ]
    utterances = [Utterance(s.start, s.end, s.speaker or "", s.text) for s in transcript.segments]
    found = rank(embedder, kit, utterances, candidate, asked=asked, language=transcript.language)
    if writer is not None:
        found = _summarised(found, kit, writer)
    body = json.dumps({"model": model, "evidence": asdict(found)}, ensure_ascii=False)
    spec = BlobSpec("", EVIDENCE_KIND, "evidence.json", "application/json")
    stale = _evidence_blobs(recording)
    seal_blob(runtime, ACTOR, recording, spec, [body.encode("utf-8")])
    delete_blobs(runtime, stale)
    suggestion.store_features(recording, found)
    runtime.audit.record(
        ACTOR,
        "evidence.create",
        f"recording:{recording.id}",
        {
            "model": model.get("name", ""),
            "model_sha256": model.get("sha256", ""),
            "inputs_sha256": {
                "transcript": _digest(transcript.to_dict()),
                "kit": _digest([asdict(c) for c in kit]),
                "asked": _digest([asdict(a) for a in asked]),
            },
            "competencies": len(found.competencies),
            "quotes": sum(len(c.quotes) for c in found.competencies),
            "summary_model": writer.name if writer else "",
            "summary_model_sha256": writer.sha256 if writer else "",
        },
    )
    return found


@dataclass(frozen=True)
class Writer:
    """An imported language model that passed its evaluation, ready to write summaries."""

    name: str
    sha256: str
    generate: Callable[[str], str]


# The quotes a summary is written from: the best few, as the evaluation set gives them.
SUMMARY_QUOTES = 3


def _summarised(found: Evidence, kit: list[KitCompetency], writer: Writer) -> Evidence:
    described = {c.id: c.description for c in kit}
    competencies = []
    for c in found.competencies:
        summary = ""
        if c.quotes:
            quotes = [q.quote for q in c.quotes[:SUMMARY_QUOTES]]
            text = writer.generate(summary_evaluation.prompt(c.name, described[c.id], quotes))
            summary = " ".join(text.split()[: summary_evaluation.MAX_WORDS])
        competencies.append(replace(c, summary=summary))
    return replace(found, competencies=competencies, summary_model=writer.name)


def stored(runtime: Runtime, viewer: str, recording: Recording) -> Evidence | None:
    """The stored evidence, opened for `viewer` (audited); None when there is none or AI
    assistance is no longer allowed for the interview."""
    if not allowed(runtime, recording.interview):
        return None
    return _open_stored(runtime, viewer, recording)


def _open_stored(runtime: Runtime, viewer: str, recording: Recording) -> Evidence | None:
    blobs = _evidence_blobs(recording)
    if not blobs:
        return None
    with open_blob(runtime, viewer, blobs[-1], "evidence") as reader:
        document = json.loads(b"".join(reader.stream()))
    return _evidence_from(document["evidence"])


@dataclass(frozen=True)
class EvidencePanel:
    """What the review page's evidence panel shows, and why when it shows none."""

    state: Literal["off", "hidden", "pending", "shown"]
    message: str = ""
    evidence: Evidence | None = None
    # Per competency id, where the box suggests levels (`[interviews] rubric_suggestions`).
    suggestions: dict[int, suggestion.Suggestion] = field(default_factory=dict)


def for_review(
    runtime: Runtime, viewer: str, recording: Recording, *, may_read_others: bool
) -> EvidencePanel:
    """The panel for a reviewer; `may_read_others` says whether they may see what could sway
    their own scores (they submitted their scorecard, or they do not score)."""
    interview = recording.interview
    if not runtime.config.interviews.ai_assistance:
        return EvidencePanel("off", "AI assistance is off on this appliance.")
    if not allowed(runtime, interview):
        return EvidencePanel("off", "The candidate did not agree to AI assistance.")
    if interview.kit is None:
        return EvidencePanel("off", "The interview has no kit, so no competencies to look for.")
    if not may_read_others:
        return EvidencePanel(
            "hidden",
            "Shown once you have submitted your scorecard, so that it cannot sway your own scores.",
        )
    found = _open_stored(runtime, viewer, recording)  # allowed() was checked above
    if found is None:
        return EvidencePanel("pending", "Evidence is drawn from the transcript once it is made.")
    suggested = (
        suggestion.suggestions(recording) if runtime.config.interviews.rubric_suggestions else {}
    )
    return EvidencePanel("shown", evidence=found, suggestions=suggested)


def for_interview(runtime: Runtime, viewer: str, interview: Interview) -> EvidencePanel | None:
    """The evidence of an interview's latest recording for a viewer who may read what others
    wrote (the debrief at the decision); None when it was not recorded."""
    recording = latest_recording(interview)
    if recording is None or recording.status == "erased":
        return None
    return for_review(runtime, viewer, recording, may_read_others=True)


def _evidence_from(data: dict[str, Any]) -> Evidence:
    return Evidence(
        [
            CompetencyEvidence(
                c["id"], c["name"], [Quote(**q) for q in c["quotes"]], c["relevant_turns"],
                c["relevant_seconds"], c["candidate_seconds"], c["best_score"], c["summary"],
            )
            for c in data["competencies"]
        ],
        data["note"],
        [Asked(**a) for a in data["asked"]],
        data["asked_inferred"],
        data["summary_model"],
    )  # fmt: skip


def withdraw_consent(runtime: Runtime, actor: str, interview: Interview) -> int:
    """Records that the candidate withdrew consent to AI assistance and deletes the evidence
    already made from their interview; returns how many evidence files went (audited)."""
    consent.withdraw_ai_assistance(runtime.audit, actor, interview)
    gone = 0
    for recording in Recording.select().where(Recording.interview == interview):
        gone += delete_blobs(runtime, _evidence_blobs(recording))
        EvidenceFeature.delete().where(EvidenceFeature.recording == recording).execute()
    runtime.audit.record(actor, "evidence.delete", f"interview:{interview.id}", {"files": gone})
    return gone


class Assistant:
    """The worker's evidence assistant: the embedding model is loaded on the first transcript
    that may use it, and kept."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._embedder: Embedder | None = None
        self._writer: tuple[str, Writer] | None = None  # (the model's hash, its writer)
        self._loading = threading.Lock()

    def embedder(self) -> Embedder:
        with self._loading:
            if self._embedder is None:
                model = embedding_model.load(self.runtime.config.models_dir)
                self._embedder = Embedder(model, threads=self.runtime.config.asr.threads)
            return self._embedder

    def writer(self) -> Writer | None:
        """The imported language model, if one passed its evaluation; loaded once per model."""
        models_dir = self.runtime.config.models_dir
        listed = language_model.installed(models_dir, verify=False)
        if listed is None:
            return None
        with self._loading:
            if self._writer is None or self._writer[0] != listed.sha256:
                imported = language_model.installed(models_dir)  # hashed once per model
                if imported is None:
                    return None
                summarizer = language_model.Summarizer(imported.directory)
                writer = Writer(imported.name, imported.sha256, summarizer)
                self._writer = (imported.sha256, writer)
            return self._writer[1]

    def after_transcript(self, recording: Recording) -> None:
        """Evidence for a freshly transcribed recording; a failure is logged and audited,
        never raised: the transcript stands without it."""
        if not allowed(self.runtime, recording.interview):
            return
        try:
            embedder = self.embedder()
            model = {"name": embedder.model.name, "sha256": embedder.model.sha256}
            run(self.runtime, recording, embedder, model, self.writer())
        except ApplianceError as exc:
            logger.error("evidence for recording %s failed: %s", recording.id, exc)
            self.runtime.audit.record(
                ACTOR, "evidence.fail", f"recording:{recording.id}", {"error": str(exc)[:300]}
            )
