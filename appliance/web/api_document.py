"""The OpenAPI document, completed with what the handlers' signatures cannot say.

Litestar derives each operation from its handler. What every route shares is enforced in one
place (the access guard, the CSRF check, the edge's refusal of NUL and of numbers past 64 bits,
the body size limit), so it is described here in one place too, from the same facts:

- how a call authenticates (the session cookie; the CSRF header on writes) and the 401 and
  403 every staff route can answer;
- 400 on every route (malformed input, NUL), 404 on every route whose path names something, 413
  on every route that takes a body, 429 on every route a token may call;
- text never holds NUL; text a route requires must hold something other than spaces;
  integers fit in 64 bits; an object has no fields but its own (web/unknown_fields.py); an
  e-mail address is what `staff.accounts.normalize_email` takes.

A refusal only some routes give (409, 410, 422) is declared on the route with `refusals()`.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute

from appliance.integrations import outbound
from appliance.web.access import (
    CSRF_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    TOKEN_SCOPE,
    cookie_name,
    route_rule,
)

UNSAFE_METHODS = ("post", "put", "patch", "delete")
CSRF_HEADER = "X-CSRFToken"
# A route's `opt` key naming the media types its 200 answer may take, beyond JSON.
MEDIA_TYPES_OPT = "media_types"

# Whitespace as the server trims it (Python's str.isspace), spelt out: `\s` means a different
# set in the ECMA dialect JSON Schema patterns are read in.
SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
# Unicode category Cc: C0, DEL and C1.
CONTROL_FREE = r"^[^\x00-\x1f\x7f-\x9f]+$"
# Required text: after trimming, something is left.
SOMETHING_WRITTEN = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"
INT64 = (-(2**63), 2**63 - 1)
# Fields whose name says what they hold, with the rule the domain applies to them.
_ADDRESS_PART = rf"[^@\x00{SPACE}]+"
PROPERTY_PATTERNS = {
    # staff.accounts.normalize_email: trimmed, then local@domain.tld without spaces.
    "email": rf"^[{SPACE}]*{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}[{SPACE}]*$",
    # hiring.candidates.check_external_id: no control characters.
    "external_id": CONTROL_FREE,
}

# Patterns of one schema's properties, where the name alone does not say what they hold.
COMPONENT_PATTERNS = {"EndpointIn": {"url": outbound.URL_PATTERN}}

# Every error is RFC 9457 problem details (app.problem).
PROBLEM_JSON = "application/problem+json"
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "const": "about:blank"},
        "title": {"type": "string", "description": "the HTTP status's phrase"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what was wrong, for a person to read"},
    },
}

WHY = {
    400: "Malformed: a value of the wrong type or out of range, a field missing or unknown, "
    "text holding NUL; `detail` says which.",
    401: "Not signed in: no session cookie, or one that expired or was signed out; or an API "
    "token that is unknown, expired or revoked.",
    403: "Signed in, but the role or the interview's panel does not allow this; or a write "
    "without the CSRF header, or from another site; or an API token without the route's scope.",
    404: "Nothing with that id, or nothing the caller may see.",
    409: "The request contradicts what is stored now (a time taken meanwhile, a duplicate, an "
    "Idempotency-Key sent before with another request).",
    410: "It existed and was erased with its candidate's data.",
    413: "The request body is larger than the box accepts.",
    429: "The API token made more calls than `[auth] api_burst` and `api_calls_per_minute` "
    "allow; `Retry-After` says after how many seconds to try again.",
    422: "Well-formed, but refused by a rule the schema cannot state (the interview has not "
    "started, a competency that is not in the kit, a scorecard already submitted); "
    "`detail` says which.",
}


def refusals(*statuses: int) -> dict[int, ResponseSpec]:
    """A route's own refusals, for its `responses=`: e.g. `refusals(409, 422)`."""
    return {
        status: ResponseSpec(data_container=None, description=WHY[status]) for status in statuses
    }


class ApiDocument(JsonRenderPlugin):
    """Serves the completed document at /schema and /schema/openapi.json."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/openapi.json"])
        self._document: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._document is None:
            self._document = complete(copy.deepcopy(openapi_schema), request.app)
        return self.render_json(request, self._document)


def complete(document: dict[str, Any], app: Litestar) -> dict[str, Any]:
    config = app.state.runtime.config
    handlers = {
        (route.path_format, method.lower()): handler
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
    }
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie_name(config, SESSION_COOKIE),
            "description": "Set by signing in at /login.",
        },
        "csrf": {
            "type": "apiKey",
            "in": "header",
            "name": CSRF_HEADER,
            "description": "On every write: the value of the CSRF cookie.",
        },
        "token": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token an administrator made (Settings, API tokens), "
            "`parley_...`; each route names the scope it needs.",
        },
        "csrf_cookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie_name(config, CSRF_COOKIE),
            "description": "Set by the box on any page; a write sends it with the same value "
            f"in the {CSRF_HEADER} header.",
        },
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in (*UNSAFE_METHODS, "get", "head"):
                continue
            _complete_operation(path, method, operation, handlers[(path, method)])
    for name, schema in components.get("schemas", {}).items():
        for field, pattern in COMPONENT_PATTERNS.get(name, {}).items():
            schema["properties"][field]["pattern"] = pattern
        _constrain(schema)
    return document


def _complete_operation(
    path: str, method: str, operation: dict[str, Any], handler: HTTPRouteHandler
) -> None:
    responses = operation.setdefault("responses", {})
    statuses: list[int] = [400]  # the edge checks every query string and body for NUL
    if route_rule(handler) != PUBLIC:
        operation["security"] = [
            {"session": [], "csrf": [], "csrf_cookie": []}
            if method in UNSAFE_METHODS
            else {"session": []}
        ]
        scope = handler.opt.get(TOKEN_SCOPE)
        if scope:
            operation["security"].append({"token": [scope]})
            statuses.append(429)
        statuses += [401, 403]
    if "{" in path:
        statuses.append(404)
    if "requestBody" in operation:
        statuses.append(413)
        for media in operation["requestBody"].get("content", {}).values():
            _constrain(media.get("schema", {}))
    for status in statuses:
        responses.setdefault(str(status), _problem(status))
    for status in responses:
        if status.isdigit() and int(status) in WHY:
            responses[status] = _problem(int(status))
    for parameter in operation.get("parameters", []):
        _constrain(parameter.get("schema", {}))
    media_types = handler.opt.get(MEDIA_TYPES_OPT)
    if media_types:
        responses["200"]["content"] = {
            media_type.split(";")[0]: {
                "schema": {"type": "object"} if media_type.endswith("json") else {"type": "string"}
            }
            for media_type in media_types
        }


def _problem(status: int) -> dict[str, Any]:
    return {"description": WHY[status], "content": {PROBLEM_JSON: {"schema": PROBLEM}}}


def _constrain(schema: Any) -> None:
    """State the edge's rules on a schema and everything inside it."""
    if not isinstance(schema, dict):
        return
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and not {"format", "enum", "const", "pattern"} & schema.keys():
        required = schema.get("minLength", 0) >= 1
        schema["pattern"] = SOMETHING_WRITTEN if required else NO_NUL
    if "integer" in types:
        schema.setdefault("minimum", INT64[0])
        schema.setdefault("maximum", INT64[1])
    if "properties" in schema:
        schema.setdefault("additionalProperties", False)
        for name, inner in schema["properties"].items():
            if name in PROPERTY_PATTERNS and isinstance(inner, dict):
                inner["pattern"] = PROPERTY_PATTERNS[name]
            _constrain(inner)
    for key in ("items", "additionalProperties", "not"):
        _constrain(schema.get(key))
    for key in ("oneOf", "anyOf", "allOf", "prefixItems"):
        for inner in schema.get(key, []):
            _constrain(inner)
