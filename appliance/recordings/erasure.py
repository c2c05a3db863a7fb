"""Erasing a candidate for good (crypto-shredding), and proving it in the audit log."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from appliance.core.errors import ApplianceError, Conflict, NotFound
from appliance.db.database import flush_write_ahead_log, serialized, utcnow
from appliance.db.models import (
    Candidate,
    Comment,
    CompetencyScore,
    Decision,
    EvidenceFeature,
    Interview,
    OutboxMessage,
    Recording,
    RecordingBlob,
    Scorecard,
    ScorecardVersion,
    SelfIdentification,
    TranscriptSegment,
)
from appliance.integrations import webhook_events
from appliance.recordings import search_index
from appliance.recordings.store import blob_store
from appliance.runtime import Runtime
from appliance.storage import keystore

logger = logging.getLogger(__name__)

ERASED_NAME = "(erased)"


@dataclass
class Erasure:
    candidate_id: int
    recordings: list[int] = field(default_factory=list)
    key_entries_destroyed: int = 0
    blobs_deleted: int = 0
    comments_deleted: int = 0
    messages_deleted: int = 0


def erase_candidate(runtime: Runtime, actor: str, candidate_id: int, reason: str) -> Erasure:
    """Destroy the data keys of every recording of the candidate, delete blobs, derived text and
    personal fields, and write a signed audit entry listing what went.

    Once the key entries are gone no copy of a blob, backups included, can be decrypted.
    """
    report = Erasure(candidate_id)
    object_ids: list[str] = []
    with serialized(runtime.db):
        candidate = Candidate.get_or_none(Candidate.id == candidate_id)
        if candidate is None:
            raise NotFound(f"no candidate with id {candidate_id}")
        if candidate.erased_at is not None:
            raise Conflict(f"candidate {candidate_id} was already erased on {candidate.erased_at}")
        if candidate.legal_hold:
            raise ApplianceError(
                f"candidate {candidate_id} is on legal hold ({candidate.hold_reason}); "
                "release the hold first"
            )
        interviews = [
            i.id for i in Interview.select(Interview.id).where(Interview.candidate == candidate)
        ]
        recordings = list(Recording.select().where(Recording.interview.in_(interviews)))
        key_ids = []
        for recording in recordings:
            report.recordings.append(recording.id)
            if recording.key_id:
                key_ids.append(recording.key_id)
                report.key_entries_destroyed += keystore.destroy(bytes.fromhex(recording.key_id))
            object_ids += [
                b.object_id
                for b in RecordingBlob.select().where(RecordingBlob.recording == recording)
            ]
            RecordingBlob.delete().where(RecordingBlob.recording == recording).execute()
            TranscriptSegment.delete().where(TranscriptSegment.recording == recording).execute()
            EvidenceFeature.delete().where(EvidenceFeature.recording == recording).execute()
            search_index.drop_index(recording)
            recording.status = "erased"  # key_id stays: late SFU events for it are discarded
            recording.save()
        report.comments_deleted = (
            Comment.delete().where(Comment.interview.in_(interviews)).execute()
        )
        # Invitations, reminders, mentions and decisions name the candidate; unsent ones go
        # unsent.
        named = OutboxMessage.interview.in_(interviews) | (
            OutboxMessage.recipient == candidate.email
        )
        for decision in Decision.select(Decision.id).where(Decision.candidate == candidate):
            named |= OutboxMessage.dedupe_key.startswith(f"decision:{decision.id}:")
        report.messages_deleted = OutboxMessage.delete().where(named).execute()
        _erase_assessments(candidate, interviews)
        for answers in SelfIdentification.select().where(SelfIdentification.candidate == candidate):
            report.key_entries_destroyed += keystore.destroy(bytes.fromhex(answers.key_id))
            answers.delete_instance()
        candidate.name, candidate.email, candidate.phone, candidate.notes = ERASED_NAME, "", "", ""
        candidate.erased_at = utcnow()
        candidate.save()
        report.blobs_deleted = len(object_ids)
        runtime.audit.record(
            actor,
            "candidate.erase",
            f"candidate:{candidate_id}",
            {
                "reason": reason,
                "recordings": report.recordings,
                "key_ids": key_ids,
                "key_entries_destroyed": report.key_entries_destroyed,
                "blobs": object_ids,
                "comments_deleted": report.comments_deleted,
                "messages_deleted": report.messages_deleted,
            },
        )
        webhook_events.emit("candidate.erased", webhook_events.candidate_data(candidate))
    store = blob_store(runtime)
    for object_id in object_ids:
        store.delete(bytes.fromhex(object_id))
    runtime.audit.checkpoint()
    if not flush_write_ahead_log(runtime.db):
        logger.warning("a reader held the write-ahead log; the next checkpoint empties it")
    return report


def _erase_assessments(candidate: Candidate, interviews: list[int]) -> None:
    """What the hiring team wrote about the candidate goes; the scores and outcomes, which
    name nobody, stay for the calibration of the scorers."""
    scorecards = Scorecard.select(Scorecard.id).where(Scorecard.interview.in_(interviews))
    Scorecard.update(summary="", notes="").where(Scorecard.interview.in_(interviews)).execute()
    CompetencyScore.update(notes="").where(CompetencyScore.scorecard.in_(scorecards)).execute()
    for version in ScorecardVersion.select().where(ScorecardVersion.scorecard.in_(scorecards)):
        content = json.loads(version.content)
        content["summary"] = ""
        content["scores"] = {k: [v[0], ""] for k, v in content["scores"].items()}
        version.content, version.reason = json.dumps(content, sort_keys=True), ""
        version.save()
    Decision.update(reason="").where(Decision.candidate == candidate).execute()
