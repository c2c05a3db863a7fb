"""Version 11: from scores to a decision. Scorecards are submitted (each submission kept whole,
amendments with their reason), a competency may be marked "not assessed", a position has a
hiring manager, and hiring decisions are recorded with their history."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "user"

    class Position(Frozen):
        class Meta:
            table_name = "position"

    class Candidate(Frozen):
        class Meta:
            table_name = "candidate"

    class Scorecard(Frozen):
        class Meta:
            table_name = "scorecard"

    run_operations(
        migrator.add_column("scorecard", "version", peewee.IntegerField(default=0)),
        migrator.add_column("scorecard", "from_recording", peewee.BooleanField(default=False)),
        migrator.add_column("scorecard", "after_decision", peewee.BooleanField(default=False)),
        migrator.drop_not_null("competency_score", "score"),
        migrator.add_column(
            "position",
            "hiring_manager_id",
            peewee.ForeignKeyField(User, null=True, field=User.id, on_delete="SET NULL"),
        ),
    )

    class ScorecardVersion(Frozen):
        scorecard = peewee.ForeignKeyField(Scorecard, on_delete="CASCADE")
        number = peewee.IntegerField()
        submitted_at = peewee.DateTimeField(default=datetime.datetime.now)
        reason = peewee.TextField(default="")
        content = peewee.TextField()

        class Meta:
            table_name = "scorecard_version"
            indexes = ((("scorecard", "number"), True),)

    class Decision(Frozen):
        candidate = peewee.ForeignKeyField(Candidate, on_delete="CASCADE")
        position = peewee.ForeignKeyField(Position, null=True, on_delete="SET NULL")
        outcome = peewee.CharField(max_length=16)
        reason = peewee.TextField()
        decided_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
        decided_at = peewee.DateTimeField(default=datetime.datetime.now)
        without_all_scorecards = peewee.BooleanField(default=False)

        class Meta:
            table_name = "decision"

    db.create_tables([ScorecardVersion, Decision])
