"""Building the litestar application around an opened `Runtime`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Litestar, Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from appliance import __version__
from appliance.core.config import Config
from appliance.core.errors import (
    ApplianceError,
    Conflict,
    Damaged,
    Gone,
    Invalid,
    NotAllowed,
    NotFound,
)
from appliance.core.ratelimit import AddressLimiter
from appliance.core.sdnotify import keep_alive, notify
from appliance.recordings.playback import Viewings
from appliance.runtime import Runtime
from appliance.web import csrf_binding
from appliance.web.access import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    PasswordChangeFirst,
    access_guard,
    cookie_name,
    public,
)
from appliance.web.api_document import PROBLEM_JSON, ApiDocument
from appliance.web.csrf_binding import CsrfBinding
from appliance.web.pages import sentence
from appliance.web.routes import (
    api_tokens,
    api_v1,
    api_v1_webhooks,
    audit,
    calibration,
    candidate_link,
    candidates,
    choices,
    debrief,
    health,
    home,
    impact_ratio,
    interviews,
    kits,
    positions,
    recordings,
    review,
    room,
    scheduling,
    scorecards,
    search,
    settings,
    setup,
    signin,
    tls,
    users,
    webhooks,
)
from appliance.web.sfu_link import sfu_link
from appliance.web.unknown_fields import first_unknown

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
ROUTE_MODULES = (
    home,
    signin,
    setup,
    health,
    users,
    positions,
    candidates,
    kits,
    choices,
    audit,
    api_v1,
    api_v1_webhooks,
    api_tokens,
    webhooks,
    impact_ratio,
    recordings,
    scheduling,
    candidate_link,
    interviews,
    review,
    scorecards,
    debrief,
    calibration,
    search,
    room,
    tls,
    settings,
)


# Browsers that once reached the box over HTTPS never try plain HTTP again for a year.
HSTS = "max-age=31536000"


def security_headers(config: Config) -> dict[str, str]:
    """Sent with every response. The rooms' pages also open the SFU's websocket."""
    connect = f"'self' {sfu_link(config).connect_src}".strip()
    headers = {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        # Setup and join links carry secrets in their path: never leak them in a Referer.
        "referrer-policy": "no-referrer",
        "content-security-policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"connect-src {connect}; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
        "cache-control": "no-store",
    }
    if config.public_url.startswith("https://"):
        headers["strict-transport-security"] = HSTS
    return headers


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", "text/html"
    )


def _error(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[Any]:
    if _wants_html(request):
        return Template(
            template_name="message.html",
            context={"user": request.scope.get("user"), "title": title, "message": message},
            status_code=status,
        )
    return problem(status, message)


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """An error as RFC 9457 problem details: `type` about:blank, so `title` is the status's
    own phrase, and `detail` says what was wrong, for a person to read."""
    return Response(
        {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
         "detail": detail},
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )  # fmt: skip


def _domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, NotFound):
        return _error(request, 404, "Not found", str(exc))
    if isinstance(exc, NotAllowed):
        return _error(request, 403, "Not allowed", str(exc))
    if isinstance(exc, Conflict):
        return _error(request, 409, "Conflict", str(exc))
    if isinstance(exc, Gone):
        return _error(request, 410, "Gone", str(exc))
    if isinstance(exc, Damaged):
        return _error(request, 500, "Damaged", str(exc))
    if isinstance(exc, Invalid):
        return _error(request, 400, "Cannot do that", str(exc))
    return _error(request, 422, "Cannot do that", str(exc))


def _malformed(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """What the decoder refused (a wrong type, a missing field, a value outside its choices),
    said field by field."""
    extra = exc.extra if isinstance(exc, ValidationException) else None
    problems = [
        f"{problem.get('key') or 'body'}: {problem.get('message')}"
        for problem in (extra if isinstance(extra, list) else [])
        if isinstance(problem, dict)
    ]
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return _error(request, 400, "Cannot do that", "; ".join(problems) or detail)


def _out_of_range(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A number too large for any id or count the box stores (above 2^63 - 1)."""
    return _error(request, 400, "Cannot do that", "a number in the request is out of range")


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unforeseen: logged with its traceback under a reference the page shows, so an
    administrator can find it in the journal."""
    reference = secrets.token_hex(4)
    logger.error(
        "error %s answering %s %s", reference, request.method, request.url.path, exc_info=exc
    )
    return _error(
        request,
        500,
        "Something went wrong",
        f"the appliance could not answer this request (reference {reference}). Try again, or "
        "give the reference to your administrator.",
    )


# A NUL as the body's encoding spells it: %00 in a form, an unescaped \u0000 in JSON.
_NUL_IN_FORM = re.compile(rb"%00")
_NUL_IN_JSON = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_TEXT_BODIES = {"application/x-www-form-urlencoded": _NUL_IN_FORM, "application/json": _NUL_IN_JSON}


UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:
        return "", None
    return (parts.hostname or "", port or DEFAULT_PORTS.get(scheme))


def _from_another_site(request: Request[Any, Any, Any], config: Config) -> bool:
    """A state-changing request a browser sent from another site: beside the CSRF token, the
    browser's own word (Sec-Fetch-Site, Origin) is checked. `Origin: null`, which browsers send
    from pages with no-referrer, carries no site and is left to the token."""
    if request.method not in UNSAFE_METHODS:
        return False
    if request.headers.get("sec-fetch-site", "same-origin") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin", "null")
    if origin == "null":
        return False
    parts = urlsplit(origin)
    given = _host_and_port(parts.netloc, parts.scheme)
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme)
    own = {_host_and_port(request.headers.get("host", ""), scheme)}
    if config.web.public_url:
        public = urlsplit(config.public_url)
        own.add(_host_and_port(public.netloc, public.scheme))
    return given not in own


async def _check_request(request: Request[Any, Any, Any]) -> Response[Any] | None:
    if _from_another_site(request, request.app.state.runtime.config):
        return _error(request, 403, "Not allowed", "this request came from another site")
    return (
        _check_session_csrf(request)
        or await _refuse_nul(request)
        or await _refuse_unknown_fields(request)
    )


def _check_session_csrf(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """A signed-in write carries its session's CSRF token (web/csrf_binding.py); a page read
    with another token gets the session's, in the page and as the cookie."""
    config = request.app.state.runtime.config
    session = request.cookies.get(cookie_name(config, SESSION_COOKIE))
    if request.scope.get("user") is None or not session:
        return None
    expected = request.app.state.csrf_binding.token_for(session)
    if request.cookies.get(cookie_name(config, CSRF_COOKIE)) == expected:
        return None
    if request.method in UNSAFE_METHODS:
        return _error(
            request,
            403,
            "Not allowed",
            "this page was opened before you signed in, or in another sign-in: reload it and "
            "try again",
        )
    ScopeState.from_scope(request.scope).csrf_token = expected
    request.scope[csrf_binding.RENEW] = expected  # type: ignore[literal-required]
    return None


async def _refuse_unknown_fields(request: Request[Any, Any, Any]) -> Response[Any] | None:
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if data is None or kind != "application/json":
        return None
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None  # the decoder answers it
    unknown = first_unknown(body, data.annotation)
    if unknown is None:
        return None
    return _error(request, 400, "Cannot do that", f"unknown field {unknown!r}")


async def _refuse_nul(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """No text the appliance stores or shows may hold a NUL: databases truncate or refuse
    it, and it hides text from whoever reads it later. Refused once, here, for every route."""
    found = _NUL_IN_FORM.search(request.scope.get("query_string", b"")) is not None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not found and request.method in ("POST", "PUT", "PATCH") and kind in _TEXT_BODIES:
        body = await request.body()
        found = b"\x00" in body or _TEXT_BODIES[kind].search(body) is not None
    if found:
        return _error(request, 400, "Cannot do that", "text may not contain NUL characters")
    return None


def _not_signed_in(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target, safe='/')}", status_code=303)
    detail = exc.detail if isinstance(exc, HTTPException) else ""
    return _error(request, 401, "Sign in", detail or "sign in to continue")


def _forbidden(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return _error(request, 403, "Not allowed", detail)


def _password_change_first(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _wants_html(request):
        return Redirect("/account", status_code=303)
    return _forbidden(request, exc)


def _not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _error(request, 404, "Not found", "there is nothing at this address")


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The framework's own refusals (a method the route does not take, a body too large) in
    the same form as every other error."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status >= 500:
        return _internal_error(request, exc)
    detail = exc.detail if isinstance(exc, HTTPException) else ""
    response = _error(
        request, status, HTTPStatus(status).phrase, detail or HTTPStatus(status).phrase
    )
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


def _secure_and_count(
    app: ASGIApp, security: dict[str, str], renew_cookie: Callable[[str], Cookie]
) -> ASGIApp:
    """On every response, errors and static files included: security headers, and a count of
    answered requests by method and status for /metrics."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope["method"]

        async def finishing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in security.items()
                    if name.encode() not in present
                ]
                renewed = scope.get(csrf_binding.RENEW)
                if isinstance(renewed, str):
                    cookie = renew_cookie(renewed)
                    headers.append((b"set-cookie", cookie.to_header(header="").encode()))
                message = {**message, "headers": headers}
                health.HTTP_REQUESTS.labels(method, str(message["status"])).inc()
            await send(message)

        await app(scope, receive, finishing_send)

    return middleware


def _template_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["sentence"] = sentence


def create_app(runtime: Runtime) -> Litestar:
    """The web application for `runtime`; every route passes the access guard."""
    handlers = [
        handler
        for module in ROUTE_MODULES
        for handler in vars(module).values()
        if isinstance(handler, HTTPRouteHandler)
    ]
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], opt=public(), include_in_schema=False
    )
    csrf_secret = runtime.keys.derive("web csrf").hex()
    binding = CsrfBinding(runtime.config, csrf_secret, runtime.keys.derive("web csrf binding"))
    start_keep_alive, stop_keep_alive = _keep_alive_hooks()
    app = Litestar(
        route_handlers=[*handlers, static],
        on_startup=[start_keep_alive],
        on_shutdown=[stop_keep_alive],
        guards=[access_guard],
        before_request=_check_request,
        dependencies={"runtime": Provide(lambda: runtime, sync_to_thread=False)},
        csrf_config=CSRFConfig(
            secret=csrf_secret,
            cookie_name=cookie_name(runtime.config, CSRF_COOKIE),
            cookie_samesite="strict",
            cookie_secure=runtime.config.public_url.startswith("https://"),
        ),
        template_config=TemplateConfig(
            directory=HERE / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=_template_filters,
        ),
        openapi_config=OpenAPIConfig(
            title="Parley",
            version=__version__,
            path="/schema",
            render_plugins=[ApiDocument()],
            openapi_router=Router(
                "/schema", route_handlers=[], include_in_schema=False, opt=public()
            ),
        ),
        exception_handlers={
            HTTP_500_INTERNAL_SERVER_ERROR: _internal_error,
            OverflowError: _out_of_range,
            ValidationException: _malformed,
            ApplianceError: _domain_error,
            NotAuthorizedException: _not_signed_in,
            PasswordChangeFirst: _password_change_first,
            PermissionDeniedException: _forbidden,
            NotFoundException: _not_found,
            HTTPException: _http_error,
        },
        middleware=[
            partial(
                _secure_and_count,
                security=security_headers(runtime.config),
                renew_cookie=binding.cookie,
            )
        ],
        debug=False,
    )
    app.state.runtime = runtime
    app.state.csrf_binding = binding
    app.state.viewings = Viewings()
    app.state.sign_ins = AddressLimiter(
        runtime.config.auth.signins_per_minute, runtime.config.auth.signin_burst
    )
    app.state.api_calls = AddressLimiter(
        runtime.config.auth.api_calls_per_minute, runtime.config.auth.api_burst
    )
    return app


def _keep_alive_hooks() -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """Start and stop the systemd keep-alive with the app (a no-op outside systemd)."""
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(keep_alive()))

    async def stop() -> None:
        notify("STOPPING=1")
        for task in tasks:
            task.cancel()

    return start, stop
