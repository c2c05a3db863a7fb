"""Staff sign-in with the company's OpenID Connect provider (`[oidc]`, docs/single-sign-on.md).

The authorization code flow with PKCE: `begin` sends the browser to the provider with a fresh
state, nonce and code verifier, kept server-side (the state only as its SHA-256) and bound to the
browser by a cookie holding the state; `finish` takes the provider's answer once, exchanges the
code for tokens, and accepts the ID token only when its signature verifies against the
provider's published keys and its issuer, audience, expiry and nonce are the expected ones
(authlib's `CodeIDToken`, over joserfc). The groups claim then decides the role: a user in no
mapped group is refused, and whatever sessions they still hold end.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from appliance.core.config import OidcConfig
from appliance.core.errors import ApplianceError, Invalid
from appliance.db.database import utcnow
from appliance.db.models import Role, SsoAttempt, User
from appliance.staff.accounts import normalize_email
from appliance.staff.sessions import revoke_all
from appliance.storage.audit import AuditLog

ATTEMPT_LIFETIME = dt.timedelta(minutes=10)
# Clock difference tolerated between the box and the provider.
LEEWAY_SECONDS = 60
TIMEOUT_SECONDS = 10
# The provider's discovery document and keys are read again after this long.
CACHE_SECONDS = 3600
MAX_ANSWER = 1 << 20
UNUSABLE_PASSWORD = "!"  # no password hashes to it: such an account signs in only through SSO


class SignInRefused(ApplianceError):
    """The provider's answer is not accepted; the message says why, for the person signing in."""


class ProviderUnreachable(ApplianceError):
    """The provider could not be reached or answered nonsense; password sign-in still works."""


def enabled(settings: OidcConfig) -> bool:
    return bool(settings.issuer and settings.client_id)


def role_map(settings: OidcConfig) -> list[tuple[str, Role]]:
    """`[oidc] roles` as (group, role) pairs, in the order given."""
    pairs = []
    for item in settings.roles.split(","):
        if not item.strip():
            continue
        group, _, role = item.rpartition("=")
        try:
            pairs.append((group.strip(), Role(role.strip())))
        except ValueError:
            raise Invalid(f"[oidc] roles: {role.strip()!r} is not a role") from None
    return pairs


def break_glass(settings: OidcConfig) -> set[str]:
    return {e.strip().lower() for e in settings.break_glass.split(",") if e.strip()}


def password_allowed(settings: OidcConfig, email: str) -> bool:
    """Whether `email` may sign in with a password while single sign-on is on."""
    if not enabled(settings) or settings.password_signin == "everyone":
        return True
    return email.strip().lower() in break_glass(settings)


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _fetch(settings: OidcConfig, request: urllib.request.Request) -> Any:
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as answer:
            return json.loads(answer.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        body = exc.read(2000).decode("utf-8", "replace")
        raise ProviderUnreachable(f"the provider answered {exc.code}: {body[:300]}") from None
    except (OSError, ValueError) as exc:
        raise ProviderUnreachable(
            f"the provider at {request.full_url} cannot be used: {exc}"
        ) from None


def _cached(settings: OidcConfig, url: str) -> Any:
    with _cache_lock:
        kept = _cache.get(url)
        if kept is not None and time.monotonic() - kept[0] < CACHE_SECONDS:
            return kept[1]
    found = _fetch(settings, urllib.request.Request(url, headers={"accept": "application/json"}))
    with _cache_lock:
        _cache[url] = (time.monotonic(), found)
    return found


def forget_provider() -> None:
    """Read the provider's discovery document and keys afresh on next use."""
    with _cache_lock:
        _cache.clear()


def discover(settings: OidcConfig) -> Provider:
    """The provider's endpoints from its discovery document, which must name the configured
    issuer exactly (OpenID Connect Discovery 1.0, section 4.3)."""
    issuer = settings.issuer.rstrip("/")
    document = _cached(settings, f"{issuer}/.well-known/openid-configuration")
    try:
        provider = Provider(
            str(document["issuer"]), str(document["authorization_endpoint"]),
            str(document["token_endpoint"]), str(document["jwks_uri"]),
        )  # fmt: skip
    except (KeyError, TypeError):
        raise ProviderUnreachable("the provider's discovery document lacks an endpoint") from None
    if provider.issuer.rstrip("/") != issuer:
        raise ProviderUnreachable(
            f"the provider calls itself {provider.issuer}, not the configured {issuer}"
        )
    return provider


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def begin(settings: OidcConfig, redirect_uri: str, next_path: str) -> tuple[str, str]:
    """Where to send the browser, and the state to keep in its cookie."""
    provider = discover(settings)
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    SsoAttempt.delete().where(SsoAttempt.created_at < utcnow() - ATTEMPT_LIFETIME).execute()
    SsoAttempt.create(
        state_hash=_digest(state), nonce=nonce, code_verifier=verifier, next_path=next_path
    )
    query = urllib.parse.urlencode({
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    })  # fmt: skip
    separator = "&" if "?" in provider.authorization_endpoint else "?"
    return f"{provider.authorization_endpoint}{separator}{query}", state


def _take_attempt(state: str, browser_state: str) -> SsoAttempt:
    """The attempt `state` names, used up; refused when the browser did not begin it, it was
    used already, or it is too old."""
    if not state or not hmac.compare_digest(state.encode(), browser_state.encode()):
        raise SignInRefused(
            "this sign-in was not started in this browser, or it was already used: start again"
        )
    attempt = SsoAttempt.get_or_none(SsoAttempt.state_hash == _digest(state))
    if (
        attempt is None
        or not SsoAttempt.delete().where(SsoAttempt.state_hash == attempt.state_hash).execute()
    ):
        raise SignInRefused("this sign-in was already used or has expired: start again")
    if attempt.created_at < utcnow() - ATTEMPT_LIFETIME:
        raise SignInRefused("this sign-in took too long: start again")
    return attempt


def verify_id_token(
    id_token: str, keys: dict[str, Any], issuer: str, client_id: str, nonce: str,
    now: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The ID token's claims, once its signature verifies against the provider's `keys` and
    its issuer, audience, expiry, issue time and nonce are right; SignInRefused otherwise."""
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(keys))  # type: ignore[arg-type]
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
            },
            params={"nonce": nonce, "client_id": client_id},
        )
        claims.validate(now=int(time.time()) if now is None else now, leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError) as exc:
        raise SignInRefused(f"the provider's ID token was refused ({exc})") from None
    return dict(claims)


@dataclass(frozen=True)
class SignedIn:
    user: User
    next_path: str


def finish(
    audit: AuditLog, settings: OidcConfig, redirect_uri: str, code: str, state: str,
    browser_state: str,
) -> SignedIn:  # fmt: skip
    attempt = _take_attempt(state, browser_state)
    provider = discover(settings)
    form = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": attempt.code_verifier,
    }).encode()  # fmt: skip
    request = urllib.request.Request(provider.token_endpoint, data=form, method="POST")
    request.add_header("content-type", "application/x-www-form-urlencoded")
    request.add_header("accept", "application/json")
    # client_secret_basic (RFC 6749, 2.3.1): both parts form-encoded, then base64.
    pair = f"{urllib.parse.quote(settings.client_id)}:{urllib.parse.quote(settings.client_secret)}"
    request.add_header("authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    try:
        tokens = _fetch(settings, request)
    except ProviderUnreachable as exc:
        raise SignInRefused(f"the provider did not give a token for this sign-in ({exc})") from None
    id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
    if not isinstance(id_token, str):
        raise SignInRefused("the provider's answer holds no ID token")
    keys = _cached(settings, provider.jwks_uri)
    claims = verify_id_token(id_token, keys, provider.issuer, settings.client_id, attempt.nonce)
    return SignedIn(_account(audit, settings, claims), attempt.next_path)


def _role(settings: OidcConfig, claims: dict[str, Any]) -> Role | None:
    groups = claims.get(settings.groups_claim) or []
    if isinstance(groups, str):
        groups = groups.split()
    member_of = {str(g) for g in groups} if isinstance(groups, list) else set()
    return next((role for group, role in role_map(settings) if group in member_of), None)


def _account(audit: AuditLog, settings: OidcConfig, claims: dict[str, Any]) -> User:
    """The user the claims name: found by subject, else linked by a verified e-mail, else made;
    their role follows their groups. Refused (and their sessions ended) in no mapped group."""
    subject = str(claims["sub"])
    email = str(claims.get("email") or "")
    role = _role(settings, claims)
    with audit.db.atomic():
        user = User.get_or_none(User.oidc_subject == subject)
        if user is None and email and claims.get("email_verified", True) is not False:
            user = User.get_or_none(User.email == normalize_email(email))
            if user is not None and user.oidc_subject is not None:
                raise SignInRefused(
                    "a Parley account with your e-mail address belongs to another account at "
                    "the sign-in provider; ask your administrator"
                )
        who = user.email if user is not None else email or f"sso:{subject}"
        if role is None:
            if user is not None:
                revoke_all(user)
            audit.record(who, "auth.signin_failed", who, {"reason": "sso_no_role", "sub": subject})
    if role is None:  # refused once the sessions' end and the refusal are written
        raise SignInRefused(
            "your account at the sign-in provider is in no group that has a role in Parley; "
            "ask your administrator"
        )
    with audit.db.atomic():
        if user is None:
            if not email:
                raise SignInRefused("the provider gave no e-mail address for your account")
            user = User.create(
                email=normalize_email(email), name=str(claims.get("name") or ""), role=role.value,
                password_hash=UNUSABLE_PASSWORD, oidc_subject=subject,
            )  # fmt: skip
            audit.record("sso", "user.create", user.email, {"role": role.value, "user_id": user.id})
        if not user.active:
            raise SignInRefused("your Parley account is switched off; ask your administrator")
        if user.role != role.value:
            audit.record("sso", "user.role", user.email, {"from": user.role, "to": role.value})
        user.role, user.oidc_subject = role.value, subject
        user.save()
        audit.record(user.email, "auth.signin", user.email, {"method": "sso"})
    return user
