"""The versioned API's webhook endpoints (scope `webhooks:manage`): an applicant tracking
system registers where it wants events, reads its delivery log and removes it. The same
endpoints show on the administrators' Webhooks page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import MaxLen, MinLen
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from appliance.db.models import Role, WebhookEndpoint
from appliance.hiring.scheduling import as_utc
from appliance.integrations import webhook_endpoints
from appliance.integrations.outbound import MAX_URL
from appliance.integrations.webhook_endpoints import LogLine
from appliance.integrations.webhook_events import EVENTS, EventName
from appliance.staff.api_tokens import TokenView, actor_name
from appliance.web.access import API_TOKEN, allow_token
from appliance.web.api_document import refusals
from appliance.web.threads import in_thread

MANAGE = allow_token("webhooks:manage", Role.ADMIN)


@dataclass
class EndpointIn:
    url: Annotated[str, MinLen(1), MaxLen(MAX_URL)]
    events: Annotated[list[EventName], MinLen(1), MaxLen(len(EVENTS))]
    # May the URL be on the box's own network (loopback, link-local)? Refused otherwise.
    allow_internal: bool = False


@dataclass
class EndpointOut:
    id: int
    url: str
    events: list[str]
    allow_internal: bool
    enabled: bool
    disabled_reason: str
    created_at: dt.datetime


@dataclass
class MadeEndpoint(EndpointOut):
    secret: str  # whsec_...: signs every delivery; shown in this answer only


def _out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        endpoint.id, endpoint.url, endpoint.events.split(), bool(endpoint.allow_internal),
        bool(endpoint.enabled), endpoint.disabled_reason, as_utc(endpoint.created_at),
    )  # fmt: skip


@get("/api/v1/webhooks", opt=MANAGE, tags=["v1"])
@in_thread
def list_endpoints() -> list[EndpointOut]:
    return [_out(e) for e in webhook_endpoints.listing()]


@post(
    "/api/v1/webhooks",
    opt={**allow_token("webhooks:manage"), "exclude_from_csrf": True},
    status_code=201,
    responses=refusals(422),
    tags=["v1"],
)
@in_thread
def add_endpoint(
    request: Request[Any, Any, Any], data: JSONBody[EndpointIn]
) -> Response[MadeEndpoint]:
    """Registers an endpoint (tokens only); the answer holds its signing secret, once. The URL
    must resolve, and outside the box's own network unless `allow_internal` (422 otherwise)."""
    token: TokenView = request.scope[API_TOKEN]  # type: ignore[literal-required]
    made, secret = webhook_endpoints.create(
        request.app.state.runtime.audit, actor_name(token), data.url, data.events,
        data.allow_internal,
    )  # fmt: skip
    return Response(MadeEndpoint(**vars(_out(made)), secret=secret), status_code=201)


@get("/api/v1/webhooks/{endpoint_id:int}/deliveries", opt=MANAGE, tags=["v1"])
@in_thread
def list_deliveries(endpoint_id: FromPath[int]) -> list[LogLine]:
    """The endpoint's last deliveries, newest first: each event, its state and last answer."""
    webhook_endpoints.get(endpoint_id)
    return webhook_endpoints.delivery_log(endpoint_id)


@delete(
    "/api/v1/webhooks/{endpoint_id:int}",
    opt={**allow_token("webhooks:manage"), "exclude_from_csrf": True},
    tags=["v1"],
)
@in_thread
def remove_endpoint(request: Request[Any, Any, Any], endpoint_id: FromPath[int]) -> None:
    """Removes the endpoint and its delivery log (tokens only); nothing more is sent to it."""
    token: TokenView = request.scope[API_TOKEN]  # type: ignore[literal-required]
    webhook_endpoints.delete(request.app.state.runtime.audit, actor_name(token), endpoint_id)
