"""Creates made through the API may carry an `Idempotency-Key`: the answer is kept for a day by
token and key, so a client that retries after a lost answer gets the same answer, and nothing
is made twice. The same key with a different request is refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from typing import Any

import peewee

from appliance.core.errors import Conflict, Invalid
from appliance.db.database import utcnow
from appliance.db.models import IdempotentRequest

KEPT = dt.timedelta(hours=24)
MAX_KEY = 200


def request_digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise Invalid(f"Idempotency-Key: 1 to {MAX_KEY} printable characters")


def replay(token_id: int, key: str, digest: str) -> tuple[int, Any] | None:
    """The kept (status, answer) for this token and key, or None when there is none."""
    kept = IdempotentRequest.get_or_none(
        (IdempotentRequest.token == token_id)
        & (IdempotentRequest.key == key)
        & (IdempotentRequest.created_at > utcnow() - KEPT)
    )
    if kept is None:
        return None
    if kept.request_sha256 != digest:
        raise Conflict("this Idempotency-Key was used for a different request; use a new key")
    return int(kept.status), json.loads(kept.response)


def remember(token_id: int, key: str, digest: str, status: int, answer: Any) -> None:
    IdempotentRequest.delete().where(
        (IdempotentRequest.token == token_id)
        & (IdempotentRequest.key == key)
        & (IdempotentRequest.created_at <= utcnow() - KEPT)
    ).execute()
    with contextlib.suppress(peewee.IntegrityError):  # a concurrent retry kept its answer first
        IdempotentRequest.create(
            token=token_id, key=key, request_sha256=digest, status=status,
            response=json.dumps(answer, default=str),
        )  # fmt: skip


def purge() -> int:
    return int(
        IdempotentRequest.delete().where(IdempotentRequest.created_at <= utcnow() - KEPT).execute()
    )
