"""Version 21: interviewers' connected calendars and the busy times read from them."""

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

    class CalendarConnection(Frozen):
        user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE")
        kind = peewee.CharField(max_length=8)
        url = peewee.CharField(max_length=2000)
        username = peewee.CharField(max_length=200, default="")
        sealed_password = peewee.BlobField(null=True)
        connected_at = peewee.DateTimeField(default=datetime.datetime.now)
        last_attempt_at = peewee.DateTimeField(null=True)
        last_read_at = peewee.DateTimeField(null=True)
        last_error = peewee.CharField(max_length=300, default="")
        failing_since = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "calendar_connection"

    class BusyTime(Frozen):
        connection = peewee.ForeignKeyField(CalendarConnection, on_delete="CASCADE")
        starts_at = peewee.DateTimeField(index=True)
        ends_at = peewee.DateTimeField()

        class Meta:
            table_name = "busy_time"

    db.create_tables([CalendarConnection, BusyTime])
