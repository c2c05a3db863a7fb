"""The append-only, hash-chained audit log with signed checkpoints.

Each entry commits to the previous entry's hash, so altering, deleting or reordering a row
breaks the chain at that row. Every `checkpoint_every` entries, and when a process stops, the
newest entry's hash is signed with the appliance's Ed25519 key, so even a rewrite of the
whole tail is caught by the checkpoint that covered it. The exact hashing and signing rules
are in docs/audit-log.md.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.core.atomic_file import write_atomically
from appliance.db.database import serialized
from appliance.db.models import AuditCheckpoint, AuditEntry
from appliance.storage.audit_anchor import Anchor, AnchorInvalid, keep_anchor, read_anchor

GENESIS_HASH = "0" * 64
DEFAULT_CHECKPOINT_EVERY = 100
CHECKPOINT_DOMAIN = b"parley-audit-checkpoint-v1\n"


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str
) -> str:
    """SHA-256 over the canonical JSON array of the entry's fields, hex."""
    body = json.dumps(
        [seq, at, actor, action, subject, details, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def checkpoint_message(seq: int, entry_hash_hex: str, at: str) -> bytes:
    return CHECKPOINT_DOMAIN + f"{seq}\n{entry_hash_hex}\n{at}".encode()


class AuditLog:
    """Appends entries to the log of the database the models are bound to."""

    def __init__(
        self,
        db: peewee.Database,
        signing_key: Ed25519PrivateKey,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        anchor: Path | None = None,
    ) -> None:
        self.db = db
        self.signing_key = signing_key
        self.checkpoint_every = max(1, checkpoint_every)
        # Where the newest checkpoint is kept outside the database (audit_anchor.py).
        self.anchor = anchor

    def record(
        self,
        actor: str,
        action: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry (and a checkpoint when one is due); returns the stored entry."""
        signed = None
        with serialized(self.db):
            last = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
            seq = last.seq + 1 if last else 1
            prev = last.entry_hash if last else GENESIS_HASH
            at = _now()
            text = canonical_details(details or {})
            entry = AuditEntry.create(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                details=text,
                prev_hash=prev,
                entry_hash=entry_hash(seq, at, actor, action, subject, text, prev),
            )
            if seq % self.checkpoint_every == 0:
                signed = self._sign(entry)
        self._keep(signed)
        return entry

    def checkpoint(self) -> AuditCheckpoint | None:
        """Sign the newest entry unless it is already covered, and keep the newest checkpoint
        outside the database; called at shutdown. Returns the checkpoint it made, if any."""
        made = None
        with serialized(self.db):
            last = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
            if last is None:
                return None
            newest = AuditCheckpoint.select().order_by(AuditCheckpoint.seq.desc()).first()
            if newest is None or newest.seq != last.seq:
                made = newest = self._sign(last)
        self._keep(newest)
        return made

    def _keep(self, checkpoint: AuditCheckpoint | None) -> None:
        """Write the checkpoint to the anchor file once it is committed: inside a caller's
        transaction it might still roll back, and the next checkpoint will do."""
        if checkpoint is None or self.anchor is None or self.db.in_transaction():
            return
        anchor = Anchor(checkpoint.seq, checkpoint.entry_hash, checkpoint.at)
        keep_anchor(self.anchor, anchor, self.signing_key)

    def _sign(self, entry: AuditEntry) -> AuditCheckpoint:
        at = _now()
        signature = self.signing_key.sign(checkpoint_message(entry.seq, entry.entry_hash, at))
        return AuditCheckpoint.create(
            seq=entry.seq, entry_hash=entry.entry_hash, at=at, signature=signature.hex()
        )


@dataclass(frozen=True)
class Verification:
    entries: int
    checkpoints: int
    # The first entry whose row is wrong or missing (0: a kept checkpoint note is not genuine),
    # and why; None when the log is intact.
    bad_seq: int | None = None
    reason: str = ""
    # The newest checkpoint the check found good: a later check may start from it (`since`).
    newest: Anchor | None = None

    @property
    def ok(self) -> bool:
        return self.bad_seq is None


def verify(
    public_key: Ed25519PublicKey,
    max_gap: int = DEFAULT_CHECKPOINT_EVERY,
    anchors: Sequence[tuple[str, Anchor]] = (),
    since: Anchor | None = None,
) -> Verification:
    """Check the whole chain and every checkpoint; name the earliest entry that fails. With
    `since` (a checkpoint an earlier check found good), only what came after it is walked:
    its own entry must still carry its hash, and the rest is left to a full check.

    A checkpoint is made every `max_gap` entries (`[audit] checkpoint_every`), so no run of
    more entries may lack one, the newest included: checkpoints removed with a re-chained log
    show as such a run. `anchors` are checkpoints kept outside the database (the data dir's
    note, an officer's copy), each named for the report: the log must still hold each one's
    entry with its hash, so entries cut from the end show too."""
    problems: list[tuple[int, str]] = []
    hashes: dict[int, str] = {}
    # A full check counts the rows; an incremental one trusts what an earlier check counted,
    # so the newest seq stands for the count (counting 500,000 rows on every view costs 30 ms).
    if since is None:
        count = AuditEntry.select().count()
    else:
        count = AuditEntry.select(peewee.fn.MAX(AuditEntry.seq)).scalar() or 0
    start = since.seq if since is not None else 0
    expected_seq = start + 1
    prev = since.entry_hash if since is not None else GENESIS_HASH
    if since is not None:
        hashes[since.seq] = since.entry_hash
        if _hash_at(since.seq) != since.entry_hash:
            problems.append(
                (since.seq, f"entry {since.seq} changed since the log was last verified")
            )
    for entry in _entries(after=start):
        if problems:
            break
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                problems.append((expected_seq, f"entry {expected_seq} is missing"))
            else:
                problems.append((entry.seq, f"entry {entry.seq} is out of order"))
            break
        if entry.prev_hash != prev:
            problems.append(
                (
                    entry.seq,
                    f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                    "the chain is broken (a row was altered, removed or reordered)",
                )
            )
            break
        recomputed = entry_hash(
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.subject,
            entry.details,
            entry.prev_hash,
        )
        if recomputed != entry.entry_hash:
            problems.append((entry.seq, f"entry {entry.seq} was altered: its hash does not match"))
            break
        hashes[entry.seq] = entry.entry_hash
        prev = entry.entry_hash
        expected_seq += 1

    checkpoints = list(
        AuditCheckpoint.select().where(AuditCheckpoint.seq > start).order_by(AuditCheckpoint.seq)
    )
    last_good = expected_seq - 1
    for cp in checkpoints:
        try:
            public_key.verify(
                bytes.fromhex(cp.signature), checkpoint_message(cp.seq, cp.entry_hash, cp.at)
            )
        except (InvalidSignature, ValueError):
            problems.append((cp.seq, f"the checkpoint at entry {cp.seq} has an invalid signature"))
            continue
        if cp.seq > last_good and not problems:
            problems.append(
                (
                    last_good + 1,
                    f"entries {last_good + 1}..{cp.seq} are missing: "
                    f"a signed checkpoint covers entry {cp.seq}",
                )
            )
        elif cp.seq in hashes and hashes[cp.seq] != cp.entry_hash:
            problems.append(
                (
                    cp.seq,
                    f"entry {cp.seq} differs from the signed checkpoint: "
                    f"an entry at or before {cp.seq} was rewritten",
                )
            )
    if not problems:
        problems += _unsigned_runs(checkpoints, start, last_good, max_gap)
    if not problems:
        problems += _missing_anchors(anchors, hashes, last_good)
    total = AuditCheckpoint.select().count()
    if not problems:
        good = [cp for cp in checkpoints if cp.seq <= last_good]
        newest = Anchor(good[-1].seq, good[-1].entry_hash, good[-1].at) if good else since
        return Verification(entries=count, checkpoints=total, newest=newest)
    seq, reason = min(problems, key=lambda p: p[0])
    return Verification(entries=count, checkpoints=total, bad_seq=seq, reason=reason)


def verify_against(
    public_key: Ed25519PublicKey,
    max_gap: int,
    notes: Sequence[Path],
    since: Anchor | None = None,
) -> Verification:
    """`verify` with the checkpoints kept in these note files (a missing one is skipped: a
    box that never checkpointed has none). A note that is not genuine fails the check."""
    anchors = []
    for path in notes:
        try:
            anchor = read_anchor(path, public_key)
        except AnchorInvalid as exc:
            count = entry_count()
            checkpoints = AuditCheckpoint.select().count()
            return Verification(count, checkpoints, bad_seq=0, reason=f"{path}: {exc}")
        if anchor is not None:
            anchors.append((str(path), anchor))
    return verify(public_key, max_gap, anchors, since)


def full_check_path(data_dir: Path) -> Path:
    return data_dir / "run" / "audit-check.json"


def save_full_check(data_dir: Path, result: Verification) -> None:
    """Keep the nightly full check's outcome for the Audit page and /healthz."""
    path = full_check_path(data_dir)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    outcome = {"at": _now(), "ok": result.ok, "entries": result.entries, "reason": result.reason}
    write_atomically(path, json.dumps(outcome).encode(), mode=0o644)


def last_full_check(data_dir: Path) -> dict[str, Any] | None:
    """The newest full check's outcome (at, ok, entries, reason), None before the first."""
    try:
        outcome = json.loads(full_check_path(data_dir).read_bytes())
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None


def _unsigned_runs(
    checkpoints: list[AuditCheckpoint], start: int, last: int, max_gap: int
) -> list[tuple[int, str]]:
    """The first run of more than `max_gap` entries after `start` without a checkpoint."""
    previous = start
    for end in [*(cp.seq for cp in checkpoints if cp.seq <= last), last]:
        if end - previous > max_gap:
            return [
                (
                    previous + 1,
                    f"entries {previous + 1}..{end} have no signed checkpoint, though one is "
                    f"made every {max_gap} entries: checkpoints were removed",
                )
            ]
        previous = max(previous, end)
    return []


def _missing_anchors(
    anchors: Sequence[tuple[str, Anchor]], hashes: dict[int, str], last: int
) -> list[tuple[int, str]]:
    problems = []
    for source, anchor in anchors:
        if anchor.seq > last:
            problems.append(
                (
                    last + 1,
                    f"entries {last + 1}..{anchor.seq} are missing: the checkpoint kept in "
                    f"{source} covers entry {anchor.seq}",
                )
            )
        elif hashes.get(anchor.seq, _hash_at(anchor.seq)) != anchor.entry_hash:
            problems.append(
                (
                    anchor.seq,
                    f"entry {anchor.seq} differs from the checkpoint kept in {source}: "
                    f"an entry at or before {anchor.seq} was rewritten",
                )
            )
    return problems


def newest_entries(
    limit: int, subject: str = "", actor: str = "", before: int | None = None
) -> list[AuditEntry]:
    """A page of entries, newest first: about `subject`, by `actor`, older than seq `before`."""
    query = AuditEntry.select().order_by(AuditEntry.seq.desc())
    if subject:
        query = query.where(AuditEntry.subject == subject)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    return list(query.limit(limit))


def entry_count() -> int:
    return int(AuditEntry.select().count())


def _entries(after: int = 0) -> Iterator[AuditEntry]:
    query = AuditEntry.select().where(AuditEntry.seq > after).order_by(AuditEntry.seq)
    return iter(query.iterator())


def _hash_at(seq: int) -> str | None:
    entry = AuditEntry.get_or_none(AuditEntry.seq == seq)
    return str(entry.entry_hash) if entry is not None else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
