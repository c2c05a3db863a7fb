"""Version 12: jobs that compose a recording's tracks into one playable file."""

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

    class Recording(Frozen):
        class Meta:
            table_name = "recording"

    class CompositeJob(Frozen):
        recording = peewee.ForeignKeyField(Recording, unique=True, on_delete="CASCADE")
        status = peewee.CharField(max_length=16, default="queued")
        progress = peewee.FloatField(default=0.0)
        error = peewee.TextField(default="")
        requested_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
        queued_at = peewee.DateTimeField(default=datetime.datetime.now)
        started_at = peewee.DateTimeField(null=True)
        finished_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "composite_job"

    db.create_tables([CompositeJob])
