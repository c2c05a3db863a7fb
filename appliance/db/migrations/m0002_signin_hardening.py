"""Version 2: server-side sessions, TOTP and lockout state for staff sign-in."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("user", "totp_secret", peewee.CharField(max_length=64, null=True)),
        migrator.add_column("user", "failed_signins", peewee.IntegerField(default=0)),
        migrator.add_column("user", "locked_until", peewee.DateTimeField(null=True)),
    )

    class User(peewee.Model):
        class Meta:
            database = db
            table_name = "user"

    class Session(peewee.Model):
        token_hash = peewee.CharField(primary_key=True, max_length=64)
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        created_at = peewee.DateTimeField()
        last_seen_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "session"

    db.create_tables([Session])
