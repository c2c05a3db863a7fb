"""Filing live recordings: the worker applies the SFU's spooled events to the database."""

from __future__ import annotations

import base64
import datetime
import hashlib
import logging

import peewee

from appliance.contracts.recording_events import (
    BadEvent,
    BlobClosed,
    BlobOpened,
    RecordingEvent,
    RecordingFinished,
    RecordingStarted,
    SfuStarted,
    pending,
    read_event,
    reject,
    spool_dir,
)
from appliance.core.errors import ApplianceError, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Interview, Recording, RecordingBlob
from appliance.recordings.store import READ_BLOCK, blob_store
from appliance.recordings.transcription import queue_transcription
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.appliance_keys import load_intake_identity
from appliance.storage.recipients import unwrap_with_identity
from appliance.storage.sealed import SealedReader, SealError, Truncated

logger = logging.getLogger(__name__)


def ingest(runtime: Runtime) -> int:
    """Apply every spooled event in order; returns how many were applied.

    An event that cannot be applied is set aside with its reason; a database that is busy
    stops the pass so the event is retried next time.
    """
    applied = 0
    for path in pending(spool_dir(runtime.config.data_dir)):
        try:
            event = read_event(path)
        except BadEvent as exc:
            logger.error("recording event %s set aside: %s", path.name, exc)
            reject(path, str(exc))
            continue
        try:
            with runtime.db.atomic():
                _apply(runtime, event)
        except peewee.OperationalError:
            logger.warning("database busy; recording events wait for the next pass")
            break
        except (ApplianceError, ValueError) as exc:
            logger.error("recording event %s set aside: %s", path.name, exc)
            reject(path, f"{type(exc).__name__}: {exc}")
            continue
        path.unlink()
        applied += 1
    return applied


def _recording(key_id: str) -> Recording:
    recording = Recording.get_or_none(Recording.key_id == key_id)
    if recording is None:
        raise NotFound(f"no recording with key {key_id}")
    return recording


def _discard_if_erased(runtime: Runtime, event: RecordingEvent) -> bool:
    """Events of a recording whose candidate was erased file nothing; their blobs are deleted."""
    if isinstance(event, SfuStarted):
        return False
    recording = Recording.get_or_none(Recording.key_id == event.key_id)
    if recording is None or recording.status != "erased":
        return False
    if isinstance(event, BlobOpened | BlobClosed):
        blob_store(runtime).delete(bytes.fromhex(event.object_id))
        RecordingBlob.delete().where(RecordingBlob.object_id == event.object_id).execute()
    return True


def _salvage(runtime: Runtime, blob: RecordingBlob, key_id: bytes, data_key: bytes) -> None:
    """Close a blob its writer never finished: keep its authenticated prefix, as it is."""
    path = blob_store(runtime).path(bytes.fromhex(blob.object_id))
    readable = 0
    digest = hashlib.sha256()
    try:
        with path.open("rb") as source:
            for block in iter(lambda: source.read(READ_BLOCK), b""):
                digest.update(block)
            reader = SealedReader(
                source,
                data_key,
                key_id,
                bytes.fromhex(blob.object_id),
            )
            for plain in reader.stream():
                readable += len(plain)
    except Truncated:
        pass
    except (SealError, OSError) as exc:
        logger.warning("blob %s of an interrupted recording: %s", blob.object_id, exc)
    blob.plaintext_bytes = readable
    blob.sealed_sha256 = digest.hexdigest()
    blob.status = "truncated" if readable else "lost"
    blob.save()


def interrupt_node(runtime: Runtime, node: str) -> int:
    """Close the live recordings an SFU node was writing when it stopped without finishing
    them: each unfinished blob keeps its readable prefix, and the recording is transcribed
    from what was saved. Returns how many recordings were closed."""
    recordings = Recording.select().where(
        (Recording.status == "recording")
        & (Recording.sfu_node == node)
        & Recording.key_id.is_null(False)
    )
    closed = 0
    for recording in recordings:
        key_id = bytes.fromhex(str(recording.key_id))
        data_key = keystore.unwrap(runtime.config.data_dir, key_id)
        unfinished = list(
            RecordingBlob.select().where(
                (RecordingBlob.recording == recording) & (RecordingBlob.status == "writing")
            )
        )
        for blob in unfinished:
            _salvage(runtime, blob, key_id, data_key)
        recording.status = "interrupted"
        recording.ended_at = utcnow()
        recording.save()
        runtime.audit.record(
            "sfu",
            "recording.interrupt",
            f"recording:{recording.id}",
            {
                "node": node,
                "salvaged": {b.object_id: b.plaintext_bytes for b in unfinished},
            },
        )
        queue_transcription(recording)
        closed += 1
    return closed


def _apply(runtime: Runtime, event: RecordingEvent) -> None:
    if isinstance(event, SfuStarted):
        interrupt_node(runtime, event.node)
    elif _discard_if_erased(runtime, event):
        return
    elif isinstance(event, RecordingStarted):
        _file_start(runtime, event)
    elif isinstance(event, BlobOpened):
        _file_blob_opened(event)
    elif isinstance(event, BlobClosed):
        _file_blob_closed(runtime, event)
    else:
        _file_finish(runtime, event)


def _file_start(runtime: Runtime, event: RecordingStarted) -> None:
    if Recording.select().where(Recording.key_id == event.key_id).exists():
        return
    interview = Interview.get_or_none(Interview.id == event.interview_id)
    if interview is None:
        raise NotFound(f"no interview {event.interview_id} to file the recording under")
    if interview.candidate.erased_at is not None:
        # Erased while the room was live: keep only the fact, never the key.
        Recording.create(interview=interview, key_id=event.key_id, source="live", status="erased")
        runtime.audit.record("sfu", "recording.discard", f"interview:{interview.id}")
        return
    identity = load_intake_identity(runtime.config.data_dir)
    key_id = bytes.fromhex(event.key_id)
    data_key = unwrap_with_identity(identity, key_id, base64.b64decode(event.wrapped_key))
    keystore.store_data_key(runtime.db, runtime.config.data_dir, key_id, data_key)
    started = datetime.datetime.fromtimestamp(event.started_at, datetime.UTC)
    recording = Recording.create(
        interview=interview,
        key_id=event.key_id,
        source="live",
        status="recording",
        started_at=started.replace(tzinfo=None),
        sfu_node=event.node[:100],
    )
    runtime.audit.record(
        "sfu", "recording.start", f"recording:{recording.id}", {"room": event.room}
    )


def _file_blob_opened(event: BlobOpened) -> None:
    recording = _recording(event.key_id)
    if RecordingBlob.select().where(RecordingBlob.object_id == event.object_id).exists():
        return
    RecordingBlob.create(
        recording=recording,
        object_id=event.object_id,
        participant_identity=event.participant[:200],
        kind=event.kind[:16],
        filename=event.filename[:255],
        media_type=event.media_type[:100],
    )


def _file_blob_closed(runtime: Runtime, event: BlobClosed) -> None:
    blob = RecordingBlob.get_or_none(RecordingBlob.object_id == event.object_id)
    if blob is None:
        raise NotFound(f"no blob {event.object_id}")
    if blob.status == "complete":
        return
    blob.plaintext_bytes = event.plaintext_bytes
    blob.sealed_sha256 = event.sealed_sha256
    blob.status = "complete"
    blob.save()
    runtime.audit.record(
        "sfu",
        "recording.seal",
        f"recording:{blob.recording_id}",
        {"object": blob.object_id, "kind": blob.kind, "bytes": blob.plaintext_bytes},
    )


def _file_finish(runtime: Runtime, event: RecordingFinished) -> None:
    """The room closed. A blob it never sealed (its disk filled up) keeps its readable prefix,
    and the recording is then "interrupted", as when an SFU stops mid-call."""
    recording = _recording(event.key_id)
    ended = datetime.datetime.fromtimestamp(event.ended_at, datetime.UTC)
    unfinished = list(
        RecordingBlob.select().where(
            (RecordingBlob.recording == recording) & (RecordingBlob.status == "writing")
        )
    )
    if unfinished:
        key_id = bytes.fromhex(str(recording.key_id))
        data_key = keystore.unwrap(runtime.config.data_dir, key_id)
        for blob in unfinished:
            _salvage(runtime, blob, key_id, data_key)
        runtime.audit.record(
            "sfu",
            "recording.interrupt",
            f"recording:{recording.id}",
            {"salvaged": {b.object_id: b.plaintext_bytes for b in unfinished}},
        )
    recording.status = "interrupted" if unfinished else "complete"
    recording.ended_at = ended.replace(tzinfo=None)
    recording.save()
    queue_transcription(recording)
