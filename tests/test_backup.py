"""Backups: a sealed snapshot of a running appliance restores onto a fresh data dir with its
users, interviews and recordings (which still decrypt); a bad backup changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.box import backup
from appliance.cli import main
from appliance.core.config import load_config
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import Interview, Recording, RecordingBlob, User
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings.store import BlobSpec, open_blob, seal_blob, start_recording
from appliance.runtime import Runtime, open_runtime
from appliance.storage import audit
from appliance.storage.audit_anchor import anchor_path, read_anchor
from appliance.storage.recipients import generate_identity, write_identity
from tests.conftest import make_user

MEDIA = bytes(range(256)) * 1000


def _recorded_appliance(runtime: Runtime) -> None:
    make_user(runtime, "admin", "ada@example.com")
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Alex", "alex@example.com"))
    interview = Interview.create(candidate=candidate, starts_at=utcnow(), ends_at=utcnow())
    recording = start_recording(runtime, interview)
    seal_blob(
        runtime,
        "t",
        recording,
        BlobSpec("alex", "media", "alex.webm"),
        [MEDIA[:100000], MEDIA[100000:]],
    )


def test_a_backup_restores_onto_a_fresh_box_and_its_recordings_still_decrypt(
    runtime: Runtime, tmp_path: Path
) -> None:
    _recorded_appliance(runtime)
    officer = generate_identity()
    out = tmp_path / "parley.backup"
    runtime.audit.checkpoint()  # the box's note now names the newest entry
    report = backup.create(runtime, "ops", out, officer.recipient)
    assert report.blobs == 1 and out.stat().st_size > len(MEDIA)
    assert MEDIA[:4096] not in out.read_bytes()  # sealed, not a plain tar
    assert (runtime.config.data_dir / "keys" / "kek.key").read_bytes() not in out.read_bytes()
    runtime.close()

    fresh = load_config(tmp_path / "restored", environ={})
    restored = backup.restore(fresh, out, officer)
    assert restored.blobs == 1
    again = open_runtime(fresh)
    try:
        assert User.get(User.email == "ada@example.com").role == "admin"
        [blob] = RecordingBlob.select()
        assert blob.recording.interview.candidate.name == "Alex"
        plain = b"".join(open_blob(again, "ada@example.com", blob, "playback").stream())
        assert plain == MEDIA
        assert audit.verify(again.keys.public_key).ok
        # The checkpoint note came along, and the restored log still holds its entry.
        note = anchor_path(fresh.data_dir)
        assert read_anchor(note, again.keys.public_key) is not None
        assert audit.verify_against(again.keys.public_key, 100, [note]).ok
        assert {"backup.create", "backup.restore"} <= {e.action for e in audit._entries()}
    finally:
        again.close()


def test_a_backup_is_taken_while_the_database_is_in_use(runtime: Runtime, tmp_path: Path) -> None:
    _recorded_appliance(runtime)
    officer = generate_identity()
    writer = runtime.db.atomic()  # an open write transaction elsewhere in the appliance
    writer.__enter__()
    Recording.update(status="complete").execute()
    out = tmp_path / "live.backup"
    backup.create(runtime, "ops", out, officer.recipient, blobs=False)
    writer.__exit__(None, None, None)
    fresh = load_config(tmp_path / "restored", environ={})
    assert backup.restore(fresh, out, officer).blobs == 0
    again = open_runtime(fresh)
    try:
        assert Recording.get().status == "recording"  # the snapshot has the committed state
    finally:
        again.close()


@pytest.mark.parametrize("damage", ["flip", "cut", "foreign", "not-a-backup"])
def test_a_bad_backup_is_refused_and_leaves_no_appliance_behind(
    runtime: Runtime, tmp_path: Path, damage: str
) -> None:
    _recorded_appliance(runtime)
    officer = generate_identity()
    out = tmp_path / "parley.backup"
    backup.create(runtime, "ops", out, officer.recipient)
    data = bytearray(out.read_bytes())
    identity = officer
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "cut":
        del data[len(data) * 2 // 3 :]
    elif damage == "foreign":
        identity = generate_identity()
    else:
        data = bytearray(b"PK\x03\x04 a zip file")
    out.write_bytes(bytes(data))
    fresh = load_config(tmp_path / "restored", environ={})
    with pytest.raises(ApplianceError):
        backup.restore(fresh, out, identity)
    leftovers = [p for p in fresh.data_dir.rglob("*") if p.is_file()]
    assert leftovers == []


def test_restore_refuses_a_data_dir_that_holds_an_appliance(
    runtime: Runtime, tmp_path: Path
) -> None:
    officer = generate_identity()
    out = tmp_path / "parley.backup"
    backup.create(runtime, "ops", out, officer.recipient)
    with pytest.raises(ApplianceError, match="already holds an appliance"):
        backup.restore(runtime.config, out, officer)


def test_the_backup_commands(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _recorded_appliance(runtime)
    identity_file = tmp_path / "backup.identity"
    officer = generate_identity()
    write_identity(identity_file, officer, "now")
    data_dir = str(runtime.config.data_dir)
    out = str(tmp_path / "cli.backup")
    create = ["backup", "create", "--data-dir", data_dir, "--out", out]
    assert main([*create, "--recipient", officer.recipient]) == 0
    assert "1 blobs" in capsys.readouterr().out
    assert main([*create, "--recipient", officer.recipient]) == 1
    assert "already exists" in capsys.readouterr().err
    restored = str(tmp_path / "restored")
    assert (
        main(["backup", "restore", out, "--data-dir", restored, "--identity", str(identity_file)])
        == 0
    )
    assert "Restored" in capsys.readouterr().out
