"""Settings, API tokens: administrators make, list and revoke the tokens other systems call the
API with (staff/api_tokens.py). A new token's secret is shown on the page that made it, once."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.staff import api_tokens
from appliance.web.access import ADMIN
from appliance.web.pages import (
    AppRuntime,
    FormData,
    current_user,
    optional_int,
    page,
    see_other,
)
from appliance.web.threads import in_thread


def _tokens_page(request: Request[Any, Any, Any], status: int = 200, **context: Any) -> Template:
    return page(
        "api_tokens.html",
        request,
        status,
        tokens=api_tokens.listing(),
        scopes=api_tokens.SCOPES,
        max_days=api_tokens.MAX_DAYS,
        **context,
    )


@get("/admin/api-tokens", opt=ADMIN, include_in_schema=False)
@in_thread
def tokens_page(request: Request[Any, Any, Any]) -> Template:
    return _tokens_page(request)


@post("/admin/api-tokens", opt=ADMIN, include_in_schema=False)
@in_thread
def create_token(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    form = dict(data)
    try:
        scopes = [s for s in api_tokens.SCOPES if form.get(f"scope-{s}") == "yes"]
        days = optional_int(form.get("days", "")) or 0
        made, secret = api_tokens.create(
            runtime.audit, current_user(request), form.get("name", ""), scopes, days
        )
    except ApplianceError as exc:
        return _tokens_page(request, 400, error=str(exc), form=form)
    return _tokens_page(request, made=made, secret=secret)


@post("/admin/api-tokens/{token_id:int}/revoke", opt=ADMIN, include_in_schema=False)
@in_thread
def revoke_token(
    request: Request[Any, Any, Any], runtime: AppRuntime, token_id: FromPath[int]
) -> Redirect:
    api_tokens.revoke(runtime.audit, current_user(request), token_id)
    return see_other("/admin/api-tokens", done="saved")
