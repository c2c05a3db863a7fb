"""The audit log detects every change to its rows, and `appliance audit verify` names it."""

import itertools
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.db.models import AuditCheckpoint, AuditEntry
from appliance.runtime import Runtime
from appliance.storage import audit
from appliance.storage.audit import AuditLog
from appliance.storage.audit_anchor import Anchor, anchor_path, keep_anchor, signed_note


def _fill(runtime: Runtime, count: int) -> None:
    for i in range(count):
        runtime.audit.record("alice@example.com", "recording.view", f"recording:{i}", {"n": i})


def _verify_cli(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_intact_log_verifies(runtime: Runtime) -> None:
    _fill(runtime, 5)
    result = audit.verify(runtime.keys.public_key)
    assert result.ok, result.reason
    assert result.entries == AuditEntry.select().count() >= 5


def test_each_entry_commits_to_the_previous_hash(runtime: Runtime) -> None:
    _fill(runtime, 3)
    entries = list(AuditEntry.select().order_by(AuditEntry.seq))
    assert entries[0].prev_hash == audit.GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash


def test_altered_row_is_named(runtime: Runtime, data_dir: Path) -> None:
    _fill(runtime, 6)
    AuditEntry.update(subject="recording:999").where(AuditEntry.seq == 4).execute()
    result = audit.verify(runtime.keys.public_key)
    assert result.bad_seq == 4 and "altered" in result.reason
    cli = _verify_cli(data_dir)
    assert cli.returncode == 1
    assert "entry 4" in cli.stderr and "Traceback" not in cli.stderr


def test_deleted_row_is_named(runtime: Runtime, data_dir: Path) -> None:
    _fill(runtime, 6)
    AuditEntry.delete().where(AuditEntry.seq == 3).execute()
    result = audit.verify(runtime.keys.public_key)
    assert result.bad_seq == 3 and "missing" in result.reason
    assert "entry 3" in _verify_cli(data_dir).stderr


def test_reordered_rows_are_named(runtime: Runtime) -> None:
    _fill(runtime, 6)
    a = AuditEntry.get(AuditEntry.seq == 3)
    b = AuditEntry.get(AuditEntry.seq == 5)
    fields = ("at", "actor", "action", "subject", "details", "prev_hash", "entry_hash")
    swapped_a = {f: getattr(b, f) for f in fields}
    swapped_b = {f: getattr(a, f) for f in fields}
    AuditEntry.update(**swapped_a).where(AuditEntry.seq == 3).execute()
    AuditEntry.update(**swapped_b).where(AuditEntry.seq == 5).execute()
    result = audit.verify(runtime.keys.public_key)
    assert result.bad_seq == 3


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(runtime: Runtime) -> None:
    """An attacker who recomputes every hash after an edit cannot forge the checkpoint."""
    log = AuditLog(runtime.db, runtime.keys.signing_key, checkpoint_every=1000)
    for i in range(4):
        log.record("bob@example.com", "recording.download", f"recording:{i}")
    covered = log.checkpoint()
    assert covered is not None
    entries = list(AuditEntry.select().order_by(AuditEntry.seq))
    prev = audit.GENESIS_HASH
    for entry in entries:
        subject = "recording:forged" if entry.seq == 2 else entry.subject
        digest = audit.entry_hash(
            entry.seq, entry.at, entry.actor, entry.action, subject, entry.details, prev
        )
        AuditEntry.update(subject=subject, prev_hash=prev, entry_hash=digest).where(
            AuditEntry.seq == entry.seq
        ).execute()
        prev = digest
    result = audit.verify(runtime.keys.public_key)
    assert not result.ok
    assert result.bad_seq == covered.seq and "signed checkpoint" in result.reason


def test_truncated_tail_is_caught_by_the_checkpoint(runtime: Runtime) -> None:
    _fill(runtime, 4)
    covered = runtime.audit.checkpoint()
    assert covered is not None
    AuditEntry.delete().where(AuditEntry.seq >= covered.seq - 1).execute()
    result = audit.verify(runtime.keys.public_key)
    assert result.bad_seq == covered.seq - 1 and "missing" in result.reason


def test_checkpoint_signed_by_another_key_is_refused(runtime: Runtime) -> None:
    _fill(runtime, 2)
    checkpoint = runtime.audit.checkpoint()
    assert checkpoint is not None
    forged = Ed25519PrivateKey.generate().sign(
        audit.checkpoint_message(checkpoint.seq, checkpoint.entry_hash, checkpoint.at)
    )
    AuditCheckpoint.update(signature=forged.hex()).where(
        AuditCheckpoint.id == checkpoint.id
    ).execute()
    result = audit.verify(runtime.keys.public_key)
    assert result.bad_seq == checkpoint.seq and "invalid signature" in result.reason


def test_checkpoints_are_written_every_n_entries(runtime: Runtime) -> None:
    log = AuditLog(runtime.db, runtime.keys.signing_key, checkpoint_every=3)
    before = AuditCheckpoint.select().count()
    start = AuditEntry.select().count()
    for _ in range(7):
        log.record("system", "test.tick")
    expected = len([seq for seq in range(start + 1, start + 8) if seq % 3 == 0])
    assert AuditCheckpoint.select().count() - before == expected


def test_cli_verify_reports_counts(runtime: Runtime, data_dir: Path) -> None:
    _fill(runtime, 3)
    runtime.audit.checkpoint()
    cli = _verify_cli(data_dir)
    assert cli.returncode == 0, cli.stderr
    entries = AuditEntry.select().count()
    checkpoints = AuditCheckpoint.select().count()
    assert cli.stdout.strip() == f"OK: {entries} entries, {checkpoints} checkpoints"


CADENCE = 10


def _log(runtime: Runtime, data_dir: Path) -> AuditLog:
    return AuditLog(runtime.db, runtime.keys.signing_key, CADENCE, anchor_path(data_dir))


def _fill_to(log: AuditLog, last_seq: int) -> None:
    while audit.entry_count() < last_seq:
        log.record("alice@example.com", "recording.view", "recording:1")


def _rechain() -> None:
    """What an attacker with the database does after changing rows: renumber the entries
    1, 2, 3, … and recompute every hash, so the chain itself verifies."""
    prev = audit.GENESIS_HASH
    for seq, entry in enumerate(list(AuditEntry.select().order_by(AuditEntry.seq)), start=1):
        digest = audit.entry_hash(
            seq, entry.at, entry.actor, entry.action, entry.subject, entry.details, prev
        )
        AuditEntry.update(seq=seq, prev_hash=prev, entry_hash=digest).where(
            AuditEntry.seq == entry.seq
        ).execute()
        prev = digest


def _verify(runtime: Runtime, data_dir: Path, *notes: Path) -> audit.Verification:
    return audit.verify_against(runtime.keys.public_key, CADENCE, [anchor_path(data_dir), *notes])


def test_deleting_every_checkpoint_and_rechaining_an_altered_log_is_caught(
    runtime: Runtime, data_dir: Path
) -> None:
    _fill_to(_log(runtime, data_dir), 35)
    AuditEntry.update(subject="recording:forged").where(AuditEntry.seq == 5).execute()
    AuditCheckpoint.delete().execute()
    _rechain()
    assert audit.verify(runtime.keys.public_key, CADENCE, []).bad_seq == 1
    result = _verify(runtime, data_dir)
    assert not result.ok and "no signed checkpoint" in result.reason


def test_deleting_entries_in_the_middle_and_rechaining_is_caught(
    runtime: Runtime, data_dir: Path
) -> None:
    _fill_to(_log(runtime, data_dir), 100)
    AuditEntry.delete().where(AuditEntry.seq.between(40, 60)).execute()
    AuditCheckpoint.delete().where(AuditCheckpoint.seq >= 40).execute()  # they would not match
    _rechain()
    result = audit.verify(runtime.keys.public_key, CADENCE, [])
    # Entries after the last checkpoint left (30) run on far past one cadence.
    assert result.bad_seq == 31 and "checkpoints were removed" in result.reason


def test_cutting_the_newest_entries_and_checkpoints_is_caught_by_the_kept_checkpoint(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    log = _log(runtime, data_dir)
    _fill_to(log, 70)
    older_note = tmp_path / "older.note"
    older_note.write_bytes(anchor_path(data_dir).read_bytes())  # the note at entry 70
    _fill_to(log, 100)
    assert log.checkpoint() is None  # entry 100 is checkpointed already; the note says so
    officer_copy = tmp_path / "officer.note"
    officer_copy.write_bytes(anchor_path(data_dir).read_bytes())
    assert _verify(runtime, data_dir, officer_copy).ok
    # The attacker cuts entries 71..100 with their checkpoints: the chain and its remaining
    # checkpoints agree, and no run lacks a checkpoint.
    AuditEntry.delete().where(AuditEntry.seq > 70).execute()
    AuditCheckpoint.delete().where(AuditCheckpoint.seq > 70).execute()
    assert audit.verify(runtime.keys.public_key, CADENCE, []).ok
    # The note beside the database still names entry 100.
    result = _verify(runtime, data_dir)
    assert result.bad_seq == 71 and "checkpoint kept in" in result.reason
    # Putting back an older genuine note hides it on the box, not from the officer's copy.
    anchor_path(data_dir).write_bytes(older_note.read_bytes())
    assert _verify(runtime, data_dir).ok
    cli = subprocess.run(
        [sys.executable, "-m", "appliance", "audit", "verify", "--data-dir", str(data_dir),
         "--against", str(officer_copy)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                             "APPLIANCE_AUDIT_CHECKPOINT_EVERY": str(CADENCE)},
    )  # fmt: skip
    assert cli.returncode == 1 and "entries 71..100 are missing" in cli.stderr, cli.stderr


def test_a_forged_or_damaged_note_fails_verification(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    _fill_to(_log(runtime, data_dir), 20)
    note = anchor_path(data_dir).read_text()
    assert note.startswith("parley-audit\n20\n") and "\n\n\u2014 parley-audit " in note
    other = Ed25519PrivateKey.generate()
    forged = tmp_path / "forged.note"
    forged.write_text(signed_note(Anchor(20, "ab" * 32, "2026-01-01T00:00:00Z"), other))
    damaged = (note.replace("\n20\n", "\n19\n"), note[:40], "\x00" * 10, note + "x" * 5000)
    for text in (forged.read_text(), *damaged):
        anchor_path(data_dir).write_text(text)
        result = _verify(runtime, data_dir)
        assert not result.ok and result.bad_seq == 0 and "audit-checkpoint.note" in result.reason


def test_the_note_only_moves_forward_and_only_after_commit(
    runtime: Runtime, data_dir: Path
) -> None:
    log = _log(runtime, data_dir)
    _fill_to(log, 9)
    with runtime.db.atomic() as transaction:
        log.record("alice@example.com", "recording.view")  # entry 10 is checkpointed...
        transaction.rollback()  # ...but never committed: the note must not name it
    assert not anchor_path(data_dir).exists() or "\n10\n" not in anchor_path(data_dir).read_text()
    _fill_to(log, 20)
    newer = anchor_path(data_dir).read_text()
    keep_anchor(anchor_path(data_dir), Anchor(10, "00" * 32, "t"), runtime.keys.signing_key)
    assert anchor_path(data_dir).read_text() == newer
