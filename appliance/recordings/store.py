"""Recordings at rest: sealing their blobs, opening them (audited), importing media files."""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from appliance.core.errors import ApplianceError, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Candidate, Interview, Recording, RecordingBlob
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.blobstore import HashingFile, LocalBlobStore
from appliance.storage.sealed import SealedReader, SealWriter, new_object_id
from appliance.storage.sealed_file import SealedFile

READ_BLOCK = 1024 * 1024
# Blob states with content: sealed to the end, or cut short when the SFU writing it died.
READABLE_BLOBS = ("complete", "truncated")


def blob_store(runtime: Runtime) -> LocalBlobStore:
    return LocalBlobStore(runtime.config.blob_dir)


@dataclass(frozen=True)
class BlobSpec:
    participant_identity: str
    kind: str  # audio, video, media, transcript, captions, notes
    filename: str = ""
    media_type: str = "application/octet-stream"


def start_recording(runtime: Runtime, interview: Interview, source: str = "live") -> Recording:
    """A new recording of `interview`, with its own data key in the keystore."""
    key_id, _ = keystore.new_data_key(runtime.db, runtime.config.data_dir)
    return Recording.create(interview=interview, key_id=key_id.hex(), source=source)


def seal_blob(
    runtime: Runtime,
    actor: str,
    recording: Recording,
    spec: BlobSpec,
    chunks: Iterable[bytes],
    durable: bool = True,
) -> RecordingBlob:
    """Seal a stream of bytes as one blob of `recording`, under the recording's data key."""
    if recording.status == "erased" or recording.key_id is None:
        raise ApplianceError(f"recording {recording.id} was erased; nothing can be added to it")
    key_id = bytes.fromhex(recording.key_id)
    data_key = keystore.unwrap(runtime.config.data_dir, key_id)
    object_id = new_object_id()
    blob = RecordingBlob.create(
        recording=recording,
        object_id=object_id.hex(),
        participant_identity=spec.participant_identity,
        kind=spec.kind,
        filename=spec.filename,
        media_type=spec.media_type,
    )
    store = blob_store(runtime)
    try:
        with store.create(object_id) as file:
            sink = HashingFile(file)
            writer = SealWriter(
                sink, data_key, key_id, object_id, runtime.config.storage.chunk_size, durable
            )
            for chunk in chunks:
                writer.write(chunk)
            writer.close()
    except BaseException:
        # Nothing half-written stays behind: neither the file nor its row.
        store.delete(object_id)
        blob.delete_instance()
        raise
    blob.plaintext_bytes = writer.plaintext_bytes
    blob.sealed_sha256 = sink.sha256.hexdigest()
    blob.status = "complete"
    blob.save()
    runtime.audit.record(
        actor,
        "recording.seal",
        f"recording:{recording.id}",
        {"object": object_id.hex(), "kind": spec.kind, "bytes": writer.plaintext_bytes},
    )
    return blob


def open_blob(runtime: Runtime, actor: str, blob: RecordingBlob, purpose: str) -> SealedReader:
    """Decrypt access to one blob by the appliance itself (playback, transcription); audited."""
    reader = unaudited_reader(runtime, blob)
    recording = blob.recording
    runtime.audit.record(
        actor,
        "recording.open",
        f"recording:{recording.id}",
        {"object": blob.object_id, "purpose": purpose},
    )
    return reader


def open_file(runtime: Runtime, actor: str, blob: RecordingBlob, purpose: str) -> io.BufferedReader:
    """A blob as a file to read and seek in, decrypted a window at a time (each read decrypts
    the chunks it touches; nothing decrypted is written anywhere); the opening is audited."""
    reader = open_blob(runtime, actor, blob, purpose)
    try:
        raw = SealedFile(reader, prefix=blob.status == "truncated")
    except BaseException:
        reader.close()
        raise
    return io.BufferedReader(raw, READ_BLOCK)


def delete_blobs(runtime: Runtime, blobs: Iterable[RecordingBlob]) -> int:
    """Delete blobs, their stored objects first; returns how many went."""
    store = blob_store(runtime)
    gone = 0
    for blob in list(blobs):
        store.delete(bytes.fromhex(blob.object_id))
        blob.delete_instance()
        gone += 1
    return gone


def unaudited_reader(runtime: Runtime, blob: RecordingBlob) -> SealedReader:
    """Decrypt access to one blob; the caller writes the audit entry (see open_blob)."""
    recording = blob.recording
    if recording.status == "erased" or recording.key_id is None:
        raise keystore.KeyMissing(f"recording {recording.id} was erased; it cannot be read")
    key_id = bytes.fromhex(recording.key_id)
    data_key = keystore.unwrap(runtime.config.data_dir, key_id)
    source = blob_store(runtime).open(bytes.fromhex(blob.object_id))
    try:
        return SealedReader(source, data_key, key_id, bytes.fromhex(blob.object_id))
    except Exception:
        source.close()
        raise


def get_recording(recording_id: int) -> Recording:
    recording = Recording.get_or_none(Recording.id == recording_id)
    if recording is None:
        raise NotFound(f"no recording with id {recording_id}")
    return recording


def _file_chunks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as source:
        while block := source.read(READ_BLOCK):
            yield block


def import_files(
    runtime: Runtime,
    actor: str,
    paths: list[Path],
    candidate_email: str,
    interview_id: int | None = None,
) -> Recording:
    """Seal existing media files as one recording of the candidate's (or a new) interview."""
    for path in paths:
        if not path.is_file():
            raise ApplianceError(f"{path} is not a readable file")
    made: list[Candidate | Interview] = []
    interview = _interview_for_import(runtime, actor, candidate_email, interview_id, made)
    recording = start_recording(runtime, interview, source="import")
    try:
        _seal_files(runtime, actor, recording, paths)
    except BaseException as exc:
        _undo_import(runtime, actor, recording, made, exc)
        if isinstance(exc, OSError):
            raise ApplianceError(
                f"the import failed and was undone: {exc.strerror or exc}"
            ) from exc
        raise
    recording.status = "complete"
    recording.ended_at = utcnow()
    recording.save()
    return recording


def _seal_files(runtime: Runtime, actor: str, recording: Recording, paths: list[Path]) -> None:
    for path in paths:
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kind = (
            media_type.split("/")[0] if media_type.split("/")[0] in ("audio", "video") else "media"
        )
        spec = BlobSpec("imported", kind, path.name, media_type)
        seal_blob(runtime, actor, recording, spec, _file_chunks(path), durable=False)


def _undo_import(
    runtime: Runtime,
    actor: str,
    recording: Recording,
    made: list[Candidate | Interview],
    exc: BaseException,
) -> None:
    """Take back everything a failed import made (its sealed blobs, its data key, the
    recording, and the interview and candidate it created), and audit the failure."""
    delete_blobs(runtime, RecordingBlob.select().where(RecordingBlob.recording == recording))
    with runtime.db.atomic():
        if recording.key_id is not None:
            keystore.destroy(bytes.fromhex(recording.key_id))
        recording.delete_instance()
        undone = [f"{type(row).__name__.lower()}:{row.id}" for row in reversed(made)]
        for row in reversed(made):
            row.delete_instance()
        runtime.audit.record(
            actor,
            "recording.import_failed",
            f"recording:{recording.id}",
            {"reason": str(exc)[:200], "undone": undone},
        )


def _interview_for_import(
    runtime: Runtime,
    actor: str,
    candidate_email: str,
    interview_id: int | None,
    made: list[Candidate | Interview],
) -> Interview:
    """The interview to file an import under; what it had to create is added to `made`."""
    email = candidate_email.strip().lower()
    if interview_id is not None:
        interview = Interview.get_or_none(Interview.id == interview_id)
        if interview is None:
            raise NotFound(f"no interview with id {interview_id}")
        if interview.candidate.email != email:
            raise ApplianceError(f"interview {interview_id} is not with {email}")
        return interview
    candidate = Candidate.get_or_none((Candidate.email == email) & Candidate.erased_at.is_null())
    if candidate is None:
        fields = CandidateFields(name=email.split("@")[0], email=email)
        candidate = create_candidate(runtime.audit, actor, fields)
        made.append(candidate)
    now = utcnow()
    interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now, status="imported")
    made.append(interview)
    return interview
