"""Version 3: the encrypted recording store: blobs, wrapped data keys, recipients, holds."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations


def apply(db: peewee.Database, migrator: SchemaMigrator) -> None:
    run_operations(
        migrator.add_column("recording", "key_id", peewee.CharField(max_length=32, null=True)),
        migrator.add_index("recording", ("key_id",), False),
        migrator.add_column("candidate", "decided_at", peewee.DateTimeField(null=True)),
        migrator.add_column("candidate", "legal_hold", peewee.BooleanField(default=False)),
        migrator.add_column("candidate", "hold_reason", peewee.TextField(default="")),
    )

    class Frozen(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Recording(Frozen):
        class Meta:
            table_name = "recording"

    class RecordingBlob(Frozen):
        recording = peewee.ForeignKeyField(Recording, on_delete="CASCADE")
        object_id = peewee.CharField(max_length=32, unique=True)
        participant_identity = peewee.CharField(max_length=200)
        kind = peewee.CharField(max_length=16)
        filename = peewee.CharField(max_length=255, default="")
        media_type = peewee.CharField(max_length=100, default="application/octet-stream")
        plaintext_bytes = peewee.BigIntegerField(default=0)
        sealed_sha256 = peewee.CharField(max_length=64, default="")
        status = peewee.CharField(max_length=16, default="writing")
        created_at = peewee.DateTimeField()

    class DataKey(Frozen):
        key_id = peewee.CharField(max_length=32, index=True)
        recipient = peewee.CharField(max_length=200)
        wrapped = peewee.BlobField()
        created_at = peewee.DateTimeField()

        class Meta:
            indexes = ((("key_id", "recipient"), True),)

    class ComplianceRecipient(Frozen):
        recipient = peewee.CharField(max_length=200, unique=True)
        label = peewee.CharField(max_length=200, default="")
        added_at = peewee.DateTimeField()

    db.create_tables([RecordingBlob, DataKey, ComplianceRecipient])
