"""Version 8: a position's hiring team, the staff who may review and score its interviews
without sitting on their panels."""

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

    class Position(Frozen):
        class Meta:
            table_name = "position"

    class HiringTeamMember(Frozen):
        position = peewee.ForeignKeyField(Position, on_delete="CASCADE")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        added_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "hiring_team_member"
            indexes = ((("position", "user"), True),)

    db.create_tables([HiringTeamMember])
