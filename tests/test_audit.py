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
