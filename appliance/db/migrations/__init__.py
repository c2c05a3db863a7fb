"""Forward-only schema migrations.

Each migration module holds a frozen copy of the tables as they were at its version, never the
live models, so that replaying every migration on an empty database and upgrading an old one
both end at the schema `appliance.db.models` describes (a test compares them).
"""

from __future__ import annotations

from collections.abc import Callable

import peewee
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

from appliance.core.errors import ApplianceError
from appliance.db.migrations import (
    m0001_initial,
    m0002_signin_hardening,
    m0003_recording_store,
    m0004_transcription_jobs,
    m0005_scheduling,
    m0006_recording_node,
    m0007_live_room,
    m0008_hiring_team,
    m0009_comments,
    m0010_search_index,
    m0011_decisions,
    m0012_composite_jobs,
    m0013_totp_steps,
    m0014_list_indexes,
    m0015_password_change,
    m0016_invitation_no_times,
    m0017_rubric_suggestion,
    m0018_api_tokens,
    m0019_webhooks,
    m0020_single_sign_on,
    m0021_calendars,
)

Migration = Callable[[peewee.Database, SchemaMigrator], None]

MIGRATIONS: list[Migration] = [
    m0001_initial.apply,
    m0002_signin_hardening.apply,
    m0003_recording_store.apply,
    m0004_transcription_jobs.apply,
    m0005_scheduling.apply,
    m0006_recording_node.apply,
    m0007_live_room.apply,
    m0008_hiring_team.apply,
    m0009_comments.apply,
    m0010_search_index.apply,
    m0011_decisions.apply,
    m0012_composite_jobs.apply,
    m0013_totp_steps.apply,
    m0014_list_indexes.apply,
    m0015_password_change.apply,
    m0016_invitation_no_times.apply,
    m0017_rubric_suggestion.apply,
    m0018_api_tokens.apply,
    m0019_webhooks.apply,
    m0020_single_sign_on.apply,
    m0021_calendars.apply,
]
LATEST = len(MIGRATIONS)


def schema_version(db: peewee.Database) -> int:
    """The version a database is at; 0 for an empty one."""
    if not db.table_exists("schema_version"):
        return 0
    row = db.execute_sql("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(db: peewee.Database, target: int = LATEST) -> tuple[int, int]:
    """Bring `db` forward to `target`, one transaction per step; returns (from, to)."""
    start = schema_version(db)
    if start > LATEST:
        raise ApplianceError(
            f"the database is at schema version {start}, newer than this release knows "
            f"({LATEST}); install the newer release again"
        )
    migrator = _migrator_for(db)
    for version in range(start + 1, target + 1):
        with db.atomic():
            MIGRATIONS[version - 1](db, migrator)
            _set_version(db, version)
    return start, max(start, target)


def _migrator_for(db: peewee.Database) -> SchemaMigrator:
    if isinstance(db, peewee.PostgresqlDatabase):
        return PostgresqlMigrator(db)
    if isinstance(db, peewee.SqliteDatabase):
        return SqliteMigrator(db)
    raise ApplianceError(f"unsupported database type {type(db).__name__}")


def _set_version(db: peewee.Database, version: int) -> None:
    db.execute_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    db.execute_sql("DELETE FROM schema_version")
    db.execute_sql(f"INSERT INTO schema_version (version) VALUES ({int(version)})")
