"""Administrators see the certificate the box serves and replace it with their own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from appliance import tls
from appliance.errors import ApplianceError
from appliance.models import Role
from appliance.web.access import allow
from appliance.web.pages import AppRuntime, FormData, actor, page
from appliance.web.threads import in_thread

ADMIN = allow(Role.ADMIN)


def _tls_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    status: int = 200,
    error: str | None = None,
    staged: tls.CertificateInfo | None = None,
) -> Template:
    managed = bool(runtime.config.web.tls_dir)
    served = tls.current(Path(runtime.config.web.tls_dir)) if managed else None
    return page(
        "tls.html", request, status, managed=managed, served=served, staged=staged, error=error
    )


@get("/admin/tls", opt=ADMIN, include_in_schema=False)
@in_thread
def tls_page(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template:
    return _tls_page(request, runtime)


@post("/admin/tls", opt=ADMIN, include_in_schema=False)
@in_thread
def upload_certificate(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template:
    if not runtime.config.web.tls_dir:
        return _tls_page(request, runtime, 409, "this box's TLS is managed outside Parley")
    try:
        staged = tls.stage(
            runtime.audit,
            actor(request),
            runtime.config.data_dir,
            data.get("certificate", "").encode(),
            data.get("key", "").encode(),
        )
    except ApplianceError as exc:
        return _tls_page(request, runtime, 400, str(exc))
    return _tls_page(request, runtime, staged=staged)
