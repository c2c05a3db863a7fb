"""Version 13: the TOTP time step last accepted from each user, so a code is good once."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(migrator.add_column("user", "totp_last_step", peewee.BigIntegerField(default=0)))
