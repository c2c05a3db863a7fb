"""Recordings and transcripts as the API gives them to another system: a recording's metadata
(never its media or its keys), and a transcript's text only where the candidate consented to
recording and transcription. Speakers are named by their room identity (`candidate`,
`staff-<user id>`), never by name."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core.errors import Gone, NotAllowed, NotFound
from appliance.db.models import Interview, Recording, RecordingBlob, TranscriptionJob
from appliance.hiring.scheduling import as_utc
from appliance.interview import consent
from appliance.recordings.transcription import (
    TRACK_KINDS,
    TRANSCRIPT_KIND,
    load_transcript,
)
from appliance.runtime import Runtime


@dataclass(frozen=True)
class TrackRecord:
    participant: str  # `candidate` or `staff-<user id>`
    kind: str  # audio, video or media (both)
    media_type: str
    bytes: int  # of the media, before sealing
    status: str  # complete, truncated (the writer stopped early), writing


@dataclass(frozen=True)
class RecordingRecord:
    id: int
    status: str
    source: str  # live (recorded by the box's SFU) or import
    started_at: dt.datetime
    ended_at: dt.datetime | None
    tracks: list[TrackRecord]
    transcript: str  # none, queued, running, done, failed


@dataclass(frozen=True)
class SegmentRecord:
    speaker: str
    start: float  # seconds from the start of the recording
    end: float
    text: str


@dataclass(frozen=True)
class TranscriptRecord:
    interview_id: int
    recording_id: int
    language: str
    duration: float
    segments: list[SegmentRecord]


def _interview(interview_id: int) -> Interview:
    interview = Interview.get_or_none(Interview.id == interview_id)
    if interview is None:
        raise NotFound(f"no interview {interview_id}")
    if interview.candidate.erased_at is not None:
        raise Gone(f"interview {interview_id}'s candidate was erased, with their recordings")
    return interview


def recording_records(interview_id: int) -> list[RecordingRecord]:
    """The interview's recordings, oldest first."""
    interview = _interview(interview_id)
    records = []
    for recording in (
        Recording.select().where(Recording.interview == interview).order_by(Recording.id)
    ):
        tracks = [
            TrackRecord(b.participant_identity, b.kind, b.media_type, b.plaintext_bytes, b.status)
            for b in RecordingBlob.select()
            .where((RecordingBlob.recording == recording) & RecordingBlob.kind.in_(TRACK_KINDS))
            .order_by(RecordingBlob.id)
        ]
        job = TranscriptionJob.get_or_none(TranscriptionJob.recording == recording)
        records.append(
            RecordingRecord(
                recording.id, recording.status, recording.source, as_utc(recording.started_at),
                as_utc(recording.ended_at) if recording.ended_at else None, tracks,
                job.status if job is not None else "none",
            )
        )  # fmt: skip
    return records


def transcript_record(runtime: Runtime, actor: str, interview_id: int) -> TranscriptRecord:
    """The interview's newest transcript, opened for `actor` (audited). Refused where the
    candidate did not consent to recording and transcription."""
    interview = _interview(interview_id)
    if not consent.is_recorded(interview):
        raise NotAllowed(
            f"the candidate of interview {interview_id} did not consent to recording and "
            "transcription"
        )
    blob = (
        RecordingBlob.select()
        .join(Recording)
        .where((Recording.interview == interview) & (RecordingBlob.kind == TRANSCRIPT_KIND))
        .order_by(RecordingBlob.id.desc())
        .first()
    )
    if blob is None:
        raise NotFound(f"interview {interview_id} has no transcript yet")
    transcript = load_transcript(runtime, actor, blob.recording_id)
    return TranscriptRecord(
        interview.id, blob.recording_id, transcript.language, transcript.duration,
        [SegmentRecord(s.speaker or "", s.start, s.end, s.text.strip())
         for s in transcript.segments],
    )  # fmt: skip
