"""API tokens for systems that call the appliance: made by administrators with a name, scopes
and an expiry; the secret is shown once and only its SHA-256 is kept; every use is recorded
(the last use on the token, each call in the audit log under the token's name); revocable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.core.errors import Conflict, Invalid, NotFound
from appliance.db.database import utcnow
from appliance.db.models import ApiToken, User
from appliance.staff.bearer import digest, new_token
from appliance.storage.audit import AuditLog

SCOPES = (
    "candidates:write",
    "interviews:write",
    "interviews:read",
    "scorecards:read",
    "decisions:read",
    "transcripts:read",
    "webhooks:manage",
)
PREFIX = "parley_"  # so a leaked token is recognisable in logs and secret scanners
MAX_DAYS = 730
# Only refresh last_used_at this often, so a busy integration does not write on every call.
TOUCH_INTERVAL = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


def _view(token: ApiToken) -> TokenView:
    return TokenView(
        token.id, token.name, token.scopes.split(), token.created_at, token.expires_at,
        token.last_used_at, token.revoked_at,
    )  # fmt: skip


def create(
    audit: AuditLog, actor: User, name: str, scopes: list[str], days: int
) -> tuple[TokenView, str]:
    """A new token and its secret (shown once, never stored)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise Invalid("Name: give the token a name of 1 to 100 characters")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise Invalid(f"Scopes: choose at least one of {', '.join(SCOPES)}")
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"Expiry: between 1 and {MAX_DAYS} days")
    if ApiToken.select().where(ApiToken.name == name).exists():
        raise Conflict(f"a token named {name!r} exists; choose another name")
    secret = PREFIX + new_token()
    token = ApiToken.create(
        name=name,
        token_hash=digest(secret),
        scopes=" ".join(s for s in SCOPES if s in scopes),
        created_by=actor,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    audit.record(
        actor.email, "api_token.create", f"api_token:{token.id}",
        {"name": name, "scopes": token.scopes.split(), "days": days},
    )  # fmt: skip
    return _view(token), secret


def listing() -> list[TokenView]:
    return [_view(t) for t in ApiToken.select().order_by(ApiToken.created_at.desc())]


def revoke(audit: AuditLog, actor: User, token_id: int) -> None:
    token = ApiToken.get_or_none(ApiToken.id == token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.save()
        audit.record(actor.email, "api_token.revoke", f"api_token:{token.id}", {"name": token.name})


def authenticate(secret: str) -> TokenView | None:
    """The active token behind `secret`; None for a forged, expired or revoked one."""
    if not secret.startswith(PREFIX) or len(secret) > 128:
        return None
    token = ApiToken.get_or_none(ApiToken.token_hash == digest(secret))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL:
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
        token.last_used_at = now
    return _view(token)


def actor_name(token: TokenView) -> str:
    """How the audit log names a call made with the token."""
    return f"token:{token.name}"
