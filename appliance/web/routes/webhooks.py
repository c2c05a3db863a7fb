"""Settings, Webhooks: administrators connect endpoints (integrations/webhook_endpoints.py),
read each one's delivery log and send a delivery again. A new endpoint's secret is shown on the
page that made it, once."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.integrations import webhook_delivery, webhook_endpoints
from appliance.integrations.webhook_events import EVENTS
from appliance.web.access import ADMIN
from appliance.web.pages import AppRuntime, FormData, actor, current_user, page, see_other
from appliance.web.threads import in_thread


def _list_page(request: Request[Any, Any, Any], status: int = 200, **context: Any) -> Template:
    return page(
        "webhooks.html",
        request,
        status,
        endpoints=webhook_endpoints.listing(),
        events=EVENTS,
        **context,
    )


@get("/admin/webhooks", opt=ADMIN, include_in_schema=False)
@in_thread
def webhooks_page(request: Request[Any, Any, Any]) -> Template:
    return _list_page(request)


@post("/admin/webhooks", opt=ADMIN, include_in_schema=False)
@in_thread
def add_endpoint(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    form = dict(data)
    try:
        made, secret = webhook_endpoints.create(
            runtime.audit,
            actor(request),
            form.get("url", ""),
            [e for e in EVENTS if form.get(f"event-{e}") == "yes"],
            form.get("allow_internal") == "yes",
            current_user(request),
        )
    except ApplianceError as exc:
        return _list_page(request, 400, error=str(exc), form=form)
    return _list_page(request, made=made, secret=secret)


@get("/admin/webhooks/{endpoint_id:int}", opt=ADMIN, include_in_schema=False)
@in_thread
def endpoint_page(request: Request[Any, Any, Any], endpoint_id: FromPath[int]) -> Template:
    return page(
        "webhook.html",
        request,
        endpoint=webhook_endpoints.get(endpoint_id),
        log=webhook_endpoints.delivery_log(endpoint_id),
    )


@post("/admin/webhooks/{endpoint_id:int}/enabled", opt=ADMIN, include_in_schema=False)
@in_thread
def switch_endpoint(
    request: Request[Any, Any, Any], runtime: AppRuntime, endpoint_id: FromPath[int], data: FormData
) -> Redirect:
    webhook_endpoints.set_enabled(
        runtime.audit, actor(request), endpoint_id, data.get("enabled") == "yes"
    )
    return see_other(f"/admin/webhooks/{endpoint_id}", done="saved")


@post("/admin/webhooks/{endpoint_id:int}/delete", opt=ADMIN, include_in_schema=False)
@in_thread
def delete_endpoint(
    request: Request[Any, Any, Any], runtime: AppRuntime, endpoint_id: FromPath[int]
) -> Redirect:
    webhook_endpoints.delete(runtime.audit, actor(request), endpoint_id)
    return see_other("/admin/webhooks", done="saved")


@post(
    "/admin/webhooks/{endpoint_id:int}/deliveries/{delivery_id:int}/again",
    opt=ADMIN,
    include_in_schema=False,
)
@in_thread
def send_again(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    endpoint_id: FromPath[int],
    delivery_id: FromPath[int],
) -> Redirect:
    webhook_delivery.send_again(runtime.audit, current_user(request), endpoint_id, delivery_id)
    return see_other(f"/admin/webhooks/{endpoint_id}", done="sent-again")
