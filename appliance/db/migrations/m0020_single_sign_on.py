"""Version 20: single sign-on with an OpenID Connect provider: each user's subject at the
provider, and the sign-ins begun in a browser awaiting the provider's answer."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class SsoAttempt(peewee.Model):
        state_hash = peewee.CharField(primary_key=True, max_length=64)
        nonce = peewee.CharField(max_length=64)
        code_verifier = peewee.CharField(max_length=128)
        next_path = peewee.CharField(max_length=2000, default="/")
        created_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            database = db
            table_name = "sso_attempt"

    db.create_tables([SsoAttempt])
    run_operations(
        migrator.add_column("user", "oidc_subject", peewee.CharField(max_length=255, null=True)),
        migrator.add_index("user", ("oidc_subject",), True),
    )
