"""The one place that decides who reaches which route.

Every route handler states its rule in `opt` with `allow(...)` or `PUBLIC`; the app-wide guard
enforces it and refuses a route that states none, so a forgotten rule fails closed (and the
route-table test fails).
"""

from __future__ import annotations

import math
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler

from appliance.core.config import Config
from appliance.db.models import Role, User
from appliance.runtime import Runtime
from appliance.staff import api_tokens, roles
from appliance.staff.sessions import find_session_user

ACCESS_KEY = "access"
# Route option: the API-token scope that also admits a call (`allow_token`).
TOKEN_SCOPE = "token_scope"
SESSION_COOKIE = "parley_session"
# Where the guard leaves the API token a call was made with (None for a browser's call).
API_TOKEN = "api_token"
CSRF_COOKIE = "parley_csrf"


def cookie_name(config: Config, base: str) -> str:
    """On HTTPS, `__Host-<base>`: the browser then keeps the cookie only Secure, for the whole
    site and this exact host, so no sibling host or plain-HTTP page can plant or overwrite it."""
    return f"__Host-{base}" if config.public_url.startswith("https://") else base


PUBLIC = "public"
STAFF = frozenset(Role)


def allow(*roles: Role) -> dict[str, Any]:
    """Route option: only signed-in staff with one of `roles`."""
    return {ACCESS_KEY: frozenset(roles)}


def allow_token(scope: str, *roles: Role) -> dict[str, Any]:
    """Route option: signed-in staff with one of `roles`, or a call with an API token that
    holds `scope` (`Authorization: Bearer parley_...`; never in the query string)."""
    return {ACCESS_KEY: frozenset(roles), TOKEN_SCOPE: scope}


def public() -> dict[str, Any]:
    """Route option: anyone, signed in or not."""
    return {ACCESS_KEY: PUBLIC}


def staff() -> dict[str, Any]:
    """Route option: any signed-in staff member."""
    return {ACCESS_KEY: STAFF}


# The rules routes state, by who may use them.
ADMIN = allow(Role.ADMIN)
AUDITORS = allow(Role.COMPLIANCE, Role.ADMIN)
HIRING = allow(*roles.HIRING)
PANEL = allow(*roles.PANEL)


# Route option: reachable by a signed-in user who must still replace the password an
# administrator gave them (their account page, the change itself, signing out).
BEFORE_PASSWORD_CHANGE = "before_password_change"


class PasswordChangeFirst(PermissionDeniedException):
    """A signed-in user must replace the password an administrator chose before going on."""


def route_rule(handler: BaseRouteHandler) -> frozenset[Role] | str | None:
    rule = handler.opt.get(ACCESS_KEY)
    if rule == PUBLIC or isinstance(rule, frozenset):
        return rule
    return None


async def _token_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, secret: str
) -> None:
    """A call made with an API token: the token must be live and hold the route's scope; the
    call is audited under the token's name."""
    runtime: Runtime = connection.app.state.runtime
    scope = handler.opt.get(TOKEN_SCOPE)
    token = await anyio.to_thread.run_sync(api_tokens.authenticate, secret)
    if token is None:
        raise NotAuthorizedException("the API token is unknown, expired or revoked")
    wait = connection.app.state.api_calls.wait(f"token:{token.id}")
    if wait:
        raise TooManyRequestsException(
            "this API token has made too many calls; try again later",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    if scope is None:
        raise PermissionDeniedException("this route does not take API tokens")
    if scope not in token.scopes:
        raise PermissionDeniedException(f"the API token lacks the scope {scope}")
    connection.scope["user"] = None
    connection.scope[API_TOKEN] = token  # type: ignore[literal-required]
    target = f"{connection.scope.get('method', 'GET')} {connection.url.path}"
    await anyio.to_thread.run_sync(
        runtime.audit.record, api_tokens.actor_name(token), "api.call", target
    )


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    runtime: Runtime = connection.app.state.runtime
    authorization = connection.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer " and authorization[7:].startswith(api_tokens.PREFIX):
        await _token_guard(connection, handler, authorization[7:].strip())
        return
    token = connection.cookies.get(cookie_name(runtime.config, SESSION_COOKIE), "")
    user: User | None = None
    if token:
        user = await anyio.to_thread.run_sync(find_session_user, token, runtime.config.auth)
    connection.scope["user"] = user
    rule = route_rule(handler)
    if rule is None:
        raise PermissionDeniedException(f"route {handler} states no access rule")
    if rule == PUBLIC:
        return
    if user is None:
        raise NotAuthorizedException("sign in to continue")
    if Role(user.role) not in rule:
        if not rule and handler.opt.get(TOKEN_SCOPE):
            raise PermissionDeniedException("this route takes API tokens only, not a sign-in")
        raise PermissionDeniedException("your role does not allow this page")
    if user.must_change_password and not handler.opt.get(BEFORE_PASSWORD_CHANGE):
        raise PasswordChangeFirst("choose your own password on the Account page first")
