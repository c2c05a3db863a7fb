"""Version 17: the evidence's figures per competency, the rubric suggestion's models, and the
candidates' voluntary self-identification for the impact-ratio report."""

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

    class Competency(Frozen):
        class Meta:
            table_name = "competency"

    class Candidate(Frozen):
        class Meta:
            table_name = "candidate"

    class EvidenceFeature(Frozen):
        recording = peewee.ForeignKeyField(Recording, on_delete="CASCADE")
        competency = peewee.ForeignKeyField(Competency, on_delete="CASCADE")
        best_score = peewee.FloatField()
        relevant_turns = peewee.IntegerField()
        relevant_share = peewee.FloatField()

        class Meta:
            table_name = "evidence_feature"
            indexes = ((("recording", "competency"), True),)

    class RubricModel(Frozen):
        competency = peewee.ForeignKeyField(Competency, unique=True, on_delete="CASCADE")
        trained_at = peewee.DateTimeField(default=datetime.datetime.now)
        interviews = peewee.IntegerField()
        kappa = peewee.FloatField(null=True)
        mae = peewee.FloatField(null=True)
        weights = peewee.TextField()

        class Meta:
            table_name = "rubric_model"

    class SelfIdentification(Frozen):
        candidate = peewee.ForeignKeyField(Candidate, unique=True, on_delete="CASCADE")
        key_id = peewee.CharField(max_length=64)
        sealed = peewee.BlobField()
        given_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "self_identification"

    db.create_tables([EvidenceFeature, RubricModel, SelfIdentification])
