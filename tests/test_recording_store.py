"""Recordings at rest: import, audited opening, compliance export, erasure and retention."""

import datetime
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditCheckpoint,
    AuditEntry,
    Candidate,
    DataKey,
    Interview,
    RecordingBlob,
)
from appliance.recordings import bundle, retention
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.store import blob_store, import_files, open_blob
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.recipients import UnwrapFailed, generate_identity, unwrap_with_identity
from appliance.storage.sealed import SealedReader
from tests.support.disks import small_disk

AUDIO = os.urandom(300_000)
VIDEO = os.urandom(150_001)


@pytest.fixture
def media(tmp_path: Path) -> list[Path]:
    (tmp_path / "media").mkdir()
    audio, video = tmp_path / "media" / "alex.ogg", tmp_path / "media" / "alex.webm"
    audio.write_bytes(AUDIO)
    video.write_bytes(VIDEO)
    return [audio, video]


def test_import_seals_each_file_as_a_blob_of_one_recording(
    runtime: Runtime, media: list[Path]
) -> None:
    recording = import_files(runtime, "cli", media, "Alex@Example.com")
    blobs = list(RecordingBlob.select().where(RecordingBlob.recording == recording))
    assert [(b.kind, b.filename, b.plaintext_bytes) for b in blobs] == [
        ("audio", "alex.ogg", len(AUDIO)),
        ("video", "alex.webm", len(VIDEO)),
    ]
    assert Candidate.get().email == "alex@example.com"
    assert recording.interview.status == "imported"
    stored = blob_store(runtime).path(bytes.fromhex(blobs[0].object_id)).read_bytes()
    assert AUDIO[:4096] not in stored
    seals = AuditEntry.select().where(AuditEntry.action == "recording.seal").count()
    assert seals == 2


def test_opening_a_blob_is_audited_and_supports_ranges(runtime: Runtime, media: list[Path]) -> None:
    recording = import_files(runtime, "cli", media, "alex@example.com")
    blob = RecordingBlob.get(RecordingBlob.kind == "audio")
    reader = open_blob(runtime, "ivy@example.com", blob, "playback")
    assert reader.read_range(150_000, 70_000) == AUDIO[150_000:220_000]
    entry = AuditEntry.select().where(AuditEntry.action == "recording.open").get()
    assert entry.actor == "ivy@example.com" and entry.subject == f"recording:{recording.id}"


def test_import_of_a_missing_file_stores_nothing(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(ApplianceError, match="not a readable file"):
        import_files(runtime, "cli", [tmp_path / "nope.ogg"], "alex@example.com")
    assert Interview.select().count() == 0


@pytest.mark.parametrize("existing_interview", [False, True])
def test_an_import_that_fills_the_disk_is_undone_whole_and_audited(
    runtime: Runtime, media: list[Path], tmp_path: Path, existing_interview: bool
) -> None:
    from appliance.db.models import DataKey, Recording

    interview_id = None
    if existing_interview:
        interview_id = import_files(runtime, "cli", media[:1], "alex@example.com").interview.id
    large = tmp_path / "media" / "alex-2.webm"
    large.write_bytes(os.urandom(2 * 1024 * 1024))
    tables = (Candidate, Interview, Recording, RecordingBlob, DataKey)
    before = {table.__name__: table.select().count() for table in tables}
    blobs = runtime.config.blob_dir
    files_before = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    saved = {p.relative_to(blobs): p.read_bytes() for p in blobs.rglob("*") if p.is_file()}
    with small_disk(blobs, "1m"):
        for name, data in saved.items():  # what was there before moves onto the small disk
            (blobs / name).parent.mkdir(parents=True, exist_ok=True)
            (blobs / name).write_bytes(data)
        # The first file fits, the second cannot: both go, and so does all the import made.
        with pytest.raises(ApplianceError, match="the import failed and was undone: No space"):
            import_files(runtime, "cli", [media[0], large], "alex@example.com", interview_id)
        assert sorted(p.name for p in blobs.rglob("*") if p.is_file()) == files_before
    assert {table.__name__: table.select().count() for table in tables} == before
    failure = AuditEntry.get(AuditEntry.action == "recording.import_failed")
    undone = json.loads(failure.details)["undone"]
    made = [] if existing_interview else ["interview", "candidate"]
    assert [subject.split(":")[0] for subject in undone] == made


def _export(runtime: Runtime, media: list[Path], tmp_path: Path) -> tuple[Path, object]:
    recording = import_files(runtime, "cli", media, "alex@example.com")
    officer = generate_identity()
    out = tmp_path / "export.bundle"
    bundle.export(runtime, "cora@example.com", recording.id, officer.recipient, out)
    return out, officer


def test_export_verify_and_decrypt_round_trip(
    runtime: Runtime, media: list[Path], tmp_path: Path
) -> None:
    out, officer = _export(runtime, media, tmp_path)
    report = bundle.verify(out, runtime.keys.public_key)
    assert report.blobs == 2 and report.audit_entries == 3  # two seals and the export
    written = bundle.decrypt(out, officer, tmp_path / "plain")  # type: ignore[arg-type]
    assert sorted(p.read_bytes() for p in written) == sorted([AUDIO, VIDEO])
    assert AuditEntry.select().where(AuditEntry.action == "recording.export").count() == 1


def _rewrite_member(source: Path, target: Path, name: str, edit: object) -> None:
    with tarfile.open(source) as old, tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as new:
        for member in old.getmembers():
            data = old.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith(name):
                data = edit(data)  # type: ignore[operator]
            member.size = len(data)
            import io

            new.addfile(member, io.BytesIO(data))


def _flip(offset: int):  # type: ignore[no-untyped-def]
    def edit(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[offset] ^= 1
        return bytes(changed)

    return edit


def test_tampered_bundles_fail_with_a_named_reason(
    runtime: Runtime, media: list[Path], tmp_path: Path
) -> None:
    out, officer = _export(runtime, media, tmp_path)
    cases = {
        "blobs/": ("does not match its SHA-256", _flip(5000)),
        "manifest.json": ("signature is invalid", lambda d: d.replace(b'"import"', b'"Import"')),
        "manifest.sig": ("signature is invalid", lambda d: b"00" + d[2:]),
    }
    for name, (message, edit) in cases.items():
        broken = tmp_path / f"broken-{name.strip('/')}"
        _rewrite_member(out, broken, name, edit)
        with pytest.raises(bundle.BundleInvalid, match=message):
            bundle.verify(broken)
        target = tmp_path / f"out-{name.strip('/')}"
        with pytest.raises(bundle.BundleInvalid):
            bundle.decrypt(broken, officer, target)  # type: ignore[arg-type]
        assert not target.exists() or not list(target.iterdir())


def test_wrong_identity_and_untrusted_signer_are_refused(
    runtime: Runtime, media: list[Path], tmp_path: Path
) -> None:
    out, _ = _export(runtime, media, tmp_path)
    with pytest.raises(UnwrapFailed, match="another recipient"):
        bundle.decrypt(out, generate_identity(), tmp_path / "plain")
    assert not list((tmp_path / "plain").glob("*")) if (tmp_path / "plain").exists() else True
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with pytest.raises(bundle.BundleInvalid, match="another appliance"):
        bundle.verify(out, Ed25519PrivateKey.generate().public_key())


def test_not_a_bundle_and_existing_output_files(
    runtime: Runtime, media: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "junk").write_bytes(os.urandom(2000))
    with pytest.raises(bundle.BundleInvalid):
        bundle.verify(tmp_path / "junk")
    out, officer = _export(runtime, media, tmp_path)
    first = bundle.decrypt(out, officer, tmp_path / "plain")  # type: ignore[arg-type]
    before = {p: p.read_bytes() for p in first}
    with pytest.raises(ApplianceError, match="already exists"):
        bundle.decrypt(out, officer, tmp_path / "plain")  # type: ignore[arg-type]
    assert {p: p.read_bytes() for p in first} == before
    with pytest.raises(ApplianceError, match="already exists"):
        bundle.export(runtime, "c", 1, officer.recipient, out)  # type: ignore[attr-defined]


def test_erasure_makes_every_copy_unreadable(
    runtime: Runtime, media: list[Path], tmp_path: Path
) -> None:
    officer = generate_identity()
    keystore.add_recipient(
        runtime.audit, "t", runtime.config.data_dir, officer.recipient, "", False
    )
    recording = import_files(runtime, "cli", media, "alex@example.com")
    import_files(runtime, "cli", media[:1], "sam@example.com")  # someone else's stays
    blob = RecordingBlob.get(
        (RecordingBlob.kind == "audio") & (RecordingBlob.recording == recording)
    )
    copy = tmp_path / "backup.sealed"
    shutil.copy(blob_store(runtime).path(bytes.fromhex(blob.object_id)), copy)
    key_id = bytes.fromhex(recording.key_id)

    report = erase_candidate(
        runtime, "cora@example.com", recording.interview.candidate_id, "request"
    )

    assert report.recordings == [recording.id] and report.key_entries_destroyed == 2
    assert DataKey.select().count() == 2  # only the other candidate's entries are left
    assert not blob_store(runtime).path(bytes.fromhex(blob.object_id)).exists()
    # Neither the appliance nor the compliance officer has any wrapping left to open.
    with pytest.raises(keystore.KeyMissing):
        keystore.unwrap(runtime.config.data_dir, key_id)
    assert not DataKey.select().where(DataKey.key_id == recording.key_id).exists()
    candidate = Candidate.get_by_id(recording.interview.candidate_id)
    assert (candidate.name, candidate.email) == ("(erased)", "")
    entry = AuditEntry.get(AuditEntry.action == "candidate.erase")
    assert blob.object_id in entry.details and recording.key_id in entry.details
    assert AuditCheckpoint.select().where(AuditCheckpoint.seq >= entry.seq).exists()
    with pytest.raises(ApplianceError):
        erase_candidate(runtime, "cora@example.com", candidate.id, "again")
    assert copy.stat().st_size > 0
    for entry in DataKey.select():  # whatever key entries remain, none opens the copy
        with pytest.raises(UnwrapFailed):
            unwrap_with_identity(officer, key_id, bytes(entry.wrapped))
    with pytest.raises(keystore.KeyMissing):
        SealedReader(copy.open("rb"), keystore.unwrap(runtime.config.data_dir, key_id))


def test_legal_hold_blocks_erasure_and_retention(runtime: Runtime, media: list[Path]) -> None:
    recording = import_files(runtime, "cli", media, "alex@example.com")
    candidate_id = recording.interview.candidate_id
    Interview.update(ends_at=utcnow() - datetime.timedelta(days=400)).execute()
    assert [
        d.candidate_id for d in retention.due_for_erasure(runtime.config.retention, utcnow())
    ] == [candidate_id]
    retention.set_hold(runtime.audit, "cora@example.com", candidate_id, "case 42")
    assert retention.due_for_erasure(runtime.config.retention, utcnow()) == []
    with pytest.raises(ApplianceError, match="legal hold"):
        erase_candidate(runtime, "cora@example.com", candidate_id, "request")
    retention.release_hold(runtime.audit, "cora@example.com", candidate_id)
    assert retention.run(runtime, "retention", dry_run=True)[0].candidate_id == candidate_id
    assert Candidate.get_by_id(candidate_id).erased_at is None
    retention.run(runtime, "retention", dry_run=False)
    assert Candidate.get_by_id(candidate_id).erased_at is not None


def test_decision_starts_its_own_retention_clock(runtime: Runtime) -> None:
    from appliance.hiring.candidates import CandidateFields, create_candidate, update_candidate

    candidate = create_candidate(runtime.audit, "t", CandidateFields("Bo", "bo@example.com"))
    assert retention.due_for_erasure(runtime.config.retention, utcnow()) == []
    update_candidate(
        runtime.audit, "t", candidate.id, CandidateFields("Bo", "bo@example.com", status="rejected")
    )
    later = utcnow() + datetime.timedelta(days=runtime.config.retention.days_after_decision + 1)
    assert [d.rule for d in retention.due_for_erasure(runtime.config.retention, later)] == [
        "decision"
    ]


def test_a_seal_that_fails_midway_leaves_no_file_or_row(
    runtime: Runtime, media: list[Path]
) -> None:
    from appliance.recordings.store import BlobSpec, seal_blob

    recording = import_files(runtime, "cli", media[:1], "alex@example.com")
    before = set(blob_store(runtime).root.rglob("*.sealed"))

    def chunks():  # type: ignore[no-untyped-def]
        yield os.urandom(100_000)
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):
        seal_blob(runtime, "cli", recording, BlobSpec("imported", "audio"), chunks())
    assert set(blob_store(runtime).root.rglob("*.sealed")) == before
    assert RecordingBlob.select().where(RecordingBlob.recording == recording).count() == 1
