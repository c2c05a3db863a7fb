"""The recordings hiring staff see listed: the newest first, each with its candidate (as staff
may see them) and how far its transcription has come."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from appliance.db.models import Candidate, Interview, Recording, TranscriptionJob
from appliance.db.paging import Page, paginate
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


def recent_recordings(text: str = "", page: int = 1) -> Page[RecordingSummary]:
    """A page of the recordings, newest first, of candidates whose name or e-mail holds
    `text`; each with how far its transcription has come (one query for the page's jobs)."""
    query = Recording.select(Recording, Interview, Candidate).join(Interview).join(Candidate)
    if text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where(
            Candidate.erased_at.is_null() & ((Candidate.name**pattern) | (Candidate.email**pattern))
        )
    paged = paginate(query.order_by(Recording.id.desc()), page)
    listed = paged.rows
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
    return Page(summaries, paged.page, paged.pages, paged.total)
