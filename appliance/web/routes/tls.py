"""Administrators see the certificate the box serves and replace it with their own, or have an
ACME certificate authority issue and renew one (appliance/box/acme_certificates.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from appliance.box import acme_certificates, settings, tls
from appliance.core.errors import ApplianceError
from appliance.web.access import ADMIN, public
from appliance.web.pages import AppRuntime, FormData, actor, page
from appliance.web.threads import in_thread

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


def _tls_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    status: int = 200,
    error: str | None = None,
    staged: tls.CertificateInfo | None = None,
    notice: str | None = None,
) -> Template:
    config = runtime.config
    managed = bool(config.web.tls_dir)
    served = tls.current(Path(config.web.tls_dir)) if managed else None
    acme = settings.effective(config)["acme"]
    return page(
        "tls.html",
        request,
        status,
        managed=managed,
        served=served,
        staged=staged,
        error=error,
        notice=notice,
        acme=acme,
        acme_status=acme_certificates.read_status(config.data_dir),
        default_directory=LETS_ENCRYPT,
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


@post("/admin/tls/acme", opt=ADMIN, include_in_schema=False)
@in_thread
def use_acme(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    """Save the CA's details and ask the worker for a certificate; off when the URL is empty."""
    if not runtime.config.web.tls_dir:
        return _tls_page(request, runtime, 409, "this box's TLS is managed outside Parley")
    directory = data.get("directory_url", "").strip()
    if directory and data.get("terms") != "yes":
        return _tls_page(request, runtime, 400, "agree to the CA's terms of service first")
    data_dir = runtime.config.data_dir
    try:
        settings.save_settings(
            runtime.audit,
            actor(request),
            data_dir,
            {
                "acme": {
                    "directory_url": directory,
                    "email": data.get("email", "").strip(),
                    "domains": data.get("domains", ""),
                }
            },
        )
    except ApplianceError as exc:
        return _tls_page(request, runtime, 400, str(exc))
    if not directory:
        return _tls_page(request, runtime, notice="ACME is off; the served certificate stays.")
    acme_certificates.request_now(data_dir)
    return _tls_page(
        request,
        runtime,
        notice="Saved. The box asks the CA for a certificate within minutes; "
        "reload this page to see the outcome.",
    )


@get("/.well-known/acme-challenge/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def acme_challenge(token: FromPath[str], runtime: AppRuntime) -> str:
    """What an ACME CA fetches over plain HTTP to see that this box answers for a name."""
    answer = acme_certificates.challenge_response(runtime.config.data_dir, token)
    if answer is None:
        raise NotFoundException()
    return answer
