"""Version 6: which SFU node wrote each live recording, so a restarted node can close its own
interrupted recordings and no other node's."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("recording", "sfu_node", peewee.CharField(max_length=100, default=""))
    )
