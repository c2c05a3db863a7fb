"""Compliance export bundles: one file an officer verifies and decrypts without the appliance.

A bundle is an uncompressed POSIX tar holding `manifest.json`, `manifest.sig` and
`blobs/<object id>.sealed`. The manifest names the recording, its blobs with their SHA-256,
the data key wrapped for the officer's recipient, and the audit entries about the recording
with the checkpoint that covers them; the signature is the appliance's Ed25519 key over the
manifest. See docs/recording-format.md ("Export bundles").
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import AuditCheckpoint, AuditEntry, Interview, RecordingBlob
from appliance.recordings import composite, decision_record, rendition
from appliance.recordings.store import READABLE_BLOBS, blob_store, get_recording
from appliance.runtime import Runtime
from appliance.storage import audit, keystore
from appliance.storage.audit_anchor import MAX_NOTE_BYTES, AnchorInvalid, anchor_path, parse_note
from appliance.storage.blobstore import HashingFile
from appliance.storage.recipients import (
    Identity,
    parse_recipient,
    unwrap_with_identity,
    wrap_for_recipient,
)
from appliance.storage.sealed import HEADER_BYTES, SealedReader, SealError, Truncated, parse_header

FORMAT = "parley-export-v1"
SIGNATURE_DOMAIN = b"parley-export-v1\n"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
NOTE_FILE = "audit-checkpoint.note"  # the box's note (storage/audit_anchor.py), as it was
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
COPY_BLOCK = 1024 * 1024
DERIVED = (rendition.KIND, composite.KIND, composite.FIRST_PASS_KIND, decision_record.KIND)


class BundleInvalid(ApplianceError):
    """The bundle failed verification; the message names what."""


@dataclass(frozen=True)
class BundleReport:
    recording_id: int
    blobs: int
    audit_entries: int
    signer_fingerprint: str
    # The box's signed checkpoint note at export (its seq), which the bundle carries as
    # `audit-checkpoint.note`: kept by an officer, `appliance audit verify --against` it later
    # shows whether the box's log still holds what it held then.
    note_seq: int | None = None


def signer_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def _blob_member(object_id: str) -> str:
    return f"blobs/{object_id}.sealed"


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = 0
    archive.addfile(info, io.BytesIO(data))


def export(
    runtime: Runtime,
    actor: str,
    recording_id: int,
    recipient: str,
    out: Path,
    with_composite: bool = False,
) -> BundleReport:
    """Write the bundle for `recording_id`, readable by `recipient` only; never overwrites.
    `with_composite` adds the single-file export (made now if it was not) and the record of the
    decision: consent answers, submitted scorecards and the decisions."""
    parse_recipient(recipient)
    recording = get_recording(recording_id)
    if recording.status == "erased" or recording.key_id is None:
        raise ApplianceError(f"recording {recording_id} was erased; there is nothing to export")
    if out.exists():
        raise ApplianceError(f"{out} already exists; choose a new file name")
    writing = RecordingBlob.select().where(
        (RecordingBlob.recording == recording)
        & (RecordingBlob.status == "writing")
        & RecordingBlob.kind.not_in(DERIVED)
    )
    if writing.exists():
        raise ApplianceError(f"recording {recording_id} is still being written; export it later")
    extra = []
    if with_composite:
        made = composite.composite_of(recording) or composite.make_composite(runtime, recording)
        extra = [made.id, decision_record.seal_record(runtime, actor, recording).id]
    # Renditions are copies of tracks the bundle carries, remade from them at will; the
    # composite and the decision record come only when asked for.
    blobs = list(
        RecordingBlob.select().where(
            (RecordingBlob.recording == recording)
            & (RecordingBlob.kind.not_in(DERIVED) | RecordingBlob.id.in_(extra))
        )
    )
    blobs = [b for b in blobs if b.status in READABLE_BLOBS]
    if not blobs:
        raise ApplianceError(f"recording {recording_id} has no blobs to export")
    key_id = bytes.fromhex(recording.key_id)
    data_key = keystore.unwrap(runtime.config.data_dir, key_id)
    subject = f"recording:{recording.id}"
    runtime.audit.record(actor, "recording.export", subject, {"recipient": recipient.strip()})
    checkpoint = (
        runtime.audit.checkpoint()
        or AuditCheckpoint.select().order_by(AuditCheckpoint.seq.desc()).first()
    )
    entries = list(
        AuditEntry.select().where(AuditEntry.subject == subject).order_by(AuditEntry.seq)
    )
    note_file = anchor_path(runtime.config.data_dir)
    note = note_file.read_bytes() if note_file.is_file() else None
    interview: Interview = recording.interview
    manifest = {
        "format": FORMAT,
        "created_at": utcnow().isoformat() + "Z",
        "signer": base64.b64encode(
            runtime.keys.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        ).decode(),
        "recording": {
            "id": recording.id,
            "interview_id": interview.id,
            "candidate_id": interview.candidate_id,
            "source": recording.source,
            "status": recording.status,
            "started_at": recording.started_at.isoformat(),
            "ended_at": recording.ended_at.isoformat() if recording.ended_at else None,
        },
        "interview": {
            "starts_at": interview.starts_at.isoformat(),
            "ends_at": interview.ends_at.isoformat(),
            "participants": sorted({b.participant_identity for b in blobs}),
        },
        "key": {
            "key_id": recording.key_id,
            "recipient": recipient.strip(),
            "wrapped": base64.b64encode(wrap_for_recipient(recipient, key_id, data_key)).decode(),
        },
        "blobs": [
            {
                "object_id": b.object_id,
                "member": _blob_member(b.object_id),
                "participant": b.participant_identity,
                "kind": b.kind,
                "filename": b.filename,
                "media_type": b.media_type,
                "plaintext_bytes": b.plaintext_bytes,
                "sealed_sha256": b.sealed_sha256,
                "status": b.status,
            }
            for b in blobs
        ],
        "audit": {
            "entries": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": e.details,
                    "prev_hash": e.prev_hash,
                    "entry_hash": e.entry_hash,
                }
                for e in entries
            ],
            "checkpoint": {
                "seq": checkpoint.seq,
                "entry_hash": checkpoint.entry_hash,
                "at": checkpoint.at,
                "signature": checkpoint.signature,
            },
            "note_sha256": hashlib.sha256(note).hexdigest() if note is not None else None,
        },
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature = runtime.keys.signing_key.sign(SIGNATURE_DOMAIN + body).hex().encode()
    store = blob_store(runtime)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=".tmp")
    try:
        with (
            os.fdopen(fd, "wb") as file,
            tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as archive,
        ):
            _add_bytes(archive, MANIFEST, body)
            _add_bytes(archive, SIGNATURE, signature)
            if note is not None:
                _add_bytes(archive, NOTE_FILE, note)
            for blob in blobs:
                path = store.path(bytes.fromhex(blob.object_id))
                info = archive.gettarinfo(str(path), arcname=_blob_member(blob.object_id))
                info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = (
                    0o600,
                    0,
                    0,
                    0,
                    "",
                    "",
                )
                with path.open("rb") as source:
                    copied = HashingFile(source)
                    archive.addfile(info, copied)
                if copied.sha256.hexdigest() != blob.sealed_sha256:
                    runtime.audit.record(
                        actor, "recording.export-refused", subject, {"object": blob.object_id}
                    )
                    raise BundleInvalid(
                        f"blob {blob.object_id} of recording {recording_id} does not match the "
                        "SHA-256 recorded when it was sealed: it was damaged on disk, and "
                        "nothing was exported; restore it from a backup"
                    )
        os.link(tmp_name, out)
    finally:
        os.unlink(tmp_name)
    return BundleReport(
        recording.id, len(blobs), len(entries), signer_fingerprint(runtime.keys.public_key)
    )


class _Bundle:
    """A bundle opened for reading, with every structural check done up front."""

    def __init__(self, path: Path, trusted_signer: Ed25519PublicKey | None) -> None:
        self.path = path
        try:
            self.archive = tarfile.open(path, mode="r:")  # noqa: SIM115 (closed by __exit__)
        except FileNotFoundError:
            raise BundleInvalid(f"{path} does not exist") from None
        except (tarfile.TarError, OSError) as exc:
            raise BundleInvalid(f"{path} is not an export bundle: {exc}") from None
        try:
            self.archive.getmembers()  # reads every header now: a cut-off index fails here
            self.signer = self._verified_signer(trusted_signer)
        except (tarfile.TarError, EOFError) as exc:
            self.archive.close()
            raise self.damaged(exc) from None
        except BaseException:
            self.archive.close()
            raise

    def _verified_signer(self, trusted_signer: Ed25519PublicKey | None) -> Ed25519PublicKey:
        body = self._member_bytes(MANIFEST, MAX_MANIFEST_BYTES)
        signature = self._member_bytes(SIGNATURE, 1024)
        try:
            self.manifest: dict[str, Any] = json.loads(body)
            signer = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.manifest["signer"]))
        except (ValueError, KeyError, TypeError):
            raise BundleInvalid("the manifest is malformed") from None
        if self.manifest.get("format") != FORMAT:
            raise BundleInvalid(f"unknown bundle format {self.manifest.get('format')!r}")
        if trusted_signer is not None and signer_fingerprint(signer) != signer_fingerprint(
            trusted_signer
        ):
            raise BundleInvalid("the bundle was signed by another appliance than the one trusted")
        try:
            signer.verify(bytes.fromhex(signature.decode()), SIGNATURE_DOMAIN + body)
        except (InvalidSignature, ValueError):
            raise BundleInvalid(
                "the manifest signature is invalid: the bundle was altered"
            ) from None
        return signer

    def damaged(self, exc: BaseException) -> BundleInvalid:
        return BundleInvalid(f"{self.path} is truncated or damaged: {exc}")

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Members end early in a cut-off bundle; tarfile says so with its own errors."""
        try:
            yield
        except (tarfile.TarError, EOFError) as exc:
            raise self.damaged(exc) from None

    def __enter__(self) -> _Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()

    def _member_bytes(self, name: str, limit: int) -> bytes:
        file = self.open_member(name)
        data = file.read(limit + 1)
        if len(data) > limit:
            raise BundleInvalid(f"{name} is too large")
        return data

    def open_member(self, name: str) -> IO[bytes]:
        try:
            member = self.archive.getmember(name)
        except KeyError:
            raise BundleInvalid(f"the bundle has no {name}") from None
        file = self.archive.extractfile(member) if member.isfile() else None
        if file is None:
            raise BundleInvalid(f"{name} in the bundle is not a regular file")
        return file

    def check(self) -> BundleReport:
        """Hashes of every blob, their headers, and the audit entries and checkpoint; and every
        field decrypting needs, parsed now, so a malformed one is refused before any is used."""
        manifest = self.manifest
        try:
            self.key_id = bytes.fromhex(manifest["key"]["key_id"])
            self.wrapped_key = base64.b64decode(manifest["key"]["wrapped"], validate=True)
            blobs = manifest["blobs"]
            if not blobs:
                raise BundleInvalid("the manifest names no recording files")
            for blob in blobs:
                self._check_blob(blob, self.key_id)
            named = {blob["member"] for blob in blobs}
            if manifest["audit"].get("note_sha256") is not None:
                named.add(NOTE_FILE)
            self._check_members(named)
            self.outputs = [(blob, _output_name(blob)) for blob in blobs]
            entries = manifest["audit"]["entries"]
            self._check_audit(entries, manifest["audit"]["checkpoint"], manifest["recording"]["id"])
            note_seq = self._check_note(manifest["audit"].get("note_sha256"))
            recording_id = int(manifest["recording"]["id"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleInvalid(f"the manifest is malformed ({exc!r})") from None
        return BundleReport(
            recording_id, len(blobs), len(entries), signer_fingerprint(self.signer), note_seq
        )

    def _check_members(self, members: set[str]) -> None:
        """The bundle holds what its manifest names and nothing else: a recording file left
        out of a re-signed manifest would otherwise pass unseen."""
        named = {MANIFEST, SIGNATURE, *members}
        extra = sorted(m.name for m in self.archive.getmembers() if m.name not in named)
        if extra:
            raise BundleInvalid(f"the bundle holds files its manifest does not name: {extra[:3]}")

    def _check_note(self, digest: str | None) -> int | None:
        """The checkpoint note the manifest names: its bytes and its signature (by the
        bundle's signer); its seq, None for a bundle made before the box kept notes."""
        if digest is None:
            return None
        note = self._member_bytes(NOTE_FILE, MAX_NOTE_BYTES)
        if hashlib.sha256(note).hexdigest() != digest:
            raise BundleInvalid(f"{NOTE_FILE} does not match its SHA-256: altered")
        try:
            return parse_note(note.decode("utf-8"), self.signer).seq
        except (AnchorInvalid, UnicodeDecodeError) as exc:
            raise BundleInvalid(f"{NOTE_FILE}: {exc}") from None

    def _check_blob(self, blob: dict[str, Any], key_id: bytes) -> None:
        member = blob["member"]
        if member != _blob_member(blob["object_id"]):
            raise BundleInvalid(f"blob {blob['object_id']} is filed under an unexpected name")
        digest = hashlib.sha256()
        file = self.open_member(member)
        head = file.read(HEADER_BYTES)
        digest.update(head)
        while block := file.read(COPY_BLOCK):
            digest.update(block)
        if digest.hexdigest() != blob["sealed_sha256"]:
            raise BundleInvalid(f"blob {blob['object_id']} does not match its SHA-256: altered")
        header = parse_header(head)
        if header.key_id != key_id or header.object_id.hex() != blob["object_id"]:
            raise BundleInvalid(f"blob {blob['object_id']} carries the header of another object")

    def _check_audit(
        self, entries: list[dict[str, Any]], checkpoint: dict[str, Any], rid: int
    ) -> None:
        for entry in entries:
            recomputed = audit.entry_hash(
                entry["seq"],
                entry["at"],
                entry["actor"],
                entry["action"],
                entry["subject"],
                entry["details"],
                entry["prev_hash"],
            )
            if recomputed != entry["entry_hash"]:
                raise BundleInvalid(f"audit entry {entry['seq']} was altered")
            if entry["subject"] != f"recording:{rid}":
                raise BundleInvalid(f"audit entry {entry['seq']} is not about this recording")
        message = audit.checkpoint_message(
            checkpoint["seq"], checkpoint["entry_hash"], checkpoint["at"]
        )
        try:
            self.signer.verify(bytes.fromhex(checkpoint["signature"]), message)
        except (InvalidSignature, ValueError):
            raise BundleInvalid("the audit checkpoint signature is invalid") from None
        if entries and max(e["seq"] for e in entries) > checkpoint["seq"]:
            raise BundleInvalid("the audit checkpoint does not cover every entry")


def verify(path: Path, trusted_signer: Ed25519PublicKey | None = None) -> BundleReport:
    """Check a bundle without decrypting: signature, blob hashes and headers, audit entries."""
    with _Bundle(path, trusted_signer) as bundle, bundle.reading():
        return bundle.check()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _output_name(blob: dict[str, Any]) -> str:
    """A safe file name for a blob's plaintext, short enough for any file system (ASCII, at
    most 60 + 1 + 8 + 1 + 120 characters, and ".partial" around it while it is written)."""
    base = _UNSAFE.sub("_", Path(str(blob.get("filename") or blob["kind"])).name).strip("._")
    participant = _UNSAFE.sub("_", str(blob["participant"])).strip("._") or "participant"
    extension = Path(base).suffix[:12]
    base = base if len(base) <= 120 else base[: 120 - len(extension)] + extension
    return f"{participant[:60]}-{str(blob['object_id'])[:8]}-{base or 'blob'}"


def decrypt(
    path: Path, identity: Identity, out_dir: Path, trusted_signer: Ed25519PublicKey | None = None
) -> list[Path]:
    """Verify everything, then write each blob's plaintext into `out_dir` (new files only).

    Each chunk is authenticated as it is read; on any failure the files written so far are
    removed, so `out_dir` holds either every recording file or none of this bundle's.
    """
    with _Bundle(path, trusted_signer) as bundle, bundle.reading():
        bundle.check()
        return _write_plaintext(bundle, identity, out_dir)


def _copy_plaintext(reader: SealedReader, blob: dict[str, Any], out: IO[bytes]) -> None:
    """Every chunk, authenticated; a blob the signed manifest calls truncated (its recording
    was interrupted) must end exactly where the manifest says, at a chunk boundary."""
    written = 0
    try:
        for chunk in reader.stream():
            out.write(chunk)
            written += len(chunk)
    except Truncated:
        if blob.get("status") != "truncated" or written != blob.get("plaintext_bytes"):
            raise


def _write_plaintext(bundle: _Bundle, identity: Identity, out_dir: Path) -> list[Path]:
    """Decrypt a bundle `check()` has passed (it parsed the key and the output names)."""
    key_id = bundle.key_id
    data_key = unwrap_with_identity(identity, key_id, bundle.wrapped_key)
    out_dir.mkdir(parents=True, exist_ok=True)
    blobs = [blob for blob, _ in bundle.outputs]
    targets = [out_dir / name for _, name in bundle.outputs]
    for target in targets:
        if target.exists():
            raise ApplianceError(f"{target} already exists; decrypt into an empty directory")
    partials: list[Path] = []
    linked: list[Path] = []
    try:
        for blob, target in zip(blobs, targets, strict=True):
            source = bundle.open_member(blob["member"])
            reader = SealedReader(source, data_key, key_id, bytes.fromhex(blob["object_id"]))
            partial = target.with_name(f".{target.name}.partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            partials.append(partial)
            with os.fdopen(fd, "wb") as out:
                _copy_plaintext(reader, blob, out)
        # Every blob authenticated: only now do the plaintext files get their names.
        for partial, target in zip(partials, targets, strict=True):
            os.link(partial, target)  # fails rather than replace a file that appeared meanwhile
            linked.append(target)
    except BaseException as exc:
        for target in linked:
            target.unlink(missing_ok=True)
        if isinstance(exc, SealError):
            raise BundleInvalid(f"decryption failed: {exc}") from None
        raise
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)
    written = targets
    return written
