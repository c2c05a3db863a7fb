"""Recordings and their transcripts: the hiring staff's page, and the JSON API for the job's
progress, re-queueing, and exports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Stream, Template

from appliance.asr_onnx.transcript import FORMATS
from appliance.db.models import User
from appliance.hiring.scheduling import as_utc, may_see
from appliance.recordings import composite_jobs, playback, transcription
from appliance.recordings.listing import recent_recordings
from appliance.recordings.store import get_recording
from appliance.web.access import HIRING, PANEL
from appliance.web.api_document import MEDIA_TYPES_OPT, refusals
from appliance.web.pages import AppRuntime, actor, current_user, optional_int, page, see_other
from appliance.web.threads import in_thread

MEDIA_TYPES = {
    "json": MediaType.JSON,
    "vtt": "text/vtt",
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
    if not may_see(user, get_recording(recording_id).interview_id):
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
        *(
            None if moment is None else as_utc(moment)
            for moment in (job.queued_at, job.started_at, job.finished_at)
        ),
    )


@get(
    "/api/recordings/{recording_id:int}/transcription",
    responses=refusals(410),
    opt=PANEL,
    tags=["recordings"],
)
@in_thread
def api_transcription_status(
    request: Request[Any, Any, Any], recording_id: FromPath[int]
) -> TranscriptionView:
    """Whether the recording's transcript is queued, running (with progress), done or failed."""
    _check_reviewer(request, recording_id)
    return _view(recording_id)


@post(
    "/api/recordings/{recording_id:int}/transcription",
    responses=refusals(410, 422),
    opt=HIRING,
    tags=["recordings"],
)
@in_thread
def api_queue_transcription(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> TranscriptionView:
    """Queue the recording for transcription again (after a failure or a new model)."""
    transcription.request_transcription(runtime, actor(request), recording_id)
    return _view(recording_id)


@get(
    "/api/recordings/{recording_id:int}/transcript",
    responses=refusals(410),
    opt={**PANEL, MEDIA_TYPES_OPT: list(MEDIA_TYPES.values())},
    tags=["recordings"],
)
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


@get(
    "/recordings/{recording_id:int}/media/{object_id:str}",
    opt=PANEL,
    include_in_schema=False,
)
@in_thread
def recording_media(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    recording_id: FromPath[int],
    object_id: FromPath[str],
) -> Response[Any]:
    """One participant's recorded media, for the review page's player: byte ranges decrypted
    in memory (recordings/playback.py); each viewing audited once."""
    _check_reviewer(request, recording_id)
    return _serve(request, runtime, recording_id, object_id, "inline")


def _serve(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    recording_id: int,
    object_id: str,
    disposition: str,
    download: bool = False,
) -> Response[Any]:
    """A blob's bytes as the request's Range asks, for playing inline or downloading (each
    download audited as one; a viewing once an hour)."""
    headers = {"accept-ranges": "bytes", "cache-control": "private, no-store"}
    try:
        played = playback.answer(
            runtime,
            request.app.state.viewings,
            actor(request),
            recording_id,
            object_id,
            request.headers.get("range"),
            action="recording.download" if download else "recording.view",
            every_request=download,
        )
    except playback.RangeNotSatisfiable as exc:
        headers["content-range"] = f"bytes */{exc.size}"
        return Response(b"", status_code=416, headers=headers)
    return _media_response(played, headers, disposition)


def _media_response(played: playback.Answer, headers: dict[str, str], disposition: str) -> Stream:
    if played.range is not None:
        headers["content-range"] = played.range.content_range(played.size)
    headers["content-disposition"] = f'{disposition}; filename="{played.filename}"'
    # Declared up front: a stream a damaged chunk cuts short fails on the client, visibly.
    headers["content-length"] = str(played.length)
    return Stream(
        played.body,
        status_code=206 if played.range is not None else 200,
        media_type=played.media_type,
        headers=headers,
    )


@get(
    "/api/recordings/{recording_id:int}/composite",
    responses=refusals(410),
    opt=PANEL,
    tags=["recordings"],
)
@in_thread
def api_composite_status(
    request: Request[Any, Any, Any], recording_id: FromPath[int]
) -> composite_jobs.JobView:
    """The single-file export: whether it is queued, being made (with progress), made (its
    size) or failed (why)."""
    _check_reviewer(request, recording_id)
    return composite_jobs.status(recording_id)


@post(
    "/api/recordings/{recording_id:int}/composite",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["recordings"],
)
@in_thread
def api_request_composite(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> composite_jobs.JobView:
    """Ask for the single playable file of the recording: every participant in a grid, the
    mixed audio and the transcript as subtitles. The worker makes it at low priority."""
    _check_reviewer(request, recording_id)
    return composite_jobs.request(runtime, current_user(request), recording_id)


@post("/recordings/{recording_id:int}/composite", opt=PANEL, include_in_schema=False)
@in_thread
def request_composite(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> Redirect:
    _check_reviewer(request, recording_id)
    composite_jobs.request(runtime, current_user(request), recording_id)
    interview_id = get_recording(recording_id).interview_id
    return see_other(f"/interviews/{interview_id}/review#export")


@get("/recordings/{recording_id:int}/composite.webm", opt=PANEL, include_in_schema=False)
@in_thread
def download_composite(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> Response[Any]:
    """The single-file export, decrypted as it is sent; every download is audited."""
    _check_reviewer(request, recording_id)
    blob = composite_jobs.download_blob(recording_id)
    return _serve(request, runtime, recording_id, str(blob.object_id), "attachment", True)


@get("/recordings", opt=HIRING, include_in_schema=False)
@in_thread
def recordings_page(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    listed = recent_recordings(q, optional_int(page_number) or 1)
    busy = any(r.job in ("queued", "running") for r in listed.rows)
    return page("recordings.html", request, listed=listed, q=q, busy=busy)


@post("/recordings/{recording_id:int}/transcription", opt=HIRING, include_in_schema=False)
@in_thread
def queue_from_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> Redirect:
    transcription.request_transcription(runtime, actor(request), recording_id)
    return see_other("/recordings")
