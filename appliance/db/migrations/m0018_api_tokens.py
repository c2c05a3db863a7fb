"""Version 18: API tokens for systems that call the appliance (an applicant tracking system)."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Frozen):
        class Meta:
            table_name = "user"

    class ApiToken(Frozen):
        name = peewee.CharField(max_length=100, unique=True)
        token_hash = peewee.CharField(max_length=64, unique=True)
        scopes = peewee.CharField(max_length=400)
        created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField(default=datetime.datetime.now)
        expires_at = peewee.DateTimeField()
        last_used_at = peewee.DateTimeField(null=True)
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "api_token"

    db.create_tables([ApiToken])
