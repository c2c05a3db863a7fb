"""Version 4: batch transcription jobs, one per recording, with their progress."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Recording(Frozen):
        class Meta:
            table_name = "recording"

    class TranscriptionJob(Frozen):
        recording = peewee.ForeignKeyField(Recording, unique=True, on_delete="CASCADE")
        status = peewee.CharField(max_length=16, default="queued")
        progress = peewee.FloatField(default=0.0)
        model = peewee.CharField(max_length=100, default="")
        error = peewee.TextField(default="")
        queued_at = peewee.DateTimeField(default=datetime.datetime.now)
        started_at = peewee.DateTimeField(null=True)
        finished_at = peewee.DateTimeField(null=True)

    db.create_tables([TranscriptionJob])
