"""Data keys live only wrapped: for the appliance's KEK and for compliance recipients."""

import hashlib
import os
from pathlib import Path

import pytest

from appliance.core.errors import ApplianceError
from appliance.db.models import DataKey
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.appliance_keys import key_dir, load_keys, stage_new_kek, switch_to_new_kek
from appliance.storage.recipients import (
    UnwrapFailed,
    generate_identity,
    kek_id,
    load_identity,
    parse_recipient,
    unwrap_with_identity,
    write_identity,
)


def test_a_new_key_is_wrapped_for_the_appliance_and_each_recipient(runtime: Runtime) -> None:
    officer = generate_identity()
    keystore.add_recipient(
        runtime.audit, "t", runtime.config.data_dir, officer.recipient, "", False
    )
    key_id, data_key = keystore.new_data_key(runtime.db, runtime.config.data_dir)
    entries = {e.recipient: bytes(e.wrapped) for e in DataKey.select()}
    assert set(entries) == {f"appliance:{kek_id(runtime.keys.kek)}", officer.recipient}
    assert data_key not in b"".join(entries.values())
    assert keystore.unwrap(runtime.config.data_dir, key_id) == data_key
    assert unwrap_with_identity(officer, key_id, entries[officer.recipient]) == data_key


def test_another_identity_cannot_unwrap(runtime: Runtime) -> None:
    officer, stranger = generate_identity(), generate_identity()
    keystore.add_recipient(
        runtime.audit, "t", runtime.config.data_dir, officer.recipient, "", False
    )
    key_id, _ = keystore.new_data_key(runtime.db, runtime.config.data_dir)
    wrapped = bytes(DataKey.get(DataKey.recipient == officer.recipient).wrapped)
    with pytest.raises(UnwrapFailed, match="another recipient"):
        unwrap_with_identity(stranger, key_id, wrapped)
    with pytest.raises(UnwrapFailed):
        unwrap_with_identity(officer, bytes(16), wrapped)


def test_adding_a_recipient_can_rewrap_existing_keys(runtime: Runtime) -> None:
    existing = [keystore.new_data_key(runtime.db, runtime.config.data_dir) for _ in range(3)]
    officer = generate_identity()
    count = keystore.add_recipient(
        runtime.audit, "t", runtime.config.data_dir, officer.recipient, "J. Smith", rewrap=True
    )
    assert count == 3
    for key_id, data_key in existing:
        row = DataKey.get(
            (DataKey.key_id == key_id.hex()) & (DataKey.recipient == officer.recipient)
        )
        assert unwrap_with_identity(officer, key_id, bytes(row.wrapped)) == data_key
    with pytest.raises(ApplianceError, match="already configured"):
        keystore.add_recipient(
            runtime.audit, "t", runtime.config.data_dir, officer.recipient, "", False
        )


def test_rotation_rewraps_every_key_and_retires_the_old_kek(runtime: Runtime) -> None:
    data_dir = runtime.config.data_dir
    keys = [keystore.new_data_key(runtime.db, data_dir) for _ in range(4)]
    old_kek = (key_dir(data_dir) / "kek.key").read_bytes()
    assert keystore.rotate(runtime.audit, "t", data_dir) == 4
    new_kek = (key_dir(data_dir) / "kek.key").read_bytes()
    assert new_kek != old_kek
    assert sorted(p.name for p in key_dir(data_dir).iterdir() if p.name.startswith("kek")) == [
        "kek.key"
    ]
    assert {e.recipient for e in DataKey.select()} == {f"appliance:{kek_id(new_kek)}"}
    for key_id, data_key in keys:
        assert keystore.unwrap(data_dir, key_id) == data_key


def test_an_interrupted_rotation_loses_nothing(runtime: Runtime) -> None:
    data_dir = runtime.config.data_dir
    key_id, data_key = keystore.new_data_key(runtime.db, data_dir)
    stage_new_kek(data_dir)
    switch_to_new_kek(data_dir)  # files switched, database never re-wrapped: a crash here
    assert len(load_keys(data_dir).kek_ring) == 2
    assert keystore.unwrap(data_dir, key_id) == data_key
    keystore.settle_rotation(runtime.db, data_dir)
    assert len(load_keys(data_dir).kek_ring) == 1
    assert keystore.unwrap(data_dir, key_id) == data_key


def test_destroyed_keys_are_gone_for_good(runtime: Runtime) -> None:
    key_id, _ = keystore.new_data_key(runtime.db, runtime.config.data_dir)
    assert keystore.destroy(key_id) == 1
    with pytest.raises(keystore.KeyMissing, match="erased"):
        keystore.unwrap(runtime.config.data_dir, key_id)


def test_identity_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    identity = generate_identity()
    path = tmp_path / "officer.key"
    write_identity(path, identity, "2026-11-26")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_identity(path).recipient == identity.recipient
    before = hashlib.sha256(path.read_bytes()).digest()
    with pytest.raises(ApplianceError, match="already exists"):
        write_identity(path, generate_identity(), "2026-11-26")
    assert hashlib.sha256(path.read_bytes()).digest() == before


def test_damaged_recipients_and_identities_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ApplianceError, match="starts with"):
        parse_recipient("age1qqqq")
    with pytest.raises(ApplianceError, match="damaged"):
        parse_recipient("parley-recipient-v1:abc")
    (tmp_path / "bad.key").write_text("# nothing here\n")
    with pytest.raises(ApplianceError, match="no valid identity"):
        load_identity(tmp_path / "bad.key")
    (tmp_path / "bin.key").write_bytes(os.urandom(64))
    with pytest.raises(ApplianceError):
        load_identity(tmp_path / "bin.key")
