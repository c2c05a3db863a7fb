"""Recording transcripts over the JSON API: the job's progress, re-queueing, and exports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Literal

from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery

from appliance import transcription
from appliance.asr_onnx.transcript import FORMATS
from appliance.models import InterviewParticipant, Role, User
from appliance.storage.recordings import get_recording
from appliance.web.access import allow
from appliance.web.pages import AppRuntime, actor
from appliance.web.threads import in_thread

HIRING = allow(Role.ADMIN, Role.RECRUITER)
REVIEWERS = allow(Role.ADMIN, Role.RECRUITER, Role.INTERVIEWER)
MEDIA_TYPES = {
    "json": MediaType.JSON,
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "txt": MediaType.TEXT,
}


@dataclass
class TranscriptionView:
    recording_id: int
    status: str  # none, queued, running, done, failed
    progress: float
    model: str
    error: str
    queued_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None


def _check_reviewer(request: Request[Any, Any, Any], recording_id: int) -> None:
    """Interviewers see the recordings of interviews they sat on; hiring staff see all."""
    user: User = request.scope["user"]
    recording = get_recording(recording_id)
    if Role(user.role) == Role.INTERVIEWER and not (
        InterviewParticipant.select()
        .where(
            (InterviewParticipant.interview == recording.interview_id)
            & (InterviewParticipant.user == user.id)
        )
        .exists()
    ):
        raise PermissionDeniedException("you were not on this interview's panel")


def _view(recording_id: int) -> TranscriptionView:
    job = transcription.job_for(recording_id)
    if job is None:
        return TranscriptionView(recording_id, "none", 0.0, "", "", None, None, None)
    return TranscriptionView(
        recording_id,
        job.status,
        round(job.progress, 4),
        job.model,
        job.error,
        job.queued_at,
        job.started_at,
        job.finished_at,
    )


@get("/api/recordings/{recording_id:int}/transcription", opt=REVIEWERS, tags=["recordings"])
@in_thread
def api_transcription_status(
    request: Request[Any, Any, Any], recording_id: FromPath[int]
) -> TranscriptionView:
    """Whether the recording's transcript is queued, running (with progress), done or failed."""
    _check_reviewer(request, recording_id)
    return _view(recording_id)


@post("/api/recordings/{recording_id:int}/transcription", opt=HIRING, tags=["recordings"])
@in_thread
def api_queue_transcription(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> TranscriptionView:
    """Queue the recording for transcription again (after a failure or a new model)."""
    transcription.queue_transcription(get_recording(recording_id), again=True)
    runtime.audit.record(actor(request), "transcript.queue", f"recording:{recording_id}")
    return _view(recording_id)


@get("/api/recordings/{recording_id:int}/transcript", opt=REVIEWERS, tags=["recordings"])
@in_thread
def api_transcript(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    recording_id: FromPath[int],
    format: FromQuery[Literal["json", "vtt", "srt", "txt"]] = "json",
) -> Response[str]:
    """The transcript, every segment and word with its speaker; opening it is audited."""
    _check_reviewer(request, recording_id)
    transcript = transcription.load_transcript(runtime, actor(request), recording_id)
    return Response(FORMATS[format](transcript), media_type=MEDIA_TYPES[format])
