"""Version 19: webhook endpoints administrators connect, the events written for them, and each
event's delivery to each endpoint with its attempts."""

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

    class WebhookEndpoint(Frozen):
        url = peewee.CharField(max_length=2000)
        events = peewee.CharField(max_length=400)
        secret = peewee.CharField(max_length=100)
        allow_internal = peewee.BooleanField(default=False)
        enabled = peewee.BooleanField(default=True)
        disabled_reason = peewee.CharField(max_length=300, default="")
        created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "webhook_endpoint"

    class WebhookEvent(Frozen):
        message_id = peewee.CharField(max_length=40, unique=True)
        kind = peewee.CharField(max_length=40)
        payload = peewee.TextField()
        created_at = peewee.DateTimeField(default=datetime.datetime.now)

        class Meta:
            table_name = "webhook_event"

    class WebhookDelivery(Frozen):
        endpoint = peewee.ForeignKeyField(WebhookEndpoint, on_delete="CASCADE")
        event = peewee.ForeignKeyField(WebhookEvent, on_delete="CASCADE")
        status = peewee.CharField(max_length=16, default="pending")
        attempts = peewee.IntegerField(default=0)
        next_attempt_at = peewee.DateTimeField(index=True)
        claimed_until = peewee.DateTimeField(null=True)
        last_attempt_at = peewee.DateTimeField(null=True)
        last_status_code = peewee.IntegerField(null=True)
        last_error = peewee.CharField(max_length=300, default="")
        delivered_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "webhook_delivery"

    class WebhookAttempt(Frozen):
        delivery = peewee.ForeignKeyField(WebhookDelivery, on_delete="CASCADE")
        at = peewee.DateTimeField(default=datetime.datetime.now)
        status_code = peewee.IntegerField(null=True)
        error = peewee.CharField(max_length=300, default="")
        milliseconds = peewee.IntegerField(default=0)

        class Meta:
            table_name = "webhook_attempt"

    db.create_tables([WebhookEndpoint, WebhookEvent, WebhookDelivery, WebhookAttempt])
