"""Databases made by an older release are upgraded in place by `appliance init`."""

import sqlite3
from pathlib import Path

import peewee
import pytest

from appliance.box.datadir import initialize
from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.database import open_database
from appliance.db.migrations import LATEST, migrate, schema_version
from appliance.db.models import ALL_MODELS, AuditEntry, User
from appliance.runtime import open_runtime
from appliance.storage import audit
from appliance.storage.appliance_keys import create_keys, load_keys


def _schema(path: Path) -> dict[str, object]:
    """Table -> columns, foreign keys and unique indexes, independent of creation order."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: _table(con, t) for t in tables}
    finally:
        con.close()


def _table(con: sqlite3.Connection, table: str) -> object:
    columns = sorted((c[1], c[2], c[3], c[5]) for c in con.execute(f'PRAGMA table_info("{table}")'))
    keys = sorted(
        (k[2], k[3], k[4], k[6]) for k in con.execute(f'PRAGMA foreign_key_list("{table}")')
    )
    unique = sorted(
        tuple(c[2] for c in con.execute(f'PRAGMA index_info("{i[1]}")'))
        for i in con.execute(f'PRAGMA index_list("{table}")')
        if i[2]
    )
    return columns, keys, unique


def _version_one_database(config: Config) -> None:
    """What the previous release's `appliance init` left: schema 1 with a user in it."""
    config.data_dir.mkdir(mode=0o700)
    create_keys(config.data_dir)
    db = open_database(config.database_url)
    migrate(db, target=1)
    db.execute_sql(
        "INSERT INTO user (email, name, role, password_hash, active, created_at) "
        "VALUES ('old@example.com', 'Old Admin', 'admin', 'x', 1, '2025-01-01 00:00:00')"
    )
    db.close()


def test_init_upgrades_a_version_one_database_in_place(config: Config) -> None:
    _version_one_database(config)
    result = initialize(config)
    assert (result.schema_from, result.schema_to) == (1, LATEST)
    runtime = open_runtime(config)
    try:
        user = User.get(User.email == "old@example.com")
        assert user.name == "Old Admin" and user.failed_signins == 0 and user.totp_secret is None
        assert AuditEntry.select().where(AuditEntry.action == "schema.upgrade").exists()
        assert audit.verify(load_keys(config.data_dir).public_key).ok
    finally:
        runtime.close()


def test_upgraded_and_fresh_databases_have_the_same_schema(config: Config, tmp_path: Path) -> None:
    _version_one_database(config)
    initialize(config)
    fresh = tmp_path / "fresh.db"
    db = open_database(f"sqlite:///{fresh}")
    migrate(db)
    db.close()
    assert _schema(config.data_dir / "appliance.db") == _schema(fresh)


def test_models_describe_the_migrated_schema(tmp_path: Path) -> None:
    migrated, modelled = tmp_path / "migrated.db", tmp_path / "modelled.db"
    db = open_database(f"sqlite:///{migrated}")
    migrate(db)
    db.close()
    db = peewee.SqliteDatabase(str(modelled))
    with db.bind_ctx(ALL_MODELS):
        db.create_tables(ALL_MODELS)
    db.close()
    got = _schema(migrated)
    got.pop("schema_version")
    assert got == _schema(modelled)


def test_a_database_from_a_newer_release_is_refused(config: Config) -> None:
    initialize(config)
    db = open_database(config.database_url)
    db.execute_sql("UPDATE schema_version SET version = ?", (LATEST + 1,))
    assert schema_version(db) == LATEST + 1
    with pytest.raises(ApplianceError, match="newer than this release"):
        migrate(db)
    db.close()


def test_serving_refuses_an_old_schema_until_init_runs(config: Config) -> None:
    _version_one_database(config)
    with pytest.raises(ApplianceError, match="run 'appliance init'"):
        open_runtime(config)
