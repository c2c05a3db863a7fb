"""Administrators manage staff accounts and roles."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.db.models import Role
from appliance.staff import accounts
from appliance.web.access import ADMIN
from appliance.web.pages import AppRuntime, FormData, actor, optional_int, page, see_other
from appliance.web.threads import in_thread


def _users_page(request: Request[Any, Any, Any], status: int = 200, **context: Any) -> Template:
    context.setdefault("error", None)
    context.setdefault("form", {})
    context.setdefault("added", None)
    return page(
        "users.html", request, status, users=accounts.list_users(), roles=list(Role), **context
    )


@get("/admin/users", opt=ADMIN, include_in_schema=False)
@in_thread
def users_page(request: Request[Any, Any, Any]) -> Template:
    added = optional_int(request.query_params.get("added", ""))
    user = accounts.find_user(added) if added else None
    return _users_page(request, added=user.email if user else None)


@post("/admin/users", opt=ADMIN, include_in_schema=False)
@in_thread
def add_user(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    try:
        user = accounts.create_user(
            runtime.audit,
            actor(request),
            data.get("email", ""),
            data.get("role", ""),
            data.get("password", ""),
            name=data.get("name", ""),
            must_change_password=True,
        )
    except ApplianceError as exc:
        form = {k: v for k, v in data.items() if k != "password"}
        return _users_page(request, 400, error=str(exc), form=form)
    return see_other(f"/admin/users?added={user.id}")


@post("/admin/users/{user_id:int}/role", opt=ADMIN, include_in_schema=False)
@in_thread
def change_role(
    request: Request[Any, Any, Any], runtime: AppRuntime, user_id: FromPath[int], data: FormData
) -> Template | Redirect:
    try:
        accounts.change_role(runtime.audit, actor(request), user_id, data.get("role", ""))
    except ApplianceError as exc:
        return _users_page(request, 400, error=str(exc))
    return see_other("/admin/users")


@post("/admin/users/{user_id:int}/active", opt=ADMIN, include_in_schema=False)
@in_thread
def set_active(
    request: Request[Any, Any, Any], runtime: AppRuntime, user_id: FromPath[int], data: FormData
) -> Template | Redirect:
    try:
        accounts.set_active(runtime.audit, actor(request), user_id, data.get("active") == "true")
    except ApplianceError as exc:
        return _users_page(request, 400, error=str(exc))
    return see_other("/admin/users")
