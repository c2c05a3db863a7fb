"""Webhook endpoints as administrators manage them: made with a URL, the events it wants and a
secret shown once; switched off and on; removed. Every change is audited."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.core.errors import Invalid, NotFound
from appliance.db.models import User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from appliance.integrations import outbound
from appliance.integrations.webhook_events import EVENTS
from appliance.storage.audit import AuditLog

LOG_LENGTH = 100  # deliveries shown in an endpoint's log, newest first


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _events(events: Sequence[str]) -> str:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise Invalid(f"Events: choose at least one of {', '.join(EVENTS)}")
    return " ".join(e for e in EVENTS if e in events)


def create(
    audit: AuditLog,
    actor: str,
    url: str,
    events: Sequence[str],
    allow_internal: bool,
    created_by: User | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret. The URL must resolve, and to an address outside the box's
    own network unless `allow_internal`."""
    url = url.strip()
    outbound.resolve(outbound.parse_url(url), allow_internal)
    secret = new_secret()
    with audit.db.atomic():
        endpoint = WebhookEndpoint.create(
            url=url, events=_events(events), secret=secret, allow_internal=allow_internal,
            created_by=created_by,
        )  # fmt: skip
        audit.record(
            actor, "webhook.create", f"webhook:{endpoint.id}",
            {"url": url, "events": endpoint.events.split(), "allow_internal": allow_internal},
        )  # fmt: skip
    return endpoint, secret


def get(endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.get_or_none(WebhookEndpoint.id == endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


def listing() -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.select().order_by(WebhookEndpoint.id))


def set_enabled(audit: AuditLog, actor: str, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    """Switch an endpoint on (it receives events from now on) or off (it receives none, and
    what was waiting for it is not sent)."""
    with audit.db.atomic():
        endpoint = get(endpoint_id)
        endpoint.enabled, endpoint.disabled_reason = enabled, "" if enabled else "switched off"
        endpoint.save()
        audit.record(
            actor, "webhook.enable" if enabled else "webhook.disable",
            f"webhook:{endpoint.id}",
        )  # fmt: skip
    return endpoint


def delete(audit: AuditLog, actor: str, endpoint_id: int) -> None:
    with audit.db.atomic():
        endpoint = get(endpoint_id)
        audit.record(actor, "webhook.delete", f"webhook:{endpoint.id}", {"url": endpoint.url})
        endpoint.delete_instance(recursive=True)


@dataclass(frozen=True)
class LogLine:
    delivery_id: int
    kind: str
    message_id: str
    payload: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    last_attempt_at: str
    created_at: str


def delivery_log(endpoint_id: int) -> list[LogLine]:
    """The endpoint's newest deliveries: what was sent, how it was answered and when."""
    rows = (
        WebhookDelivery.select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent)
        .where(WebhookDelivery.endpoint == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(LOG_LENGTH)
    )
    return [
        LogLine(
            d.id, d.event.kind, d.event.message_id, d.event.payload, d.status, d.attempts,
            d.last_status_code, d.last_error,
            f"{d.last_attempt_at:%Y-%m-%d %H:%M:%S}" if d.last_attempt_at else "",
            f"{d.event.created_at:%Y-%m-%d %H:%M:%S}",
        )
        for d in rows
    ]  # fmt: skip
