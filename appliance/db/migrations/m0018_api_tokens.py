"""Version 18: API tokens for systems that call the appliance (an applicant tracking system),
the answers to their creates kept by idempotency key, and candidates' ids in those systems."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


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

    class IdempotentRequest(Frozen):
        token = peewee.ForeignKeyField(ApiToken, on_delete="CASCADE")
        key = peewee.CharField(max_length=200)
        request_sha256 = peewee.CharField(max_length=64)
        status = peewee.IntegerField()
        response = peewee.TextField()
        created_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "idempotent_request"
            indexes = ((("token", "key"), True),)

    db.create_tables([ApiToken, IdempotentRequest])
    run_operations(
        migrator.add_column(
            "candidate", "external_id", peewee.CharField(max_length=200, null=True)
        ),
        migrator.add_index("candidate", ("external_id",), True),
    )
