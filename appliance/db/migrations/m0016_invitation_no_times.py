"""Version 16: when a candidate last opened their scheduling link and found no free time."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("invitation", "no_times_at", peewee.DateTimeField(null=True))
    )
