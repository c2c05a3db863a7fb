"""Version 5: scheduling: availability, time off, interview types and panels, invitations,
the e-mail outbox and interviewers' calendar feeds."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("user", "timezone", peewee.CharField(max_length=64, default="UTC")),
        migrator.add_column(
            "interview", "timezone", peewee.CharField(max_length=64, default="UTC")
        ),
        migrator.add_column("interview", "sequence", peewee.IntegerField(default=0)),
    )

    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Frozen):
        class Meta:
            table_name = "user"

    class Candidate(Frozen):
        class Meta:
            table_name = "candidate"

    class Kit(Frozen):
        class Meta:
            table_name = "kit"

    class Interview(Frozen):
        class Meta:
            table_name = "interview"

    class AvailabilityRule(Frozen):
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        weekday = peewee.IntegerField()
        start_minute = peewee.IntegerField()
        end_minute = peewee.IntegerField()

    class TimeOff(Frozen):
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        starts_at = peewee.DateTimeField()
        ends_at = peewee.DateTimeField()
        note = peewee.CharField(max_length=200, default="")

    class InterviewType(Frozen):
        name = peewee.CharField(max_length=200)
        kit = peewee.ForeignKeyField(Kit, null=True, on_delete="SET NULL")
        duration_minutes = peewee.IntegerField()
        created_at = peewee.DateTimeField(default=datetime.datetime.now)

    class PanelMember(Frozen):
        interview_type = peewee.ForeignKeyField(InterviewType, on_delete="CASCADE")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")

        class Meta:
            indexes = ((("interview_type", "user"), True),)

    class Invitation(Frozen):
        candidate = peewee.ForeignKeyField(Candidate, on_delete="CASCADE")
        interview_type = peewee.ForeignKeyField(InterviewType, on_delete="CASCADE")
        token_hash = peewee.CharField(max_length=64, unique=True)
        nonce = peewee.CharField(max_length=32)
        status = peewee.CharField(max_length=16, default="open")
        interview = peewee.ForeignKeyField(Interview, null=True, on_delete="SET NULL")
        created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField(default=datetime.datetime.now)
        expires_at = peewee.DateTimeField()

    class OutboxMessage(Frozen):
        interview = peewee.ForeignKeyField(Interview, null=True, on_delete="CASCADE")
        recipient = peewee.CharField(max_length=254)
        subject = peewee.CharField(max_length=300)
        body = peewee.TextField()
        ics = peewee.TextField(default="")
        dedupe_key = peewee.CharField(max_length=120, null=True, unique=True)
        status = peewee.CharField(max_length=16, default="pending")
        attempts = peewee.IntegerField(default=0)
        error = peewee.TextField(default="")
        created_at = peewee.DateTimeField(default=datetime.datetime.now)
        sent_at = peewee.DateTimeField(null=True)

    class CalendarFeed(Frozen):
        user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE")
        token_hash = peewee.CharField(max_length=64, unique=True)

    db.create_tables(
        [
            AvailabilityRule,
            TimeOff,
            InterviewType,
            PanelMember,
            Invitation,
            OutboxMessage,
            CalendarFeed,
        ]
    )
