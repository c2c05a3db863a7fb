"""Version 15: a password an administrator chose must be replaced at its owner's first sign-in."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("user", "must_change_password", peewee.BooleanField(default=False))
    )
