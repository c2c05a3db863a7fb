"""The events connected systems can be told of, and how one is written down for sending.

An event is written in the transaction that makes the change it reports, with one pending
delivery per enabled endpoint that asked for its kind; with no such endpoint nothing is written
and nothing will leave the box. A payload carries ids and state, never a name, an address, a
transcript's words or media: the receiver fetches what its token's scopes allow (docs/api.md).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any, Literal, get_args

from appliance.db.database import utcnow
from appliance.db.models import (
    Candidate,
    Interview,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

EventName = Literal[
    "candidate.created",
    "interview.scheduled",
    "interview.rescheduled",
    "interview.cancelled",
    "interview.completed",
    "transcript.ready",
    "scorecard.submitted",
    "decision.made",
    "candidate.erased",
]
EVENTS: tuple[EventName, ...] = get_args(EventName)


def _utc(moment: dt.datetime) -> str:
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return aware.isoformat().replace("+00:00", "Z")


def emit(kind: str, data: dict[str, Any], now: dt.datetime | None = None) -> WebhookEvent | None:
    """Write the event `kind` with `data` for every enabled endpoint that asked for it (call it
    inside the change's own transaction); None when no endpoint did."""
    if kind not in EVENTS:
        raise ValueError(f"unknown webhook event {kind!r}")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.select().where(WebhookEndpoint.enabled == True)  # noqa: E712
        if kind in endpoint.events.split()
    ]
    if not endpoints:
        return None
    now = now or utcnow()
    body = {"type": kind, "timestamp": _utc(now), "data": data}
    with WebhookEvent._meta.database.atomic():
        event = WebhookEvent.create(
            message_id=f"msg_{secrets.token_hex(16)}",
            kind=kind,
            payload=json.dumps(body, separators=(",", ":"), sort_keys=True),
            created_at=now,
        )
        for endpoint in endpoints:
            WebhookDelivery.create(endpoint=endpoint, event=event, next_attempt_at=now)
    return event


def candidate_data(candidate: Candidate) -> dict[str, Any]:
    return {"candidate_id": candidate.id, "external_id": candidate.external_id}


def interview_data(interview: Interview) -> dict[str, Any]:
    """An interview's ids, state and times (UTC, with the time zone it is held in)."""
    return {
        "interview_id": interview.id,
        "status": interview.status,
        "starts_at": _utc(interview.starts_at),
        "ends_at": _utc(interview.ends_at),
        "timezone": interview.timezone,
        "position_id": interview.position_id,
        **candidate_data(interview.candidate),
    }
