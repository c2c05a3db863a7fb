"""Batch transcripts of recordings: each participant's track transcribed on its own, merged
by time, so every word belongs to exactly one speaker, and stored sealed with the recording's
key. A job row per recording is the queue: it records progress, survives a crash (an
interrupted job is queued again), and is what the web app shows.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from appliance.asr_onnx.audio import decode_track
from appliance.asr_onnx.errors import AudioError
from appliance.asr_onnx.mel import SAMPLE_RATE
from appliance.asr_onnx.service import decode_options
from appliance.asr_onnx.transcriber import Transcriber
from appliance.asr_onnx.transcript import Segment, Transcript, merge_speakers
from appliance.asr_onnx.vad import VadOptions
from appliance.core.config import AsrConfig
from appliance.core.errors import ApplianceError, NotFound
from appliance.db.database import utcnow
from appliance.db.models import (
    Recording,
    RecordingBlob,
    SearchTerm,
    TranscriptionJob,
    TranscriptSegment,
    User,
)
from appliance.integrations import webhook_events
from appliance.recordings import ready, search_index
from appliance.recordings.store import (
    READABLE_BLOBS,
    BlobSpec,
    blob_store,
    get_recording,
    open_blob,
    seal_blob,
)
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.sealed_fields import open_text, seal_text
from appliance.storage.sealed_file import SealedFile

logger = logging.getLogger(__name__)

ACTOR = "transcriber"
TRACK_KINDS = ("audio", "video", "media")
TRANSCRIPT_KIND = "transcript"
PROGRESS_SAVE_SECONDS = 1.0
Progress = Callable[[float], None]


def queue_transcription(recording: Recording, *, again: bool = False) -> TranscriptionJob:
    """The recording's job, created queued; `again` re-queues a finished or failed one."""
    job: TranscriptionJob | None = TranscriptionJob.get_or_none(
        TranscriptionJob.recording == recording
    )
    created = job is None
    if job is None:
        job = TranscriptionJob.create(recording=recording)
    if again and not created and job.status != "running":
        job.status, job.progress, job.error = "queued", 0.0, ""
        job.queued_at, job.started_at, job.finished_at = utcnow(), None, None
        job.save()
    return job


def request_transcription(runtime: Runtime, actor: str, recording_id: int) -> TranscriptionJob:
    """A person asks for the recording to be transcribed (again); audited."""
    job = queue_transcription(get_recording(recording_id), again=True)
    runtime.audit.record(actor, "transcript.queue", f"recording:{recording_id}")
    return job


def next_queued() -> TranscriptionJob | None:
    job: TranscriptionJob | None = (
        TranscriptionJob.select()
        .where(TranscriptionJob.status == "queued")
        .order_by(TranscriptionJob.queued_at, TranscriptionJob.id)
        .first()
    )
    return job


def requeue_interrupted() -> int:
    """Jobs left running by a process that died go back in the queue."""
    return int(
        TranscriptionJob.update(status="queued", progress=0.0)
        .where(TranscriptionJob.status == "running")
        .execute()
    )


def fail(recording_id: int, error: str) -> None:
    """Marks a job failed that could not even start (no model installed, say)."""
    TranscriptionJob.update(status="failed", error=error, finished_at=utcnow()).where(
        (TranscriptionJob.recording == recording_id) & (TranscriptionJob.status != "done")
    ).execute()


def job_for(recording_id: int) -> TranscriptionJob | None:
    job: TranscriptionJob | None = TranscriptionJob.get_or_none(
        TranscriptionJob.recording == recording_id
    )
    return job


class _JobProgress:
    """Saves progress to the job row at most once a second, and forwards every update."""

    def __init__(self, job: TranscriptionJob, total_samples: int, forward: Progress | None) -> None:
        self.job = job
        self.total = max(1, total_samples)
        self.forward = forward
        self.saved_at = 0.0

    def __call__(self, done_samples: float) -> None:
        fraction = min(1.0, done_samples / self.total)
        if self.forward:
            self.forward(fraction)
        now = time.monotonic()
        if now - self.saved_at >= PROGRESS_SAVE_SECONDS:
            self.saved_at = now
            TranscriptionJob.update(progress=fraction).where(
                TranscriptionJob.id == self.job.id
            ).execute()


@dataclass
class FollowedTrack:
    """A track transcribed while it was recorded (recordings/live_transcription.py): its
    segments on the room's clock, and whether it was read to its end."""

    identity: str
    start: float = 0.0  # the track's first sample on the room's clock
    samples: int = 0  # decoded, at 16 kHz
    transcribed: int = 0  # of those, transcribed (or found silent) so far
    segments: list[Segment] = field(default_factory=list)
    language: str = ""
    finished: bool = False
    error: str = ""


def transcribe_recording(
    runtime: Runtime,
    recording_id: int,
    transcriber: Transcriber,
    settings: AsrConfig,
    progress: Progress | None = None,
    followed: Mapping[str, FollowedTrack] | None = None,
) -> Transcript:
    """The recording's transcript, made and stored; tracks in `followed` (by object id) were
    transcribed during the call, and only the others are decoded and transcribed now."""
    recording = get_recording(recording_id)
    job = queue_transcription(recording)
    job.status, job.started_at, job.model, job.error = (
        "running",
        utcnow(),
        transcriber.model_name,
        "",
    )
    job.save()
    try:
        transcript = _transcribe(
            runtime, recording, transcriber, settings, job, progress, followed or {}
        )
    except Exception as exc:
        job.status, job.finished_at = "failed", utcnow()
        job.error = str(exc) if isinstance(exc, ApplianceError) else f"{type(exc).__name__}: {exc}"
        job.save()
        raise
    with runtime.db.atomic():
        job.status, job.progress, job.finished_at = "done", 1.0, utcnow()
        job.save()
        interview = recording.interview
        webhook_events.emit(
            "transcript.ready",
            {"recording_id": recording.id, "interview_id": interview.id,
             **webhook_events.candidate_data(interview.candidate)},
        )  # fmt: skip
    ready.announce(runtime.config, recording)
    return transcript


def track_blobs(recording: Recording) -> list[RecordingBlob]:
    """The recording's media, one blob per participant's track, that can be read."""
    return list(
        RecordingBlob.select()
        .where(
            (RecordingBlob.recording == recording)
            & RecordingBlob.kind.in_(TRACK_KINDS)
            & RecordingBlob.status.in_(READABLE_BLOBS)
        )
        .order_by(RecordingBlob.id)
    )


def speaker_names(recording: Recording, identities: Iterable[str]) -> dict[str, str]:
    """What each track's speaker is called in the transcript: the candidate's name and the
    panel's names for the room's identities ("candidate", "staff-<user id>"); any other
    identity as it is. Two people with one name are told apart by their identity."""
    interview = recording.interview
    names: dict[str, str] = {}
    for identity in identities:
        name = identity
        if identity == "candidate" and interview.candidate.erased_at is None:
            name = str(interview.candidate.name)
        elif identity.startswith("staff-") and identity[len("staff-") :].isdigit():
            user = User.get_or_none(User.id == int(identity[len("staff-") :]))
            if user is not None:
                name = str(user.name or user.email)
        names[identity] = name
    counts = Counter(names.values())
    return {i: name if counts[name] == 1 else f"{name} ({i})" for i, name in names.items()}


def _transcribe(
    runtime: Runtime,
    recording: Recording,
    transcriber: Transcriber,
    settings: AsrConfig,
    job: TranscriptionJob,
    progress: Progress | None,
    followed: Mapping[str, FollowedTrack],
) -> Transcript:
    if recording.status == "erased" or recording.key_id is None:
        raise ApplianceError(f"recording {recording.id} was erased; there is nothing to transcribe")
    tracks = []
    per_speaker: dict[str, list[Segment]] = {}
    language_of: dict[str, str] = {}
    ends = []
    for blob in track_blobs(recording):
        known = followed.get(blob.object_id)
        if known is not None:
            per_speaker.setdefault(known.identity, []).extend(known.segments)
            language_of.setdefault(known.identity, known.language or settings.language or "en")
            ends.append(known.start + known.samples / SAMPLE_RATE)
            continue
        reader = open_blob(runtime, ACTOR, blob, "transcription")
        with SealedFile(reader, prefix=blob.status == "truncated") as media:
            try:
                tracks.append((blob.participant_identity, decode_track(media)))
            except AudioError as exc:
                logger.warning(
                    "recording %s: %s has no usable audio: %s", recording.id, blob.object_id, exc
                )
    if not tracks and not ends:
        raise ApplianceError(f"recording {recording.id} has no audio to transcribe")
    report = _JobProgress(job, sum(len(t.samples) for _, t in tracks), progress)
    options = decode_options(settings, words=True)
    vad = VadOptions() if transcriber.vad is not None else None
    done = 0
    for speaker, track in tracks:

        def advance(seconds: float, _total: float, base: int = done) -> None:
            report(base + seconds * SAMPLE_RATE)

        result = transcriber.transcribe(track.samples, options, vad=vad, progress=advance)
        shift(result.segments, track.start)
        per_speaker.setdefault(speaker, []).extend(result.segments)
        language_of.setdefault(speaker, result.language)
        done += len(track.samples)
    duration = max([t.start + len(t.samples) / SAMPLE_RATE for _, t in tracks] + ends)
    names = speaker_names(recording, per_speaker)
    merged = merge_speakers(
        {
            names[speaker]: Transcript(
                language_of[speaker], duration, segments, transcriber.model_name
            )
            for speaker, segments in per_speaker.items()
        },
        duration,
    )
    merged.model = transcriber.model_name
    store_transcript(runtime, recording, merged)
    report(done)
    return merged


def shift(segments: list[Segment], seconds: float) -> None:
    """Move segments and their words from their audio's own clock to the room's, where that
    audio begins at `seconds` (times kept to the millisecond)."""
    for segment in segments:
        segment.start = round(segment.start + seconds, 3)
        segment.end = round(segment.end + seconds, 3)
        for word in segment.words:
            word.start = round(word.start + seconds, 3)
            word.end = round(word.end + seconds, 3)


def _segment_context(recording_id: int, speaker: str, start_ms: int, end_ms: int) -> str:
    return f"recording:{recording_id}/segment:{speaker}:{start_ms}:{end_ms}"


def store_transcript(runtime: Runtime, recording: Recording, transcript: Transcript) -> None:
    """Replaces the recording's transcript: one sealed JSON blob, plus a sealed row per segment
    for listing and search."""
    key_id = bytes.fromhex(str(recording.key_id))
    data_key = keystore.unwrap(runtime.config.data_dir, key_id)
    body = json.dumps(transcript.to_dict(), ensure_ascii=False).encode("utf-8")
    spec = BlobSpec("", TRANSCRIPT_KIND, "transcript.json", "application/json")
    new_blob = seal_blob(runtime, ACTOR, recording, spec, [body])
    with runtime.db.atomic():
        stale = RecordingBlob.select().where(
            (RecordingBlob.recording == recording)
            & (RecordingBlob.kind == TRANSCRIPT_KIND)
            & (RecordingBlob.id != new_blob.id)
        )
        for blob in stale:
            blob_store(runtime).delete(bytes.fromhex(blob.object_id))
            blob.delete_instance()
        TranscriptSegment.delete().where(TranscriptSegment.recording == recording).execute()
        stored = []
        for segment in transcript.segments:
            speaker, start, end = (
                segment.speaker or "",
                round(segment.start * 1000),
                round(segment.end * 1000),
            )
            context = _segment_context(recording.id, speaker, start, end)
            row = TranscriptSegment.create(
                recording=recording,
                speaker=speaker,
                start_ms=start,
                end_ms=end,
                sealed_text=seal_text(data_key, key_id, context, segment.text),
            )
            stored.append((row.id, segment.text))
        terms = search_index.replace_index(recording, data_key, stored)
    runtime.audit.record(
        ACTOR,
        "transcript.create",
        f"recording:{recording.id}",
        {"segments": len(transcript.segments), "model": transcript.model, "terms": terms},
    )


def load_transcript(runtime: Runtime, actor: str, recording_id: int) -> Transcript:
    """The stored transcript, opened for `actor` (the opening is audited)."""
    recording = get_recording(recording_id)
    blob = (
        RecordingBlob.select()
        .where((RecordingBlob.recording == recording) & (RecordingBlob.kind == TRANSCRIPT_KIND))
        .order_by(RecordingBlob.id.desc())
        .first()
    )
    if blob is None:
        raise NotFound(f"recording {recording_id} has no transcript yet")
    with open_blob(runtime, actor, blob, "transcript") as reader:
        data = b"".join(reader.stream())
    return Transcript.from_dict(json.loads(data))


def segment_texts(runtime: Runtime, recording_id: int) -> list[tuple[TranscriptSegment, str]]:
    """Every segment row with its text opened, in transcript order (for search and listing
    inside the appliance)."""
    recording = get_recording(recording_id)
    data_key = keystore.unwrap(runtime.config.data_dir, bytes.fromhex(str(recording.key_id)))
    rows = search_index.segment_order(recording)
    key_id = str(recording.key_id)
    return [(row, open_segment(recording.id, key_id, data_key, row)) for row in rows]


def open_segment(recording_id: int, key_id: str, data_key: bytes, row: TranscriptSegment) -> str:
    """One transcript segment's text, opened with its recording's data key (`key_id` in hex)."""
    context = _segment_context(recording_id, row.speaker, row.start_ms, row.end_ms)
    return open_text(data_key, bytes.fromhex(key_id), context, bytes(row.sealed_text))


def index_unindexed(runtime: Runtime) -> int:
    """Index every transcript that has segments but no search terms (those stored before the
    index existed); returns how many recordings were indexed."""
    indexed = SearchTerm.select(SearchTerm.recording)
    waiting = (
        Recording.select()
        .join(TranscriptSegment)
        .where(Recording.key_id.is_null(False) & Recording.id.not_in(indexed))
        .distinct()
    )
    count = 0
    for recording in list(waiting):
        data_key = keystore.unwrap(runtime.config.data_dir, bytes.fromhex(str(recording.key_id)))
        segments = [
            (row.id, open_segment(recording.id, str(recording.key_id), data_key, row))
            for row in search_index.segment_order(recording)
        ]
        with runtime.db.atomic():
            search_index.replace_index(recording, data_key, segments)
        count += 1
    return count
