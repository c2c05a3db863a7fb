"""Version 7: the live room: the candidate's lobby and admission, the interview's end, and each
interviewer's working notes and the questions they marked as asked."""

from __future__ import annotations

import datetime

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("interview", "lobby_since", peewee.DateTimeField(null=True)),
        migrator.add_column("interview", "admitted_at", peewee.DateTimeField(null=True)),
        migrator.add_column("interview", "ended_at", peewee.DateTimeField(null=True)),
        migrator.add_column("scorecard", "notes", peewee.TextField(default="")),
        migrator.add_column("scorecard", "updated_at", peewee.DateTimeField(null=True)),
    )

    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Scorecard(Frozen):
        class Meta:
            table_name = "scorecard"

    class Question(Frozen):
        class Meta:
            table_name = "question"

    class QuestionAsked(Frozen):
        scorecard = peewee.ForeignKeyField(Scorecard, on_delete="CASCADE")
        question = peewee.ForeignKeyField(Question, on_delete="CASCADE")
        asked_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "question_asked"
            indexes = ((("scorecard", "question"), True),)

    db.create_tables([QuestionAsked])
