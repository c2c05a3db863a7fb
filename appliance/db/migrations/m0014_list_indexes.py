"""Version 14: indexes for what the lists filter and sort on (candidates by name, interviews by
their times, the outbox by status), so their pages cost the page, not the table."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_index("candidate", ("name",), False),
        migrator.add_index("interview", ("starts_at",), False),
        migrator.add_index("interview", ("ends_at",), False),
        migrator.add_index("outbox_message", ("status",), False),
    )
