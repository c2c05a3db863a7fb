"""Version 1: staff, hiring data, recordings and the audit log."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Setting(Frozen):
        key = peewee.CharField(primary_key=True, max_length=64)
        value = peewee.TextField()

    class User(Frozen):
        email = peewee.CharField(unique=True, max_length=254)
        name = peewee.CharField(max_length=200, default="")
        role = peewee.CharField(max_length=16)
        password_hash = peewee.CharField(max_length=200)
        active = peewee.BooleanField(default=True)
        created_at = peewee.DateTimeField()

    class Position(Frozen):
        title = peewee.CharField(max_length=200)
        department = peewee.CharField(max_length=200, default="")
        location = peewee.CharField(max_length=200, default="")
        description = peewee.TextField(default="")
        status = peewee.CharField(max_length=16, default="open")
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

    class Candidate(Frozen):
        name = peewee.CharField(max_length=200)
        email = peewee.CharField(max_length=254)
        phone = peewee.CharField(max_length=64, default="")
        position = peewee.ForeignKeyField(Position, null=True, on_delete="SET NULL")
        status = peewee.CharField(max_length=16, default="active")
        notes = peewee.TextField(default="")
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()
        erased_at = peewee.DateTimeField(null=True)

    class Kit(Frozen):
        name = peewee.CharField(max_length=200)
        description = peewee.TextField(default="")
        position = peewee.ForeignKeyField(Position, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

    class Competency(Frozen):
        kit = peewee.ForeignKeyField(Kit, on_delete="CASCADE")
        name = peewee.CharField(max_length=200)
        description = peewee.TextField(default="")
        ordinal = peewee.IntegerField(default=0)
        guide_1 = peewee.TextField(default="")
        guide_2 = peewee.TextField(default="")
        guide_3 = peewee.TextField(default="")
        guide_4 = peewee.TextField(default="")
        guide_5 = peewee.TextField(default="")

    class Question(Frozen):
        kit = peewee.ForeignKeyField(Kit, on_delete="CASCADE")
        competency = peewee.ForeignKeyField(Competency, on_delete="CASCADE")
        text = peewee.TextField()
        guidance = peewee.TextField(default="")
        ordinal = peewee.IntegerField(default=0)

    class Interview(Frozen):
        position = peewee.ForeignKeyField(Position, null=True, on_delete="SET NULL")
        candidate = peewee.ForeignKeyField(Candidate, on_delete="CASCADE")
        kit = peewee.ForeignKeyField(Kit, null=True, on_delete="SET NULL")
        starts_at = peewee.DateTimeField()
        ends_at = peewee.DateTimeField()
        status = peewee.CharField(max_length=16, default="scheduled")
        created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField()

    class InterviewParticipant(Frozen):
        interview = peewee.ForeignKeyField(Interview, on_delete="CASCADE")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        role = peewee.CharField(max_length=16, default="interviewer")

        class Meta:
            indexes = ((("interview", "user"), True),)

    class Consent(Frozen):
        interview = peewee.ForeignKeyField(Interview, on_delete="CASCADE")
        kind = peewee.CharField(max_length=32)
        granted = peewee.BooleanField()
        text_shown = peewee.TextField()
        decided_at = peewee.DateTimeField()

    class Scorecard(Frozen):
        interview = peewee.ForeignKeyField(Interview, on_delete="CASCADE")
        author = peewee.ForeignKeyField(User, on_delete="CASCADE")
        recommendation = peewee.CharField(max_length=16, null=True)
        summary = peewee.TextField(default="")
        created_at = peewee.DateTimeField()
        submitted_at = peewee.DateTimeField(null=True)

        class Meta:
            indexes = ((("interview", "author"), True),)

    class CompetencyScore(Frozen):
        scorecard = peewee.ForeignKeyField(Scorecard, on_delete="CASCADE")
        competency = peewee.ForeignKeyField(Competency, on_delete="CASCADE")
        score = peewee.IntegerField(constraints=[peewee.Check("score BETWEEN 1 AND 5")])
        notes = peewee.TextField(default="")

        class Meta:
            indexes = ((("scorecard", "competency"), True),)

    class Recording(Frozen):
        interview = peewee.ForeignKeyField(Interview, on_delete="CASCADE")
        status = peewee.CharField(max_length=16, default="recording")
        source = peewee.CharField(max_length=16, default="live")
        started_at = peewee.DateTimeField()
        ended_at = peewee.DateTimeField(null=True)

    class Comment(Frozen):
        interview = peewee.ForeignKeyField(Interview, on_delete="CASCADE")
        recording = peewee.ForeignKeyField(Recording, null=True, on_delete="CASCADE")
        author = peewee.ForeignKeyField(User, on_delete="CASCADE")
        offset_ms = peewee.IntegerField(null=True)
        body = peewee.TextField()
        created_at = peewee.DateTimeField()

    class TranscriptSegment(Frozen):
        recording = peewee.ForeignKeyField(Recording, on_delete="CASCADE")
        speaker = peewee.CharField(max_length=200)
        start_ms = peewee.IntegerField()
        end_ms = peewee.IntegerField()
        sealed_text = peewee.BlobField()

    class AuditEntry(Frozen):
        seq = peewee.IntegerField(primary_key=True)
        at = peewee.CharField(max_length=32)
        actor = peewee.CharField(max_length=254)
        action = peewee.CharField(max_length=64)
        subject = peewee.CharField(max_length=254)
        details = peewee.TextField()
        prev_hash = peewee.CharField(max_length=64)
        entry_hash = peewee.CharField(max_length=64)

    class AuditCheckpoint(Frozen):
        seq = peewee.IntegerField(unique=True)
        entry_hash = peewee.CharField(max_length=64)
        at = peewee.CharField(max_length=32)
        signature = peewee.CharField(max_length=128)

    db.create_tables(
        [
            Setting,
            User,
            Position,
            Candidate,
            Kit,
            Competency,
            Question,
            Interview,
            InterviewParticipant,
            Consent,
            Scorecard,
            CompetencyScore,
            Recording,
            Comment,
            TranscriptSegment,
            AuditEntry,
            AuditCheckpoint,
        ]
    )
