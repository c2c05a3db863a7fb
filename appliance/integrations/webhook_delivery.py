"""Delivering webhook events: signed, retried with backoff for a day, at least once.

The worker's sender takes due deliveries one at a time. Taking one writes a claim that runs out
by itself (`CLAIM`), so a sender killed mid-request holds nothing: the delivery is taken again
once the claim runs out, and sent again with the same `webhook-id`. A receiver can therefore
get an event twice (it answered, but the sender died before writing that down) and should use
the id to see it has it already; it never misses one.

Retries wait 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h between tries; a delivery not answered
with a 2xx within `GIVE_UP` of its event is failed, its endpoint switched off and the
administrators told by e-mail.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from math import floor

from standardwebhooks import Webhook

from appliance.core.config import Config
from appliance.core.errors import ApplianceError, Conflict, NotFound
from appliance.db.database import utcnow
from appliance.db.models import (
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from appliance.integrations import outbound
from appliance.storage.audit import AuditLog

logger = logging.getLogger(__name__)

BACKOFF = tuple(
    dt.timedelta(seconds=s) for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
)
GIVE_UP = dt.timedelta(hours=24)
# Longer than any request may take (`[webhooks] timeout_seconds` is at most 60).
CLAIM = dt.timedelta(minutes=2)
KEEP = dt.timedelta(days=30)
USER_AGENT = "Parley-Webhooks/1"


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed try."""
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def due(now: dt.datetime | None = None, limit: int = 50) -> list[int]:
    """Deliveries whose time has come and that no live sender holds, oldest first."""
    now = now or utcnow()
    query = (
        WebhookDelivery.select(WebhookDelivery.id)
        .join(WebhookEndpoint)
        .where(
            (WebhookDelivery.status == "pending")
            & (WebhookDelivery.next_attempt_at <= now)
            & (WebhookDelivery.claimed_until.is_null() | (WebhookDelivery.claimed_until <= now))
            & (WebhookEndpoint.enabled == True)  # noqa: E712
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return [d.id for d in query]


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take the delivery if no other sender holds it; only one of two racing senders wins."""
    taken = (
        WebhookDelivery.update(claimed_until=now + CLAIM)
        .where(
            (WebhookDelivery.id == delivery_id)
            & (WebhookDelivery.status == "pending")
            & (WebhookDelivery.claimed_until.is_null() | (WebhookDelivery.claimed_until <= now))
        )
        .execute()
    )
    return bool(taken)


def signed_headers(
    endpoint: WebhookEndpoint, event: WebhookEvent, sent_at: dt.datetime
) -> dict[str, str]:
    moment = sent_at.replace(tzinfo=dt.UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event.message_id,
        "webhook-timestamp": str(floor(moment.timestamp())),
        "webhook-signature": Webhook(endpoint.secret).sign(event.message_id, moment, event.payload),
    }


# Told of an endpoint a day of failures switched off (hiring/notifications.py e-mails admins).
SwitchedOff = Callable[[WebhookEndpoint], None]


def deliver(
    audit: AuditLog,
    config: Config,
    delivery_id: int,
    now: dt.datetime | None = None,
    switched_off: SwitchedOff | None = None,
) -> str:
    """Try the delivery once if it is still to be made and not held; its status after."""
    now = now or utcnow()
    if not _claim(delivery_id, now):
        return "held"
    delivery = WebhookDelivery.get_by_id(delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    started = time.monotonic()
    code: int | None = None
    error = ""
    try:
        code = outbound.post(
            endpoint.url, event.payload.encode(), signed_headers(endpoint, event, utcnow()),
            endpoint.allow_internal, config.webhooks.timeout_seconds,
        )  # fmt: skip
        if not 200 <= code < 300:
            error = f"answered {code}"
    except (ApplianceError, OSError) as exc:
        error = str(exc) or type(exc).__name__
    elapsed = int((time.monotonic() - started) * 1000)
    if _record(audit, delivery, code, error, now, elapsed) and switched_off is not None:
        switched_off(endpoint)
    return str(delivery.status)


def _record(
    audit: AuditLog, delivery: WebhookDelivery, code: int | None, error: str,
    now: dt.datetime, milliseconds: int,
) -> bool:  # fmt: skip
    """Write the try down; True when it switched the endpoint off."""
    off = False
    with WebhookDelivery._meta.database.atomic():
        WebhookAttempt.create(
            delivery=delivery,
            at=now,
            status_code=code,
            error=error[:300],
            milliseconds=milliseconds,
        )
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.last_status_code = now, code
        delivery.last_error, delivery.claimed_until = error[:300], None
        if not error:
            delivery.status, delivery.delivered_at = "delivered", now
        else:
            retry = now + retry_delay(delivery.attempts)
            if retry - delivery.event.created_at > GIVE_UP:
                delivery.status = "failed"
                off = _give_up(audit, delivery.endpoint, now)
            else:
                delivery.next_attempt_at = retry
        delivery.save()
    return off


def _give_up(audit: AuditLog, endpoint: WebhookEndpoint, now: dt.datetime) -> bool:
    """A delivery unanswered for a day switches its endpoint off; True when this one did."""
    if not endpoint.enabled:
        return False
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"no delivery answered with success for {GIVE_UP.days} day, until {now:%Y-%m-%d %H:%M} UTC"
    )
    endpoint.save()
    audit.record(
        "webhooks", "webhook.disable", f"webhook:{endpoint.id}",
        {"reason": endpoint.disabled_reason},
    )  # fmt: skip
    return True


def run_due(
    audit: AuditLog,
    config: Config,
    now: dt.datetime | None = None,
    switched_off: SwitchedOff | None = None,
) -> int:
    """Try every due delivery once; how many were tried."""
    tried = 0
    for delivery_id in due(now):
        if deliver(audit, config, delivery_id, now, switched_off) != "held":
            tried += 1
    return tried


def send_again(audit: AuditLog, actor: User, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """An administrator's "send again": the event goes to the endpoint once more, now, with the
    same `webhook-id`, as a new delivery (the log keeps the old one as it was)."""
    old = WebhookDelivery.get_or_none(
        (WebhookDelivery.id == delivery_id) & (WebhookDelivery.endpoint == endpoint_id)
    )
    if old is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    if not old.endpoint.enabled:
        raise Conflict("the endpoint is switched off: switch it on, then send again")
    again = WebhookDelivery.create(endpoint=old.endpoint, event=old.event, next_attempt_at=utcnow())
    audit.record(
        actor.email, "webhook.send_again", f"webhook:{old.endpoint.id}",
        {"delivery": old.id, "message_id": old.event.message_id},
    )  # fmt: skip
    return again


def prune(now: dt.datetime | None = None) -> int:
    """Forget finished deliveries older than `KEEP`, and events no delivery needs any more."""
    cutoff = (now or utcnow()) - KEEP
    gone = int(
        WebhookDelivery.delete()
        .where((WebhookDelivery.status != "pending") & (WebhookDelivery.last_attempt_at < cutoff))
        .execute()
    )
    needed = WebhookDelivery.select(WebhookDelivery.event)
    WebhookEvent.delete().where(
        (WebhookEvent.created_at < cutoff) & WebhookEvent.id.not_in(needed)
    ).execute()
    return gone
