"""Version 9: comments on a moment or span of a recording, threaded, their text sealed under
the recording's data key, with every earlier version kept.

The `comment` table of version 1 was never written (nothing created comments before this
version), so it is replaced whole rather than altered column by column.
"""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator

from appliance.core.errors import ApplianceError


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Frozen):
        class Meta:
            table_name = "user"

    class Interview(Frozen):
        class Meta:
            table_name = "interview"

    class Recording(Frozen):
        class Meta:
            table_name = "recording"

    class Comment(Frozen):
        interview = peewee.ForeignKeyField(Interview, on_delete="CASCADE")
        recording = peewee.ForeignKeyField(Recording, null=True, on_delete="CASCADE")
        author = peewee.ForeignKeyField(User, on_delete="CASCADE")
        parent = peewee.ForeignKeyField("self", null=True, on_delete="CASCADE")
        offset_ms = peewee.IntegerField(null=True)
        end_ms = peewee.IntegerField(null=True)
        body_sealed = peewee.BlobField()
        created_at = peewee.DateTimeField(default=datetime.datetime.now)
        edited_at = peewee.DateTimeField(null=True)
        deleted_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "comment"

    class CommentVersion(Frozen):
        comment = peewee.ForeignKeyField(Comment, on_delete="CASCADE")
        body_sealed = peewee.BlobField()
        replaced_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "comment_version"

    if db.execute_sql("SELECT count(*) FROM comment").fetchone()[0]:
        raise ApplianceError(
            "the comment table holds rows no release wrote; restore the database from a backup"
        )
    db.execute_sql("DROP TABLE comment")
    db.create_tables([Comment, CommentVersion])
