"""Composite jobs: anyone who may review an interview asks for its single playable file from the
review page; the worker makes it at low priority (recordings/composite.py), reporting progress,
and the file is downloaded with every download audited.

A job the worker did not finish (it was stopped, or the box restarted) is started again from
the beginning when the worker comes back; what it had written is deleted first, so no half
file is ever offered. A full disk fails the job with a clear error and keeps nothing of it.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass

from appliance.core.errors import ApplianceError, Gone
from appliance.db.database import utcnow
from appliance.db.models import CompositeJob, Recording, RecordingBlob, User
from appliance.recordings import composite
from appliance.recordings.store import get_recording
from appliance.runtime import Runtime

logger = logging.getLogger(__name__)

PROGRESS_SAVE_SECONDS = 2.0


@dataclass(frozen=True)
class JobView:
    status: str  # none, queued, running, done, failed
    progress: float
    error: str
    object_id: str | None  # the finished file's, when there is one
    bytes: int


def _usable(recording: Recording) -> None:
    if recording.status == "erased" or recording.key_id is None:
        raise Gone(f"recording {recording.id} was erased with its candidate's data")
    if recording.status != "complete":
        raise ApplianceError("the recording is not finished yet; ask once the interview ended")


def request(runtime: Runtime, user: User, recording_id: int) -> JobView:
    """Queue the composite of the recording (again, if one was made or failed); a job queued
    or running already is left to finish. The caller checked the user may review it."""
    recording = get_recording(recording_id)
    _usable(recording)
    with runtime.db.atomic():
        job = CompositeJob.get_or_none(CompositeJob.recording == recording)
        if job is None:
            job = CompositeJob.create(recording=recording, requested_by=user)
        elif job.status in ("done", "failed"):
            job.status, job.progress, job.error = "queued", 0.0, ""
            job.requested_by, job.queued_at = user, utcnow()
            job.started_at = job.finished_at = None
            job.save()
        else:
            return status(recording_id)
        runtime.audit.record(user.email, "composite.request", f"recording:{recording.id}")
    return status(recording_id)


def status(recording_id: int) -> JobView:
    recording = get_recording(recording_id)
    made = composite.composite_of(recording)
    job = CompositeJob.get_or_none(CompositeJob.recording == recording)
    state = "none" if job is None else str(job.status)
    if job is None and made is not None:
        state = "done"  # made by `appliance recordings export --composite`
    return JobView(
        state,
        1.0 if state == "done" else float(job.progress) if job is not None else 0.0,
        str(job.error) if job is not None else "",
        str(made.object_id) if made is not None else None,
        int(made.plaintext_bytes or 0) if made is not None else 0,
    )


def resume_interrupted(runtime: Runtime) -> int:
    """At the worker's start: jobs left running go back to the queue and what they wrote is
    deleted. Returns how many were requeued."""
    composite.discard_unfinished(runtime)
    requeued: int = (
        CompositeJob.update(status="queued", progress=0.0, started_at=None)
        .where(CompositeJob.status == "running")
        .execute()
    )
    return requeued


def next_job() -> CompositeJob | None:
    job: CompositeJob | None = (
        CompositeJob.select()
        .where(CompositeJob.status == "queued")
        .order_by(CompositeJob.queued_at, CompositeJob.id)
        .first()
    )
    return job


def run(runtime: Runtime, job: CompositeJob) -> None:
    """Make the job's composite; it ends done or failed with a reason a person can act on."""
    job.status, job.started_at, job.progress, job.error = "running", utcnow(), 0.0, ""
    job.save()
    saved = [utcnow()]

    def progress(done: float) -> None:
        now = utcnow()
        if (now - saved[0]).total_seconds() >= PROGRESS_SAVE_SECONDS or done >= 1.0:
            CompositeJob.update(progress=done).where(CompositeJob.id == job.id).execute()
            saved[0] = now

    try:
        recording = get_recording(job.recording_id)
        _usable(recording)
        made = composite.make_composite(runtime, recording, progress)
    except OSError as exc:
        composite.discard_unfinished(runtime)
        reason = (
            "the disk is full; free some space and ask again"
            if exc.errno == errno.ENOSPC
            else f"the file could not be written ({exc.strerror or exc})"
        )
        _finish(job, "failed", reason)
        logger.error("composite of recording %s failed: %s", job.recording_id, exc)
        return
    except ApplianceError as exc:
        composite.discard_unfinished(runtime)
        _finish(job, "failed", str(exc))
        logger.warning("composite of recording %s failed: %s", job.recording_id, exc)
        return
    _finish(job, "done", "")
    logger.info("composite of recording %s made: %s bytes", job.recording_id, made.plaintext_bytes)


def _finish(job: CompositeJob, state: str, error: str) -> None:
    CompositeJob.update(
        status=state,
        error=error,
        progress=1.0 if state == "done" else CompositeJob.progress,
        finished_at=utcnow(),
    ).where(CompositeJob.id == job.id).execute()


def download_blob(recording_id: int) -> RecordingBlob:
    """The finished composite to download."""
    recording = get_recording(recording_id)
    _usable(recording)
    made = composite.composite_of(recording)
    if made is None:
        raise ApplianceError("there is no single-file export of this recording yet; make one first")
    return made
