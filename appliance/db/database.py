"""Opening the database named by the configuration; the models bind to `database`."""

from __future__ import annotations

import datetime
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

import peewee
from playhouse.db_url import connect

from appliance.core.errors import ApplianceError

# Models are declared against this proxy and bound when a process opens its database.
database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    # First, so every later statement of a new connection waits for a busy database.
    "busy_timeout": 10000,
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    # Deleted rows are overwritten with zeros, so an erased candidate's words, names and key
    # wrappings do not linger in the file's free pages (docs/threat-model.md).
    "secure_delete": 1,
}


def utcnow() -> datetime.datetime:
    """Timestamps are stored as naive UTC everywhere."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def open_database(url: str) -> peewee.Database:
    """Open `url` (sqlite:///path or postgresql://...) and bind the models to it."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise ApplianceError(
                f"database directory {path.parent} does not exist; run 'appliance init' first"
            )
        # IMMEDIATE: several processes write; taking the write lock at BEGIN avoids
        # the deadlock of two readers upgrading to writers at once.
        db: peewee.Database = peewee.SqliteDatabase(
            str(path), pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", check_same_thread=False
        )
    else:
        try:
            db = connect(url)
        except (RuntimeError, ValueError, ImportError) as exc:
            raise ApplianceError(f"cannot use database URL {url!r}: {exc}") from exc
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        raise ApplianceError(f"cannot open database {url}: {exc}") from exc
    database.initialize(db)
    return db


def serialized(db: peewee.Database) -> AbstractContextManager[object]:
    """A transaction that no other writer interleaves with (append-only chains need this).

    SQLite already takes the write lock at BEGIN (IMMEDIATE); PostgreSQL needs an explicit lock.
    """
    txn: AbstractContextManager[object] = db.atomic()
    if isinstance(db, peewee.PostgresqlDatabase):
        return _PostgresSerialized(db, txn)
    return txn


class _PostgresSerialized(AbstractContextManager[object]):
    """On PostgreSQL, serialize with a transaction-scoped advisory lock."""

    LOCK_ID = 0x5041524C  # "PARL"

    def __init__(self, db: peewee.Database, txn: AbstractContextManager[object]) -> None:
        self.db = db
        self.txn = txn

    def __enter__(self) -> object:
        entered = self.txn.__enter__()
        self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (self.LOCK_ID,))
        return entered

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self.txn.__exit__(exc_type, exc, tb)


def flush_write_ahead_log(db: peewee.Database) -> bool:
    """Copy SQLite's write-ahead log into the database file and empty it, so the page images
    it still holds from before a deletion are gone too (with secure_delete, the file's own
    copy of a deleted row is already zeroed). False when a reader kept it from finishing;
    the next checkpoint finishes it. PostgreSQL has no such log to empty here."""
    if not isinstance(db, peewee.SqliteDatabase):
        return True
    busy, _, _ = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy
