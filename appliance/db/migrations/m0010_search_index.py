"""Version 10: the search index of transcripts, one row per distinct word of a recording, the
word only as a keyed hash. The worker indexes the transcripts made before this version."""

from __future__ import annotations

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

    class SearchTerm(Frozen):
        recording = peewee.ForeignKeyField(Recording, on_delete="CASCADE")
        term = peewee.BlobField(index=True)
        segments = peewee.BlobField()

        class Meta:
            table_name = "search_term"

    db.create_tables([SearchTerm])
