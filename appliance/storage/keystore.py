"""The keystore: each recording's random data key, kept only in wrapped form.

Every data key is wrapped once for the appliance's KEK and once for each configured compliance
recipient, one `data_key` row per wrapping. Blobs never hold keys, so deleting a key's rows
makes every copy of its blobs unreadable (crypto-shredding).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import peewee

from appliance.core.errors import ApplianceError
from appliance.db.database import serialized, utcnow
from appliance.db.models import ComplianceRecipient, DataKey
from appliance.storage.appliance_keys import (
    drop_rotation_files,
    load_keys,
    stage_new_kek,
    switch_to_new_kek,
)
from appliance.storage.audit import AuditLog
from appliance.storage.recipients import (
    APPLIANCE_RECIPIENT_PREFIX,
    appliance_recipient,
    parse_recipient,
    unwrap_with_kek,
    wrap_for_kek,
    wrap_for_recipient,
)

DATA_KEY_BYTES = 32
KEY_ID_BYTES = 16
# Parameters per IN (...) list: SQLite's lowest limit on bound parameters is 999.
QUERY_BATCH = 900


class KeyMissing(ApplianceError):
    """No usable key entry: the recording was erased, or its key never reached this keystore."""


def new_data_key(db: peewee.Database, data_dir: Path) -> tuple[bytes, bytes]:
    """Make a data key, store its wrappings (appliance + every recipient); returns (id, key).

    The KEK is read inside the write transaction, so a concurrent rotation cannot leave this
    key wrapped for a KEK it has just retired.
    """
    key_id = secrets.token_bytes(KEY_ID_BYTES)
    data_key = secrets.token_bytes(DATA_KEY_BYTES)
    store_data_key(db, data_dir, key_id, data_key)
    return key_id, data_key


def store_data_key(db: peewee.Database, data_dir: Path, key_id: bytes, data_key: bytes) -> None:
    """File a data key made elsewhere (the SFU makes live recordings' keys): wrapped for the
    appliance and every recipient; nothing happens if the key id is already filed."""
    with serialized(db):
        if DataKey.select().where(DataKey.key_id == key_id.hex()).exists():
            return
        kek = load_keys(data_dir).kek
        rows = [_row(key_id, appliance_recipient(kek), wrap_for_kek(kek, key_id, data_key))]
        for recipient in ComplianceRecipient.select():
            wrapped = wrap_for_recipient(recipient.recipient, key_id, data_key)
            rows.append(_row(key_id, recipient.recipient, wrapped))
        DataKey.insert_many(rows).execute()


def _row(key_id: bytes, recipient: str, wrapped: bytes) -> dict[str, object]:
    return {
        "key_id": key_id.hex(),
        "recipient": recipient,
        "wrapped": wrapped,
        "created_at": utcnow(),
    }


def unwrap(data_dir: Path, key_id: bytes) -> bytes:
    """The data key for `key_id`, opened with whichever of the appliance's KEKs wrapped it."""
    ring = load_keys(data_dir).kek_ring
    entries = DataKey.select().where(
        (DataKey.key_id == key_id.hex()) & DataKey.recipient.startswith(APPLIANCE_RECIPIENT_PREFIX)
    )
    for entry in entries:
        kek = ring.get(entry.recipient.removeprefix(APPLIANCE_RECIPIENT_PREFIX))
        if kek is not None:
            return unwrap_with_kek(kek, key_id, bytes(entry.wrapped))
    if not DataKey.select().where(DataKey.key_id == key_id.hex()).exists():
        raise KeyMissing(
            f"no key entry for key {key_id.hex()}: the recording was erased, so it cannot be read"
        )
    raise KeyMissing(f"key {key_id.hex()} is not wrapped for any key-encryption key on this box")


def unwrap_many(data_dir: Path, key_ids: list[bytes]) -> dict[bytes, bytes]:
    """The data keys of `key_ids` that this box can open, in one query (search opens a key per
    recording it looks in); a key that was erased is simply absent."""
    ring = load_keys(data_dir).kek_ring
    keys: dict[bytes, bytes] = {}
    for start in range(0, len(key_ids), QUERY_BATCH):
        batch = {k.hex(): k for k in key_ids[start : start + QUERY_BATCH]}
        entries = DataKey.select().where(
            DataKey.key_id.in_(list(batch))
            & DataKey.recipient.startswith(APPLIANCE_RECIPIENT_PREFIX)
        )
        for entry in entries:
            kek = ring.get(entry.recipient.removeprefix(APPLIANCE_RECIPIENT_PREFIX))
            key_id = batch[entry.key_id]
            if kek is not None and key_id not in keys:
                keys[key_id] = unwrap_with_kek(kek, key_id, bytes(entry.wrapped))
    return keys


def destroy(key_id: bytes) -> int:
    """Delete every wrapping of a data key; returns how many entries were destroyed."""
    return int(DataKey.delete().where(DataKey.key_id == key_id.hex()).execute())


def list_recipients() -> list[ComplianceRecipient]:
    """The compliance recipients every new data key is wrapped for, oldest first."""
    return list(ComplianceRecipient.select().order_by(ComplianceRecipient.id))


def add_recipient(
    audit: AuditLog, actor: str, data_dir: Path, recipient: str, label: str, rewrap: bool
) -> int:
    """Wrap new data keys for `recipient` from now on; with `rewrap`, existing keys too.

    Returns how many existing keys were re-wrapped.
    """
    parse_recipient(recipient)
    recipient = recipient.strip()
    with serialized(audit.db):
        if ComplianceRecipient.select().where(ComplianceRecipient.recipient == recipient).exists():
            raise ApplianceError("that recipient is already configured")
        ComplianceRecipient.create(recipient=recipient, label=label.strip())
        count = 0
        if rewrap:
            have = {
                row.key_id
                for row in DataKey.select(DataKey.key_id).where(DataKey.recipient == recipient)
            }
            key_ids = {row.key_id for row in DataKey.select(DataKey.key_id).distinct()}
            for hex_id in sorted(key_ids - have):
                key_id = bytes.fromhex(hex_id)
                wrapped = wrap_for_recipient(recipient, key_id, unwrap(data_dir, key_id))
                DataKey.create(key_id=hex_id, recipient=recipient, wrapped=wrapped)
                count += 1
        audit.record(
            actor, "keys.add_recipient", recipient, {"label": label.strip(), "rewrapped": count}
        )
    return count


def rotate(audit: AuditLog, actor: str, data_dir: Path) -> int:
    """Replace the KEK and re-wrap every data key with it; blobs are untouched.

    Crash-safe: the incoming KEK is on disk before any entry uses it, and the outgoing one is
    kept until the transaction that re-wraps every entry has committed; `load_keys` loads both
    meanwhile, so every entry always opens with a KEK on disk. Returns the entries re-wrapped.
    """
    settle_rotation(audit.db, data_dir)
    with serialized(audit.db):
        keys = load_keys(data_dir)
        old_kek = keys.kek
        new_kek = stage_new_kek(data_dir)
        entries = _rewrap_all(keys.kek_ring, new_kek)
        audit.record(
            actor,
            "keys.rotate",
            "kek",
            {
                "from": appliance_recipient(old_kek),
                "to": appliance_recipient(new_kek),
                "rewrapped": entries,
            },
        )
        switch_to_new_kek(data_dir)
    drop_rotation_files(data_dir)
    return entries


def settle_rotation(db: peewee.Database, data_dir: Path) -> None:
    """Finish an interrupted rotation: wrap every entry for the current KEK, drop the others."""
    with serialized(db):
        keys = load_keys(data_dir)
        if len(keys.kek_ring) == 1:
            return
        _rewrap_all(keys.kek_ring, keys.kek)
    drop_rotation_files(data_dir)


def _rewrap_all(ring: dict[str, bytes], target: bytes) -> int:
    entries = list(DataKey.select().where(DataKey.recipient.startswith(APPLIANCE_RECIPIENT_PREFIX)))
    for entry in entries:
        kek = ring.get(entry.recipient.removeprefix(APPLIANCE_RECIPIENT_PREFIX))
        if kek is None:
            raise KeyMissing(f"key {entry.key_id} is wrapped for a KEK that is not on disk")
        key_id = bytes.fromhex(entry.key_id)
        data_key = unwrap_with_kek(kek, key_id, bytes(entry.wrapped))
        entry.wrapped = wrap_for_kek(target, key_id, data_key)
        entry.recipient = appliance_recipient(target)
        entry.save()
    return len(entries)
