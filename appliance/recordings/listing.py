"""The recordings hiring staff see listed: the newest first, each with its candidate (as staff
may see them) and how far its transcription has come."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from appliance.db.models import Candidate, Interview, Recording, TranscriptionJob
from appliance.hiring.candidates import display_name


@dataclass(frozen=True)
class RecordingSummary:
    id: int
    candidate: str
    started_at: datetime.datetime
    status: str
    job: str  # none, queued, running, done, failed
    percent: int
    error: str


def recent_recordings(limit: int = 200) -> list[RecordingSummary]:
    listed = list(
        Recording.select(Recording, Interview, Candidate)
        .join(Interview)
        .join(Candidate)
        .order_by(Recording.id.desc())
        .limit(limit)
    )
    jobs = {
        j.recording_id: j
        for j in TranscriptionJob.select().where(
            TranscriptionJob.recording.in_([r.id for r in listed])
        )
    }
    summaries = []
    for recording in listed:
        job = jobs.get(recording.id)
        summaries.append(
            RecordingSummary(
                recording.id,
                display_name(recording.interview.candidate),
                recording.started_at,
                recording.status,
                job.status if job else "none",
                round(job.progress * 100) if job else 0,
                job.error if job else "",
            )
        )
    return summaries
