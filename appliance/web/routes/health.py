"""Health and metrics for the operator's monitoring."""

from __future__ import annotations

import datetime
import hmac
import json
import shutil
import time
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Any

from litestar import Request, get
from litestar.exceptions import NotAuthorizedException
from litestar.response import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from appliance import __version__
from appliance.core.errors import NotAllowed
from appliance.core.liveness import HEARTBEAT_SECONDS, heartbeat_path
from appliance.core.ratelimit import LOOPBACK
from appliance.staff.accounts import active_users_by_role
from appliance.storage import audit
from appliance.storage.audit import entry_count
from appliance.web.access import public
from appliance.web.pages import AppRuntime, request_address
from appliance.web.threads import in_thread

STARTED_AT = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "parley_http_requests", "HTTP requests answered", ["method", "status"], registry=REGISTRY
)
USERS = Gauge("parley_staff_users", "Active staff accounts", ["role"], registry=REGISTRY)
AUDIT_ENTRIES = Gauge("parley_audit_entries", "Entries in the audit log", registry=REGISTRY)
DATA_DIR_FREE = Gauge("parley_data_dir_free_bytes", "Free space in the data dir", registry=REGISTRY)


@dataclass
class ComponentStatus:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Health:
    status: str
    version: str
    components: list[ComponentStatus]
    started_at: str  # when this web process started (UTC), to tell a restart from a blip


def _check_database() -> ComponentStatus:
    try:
        active_users_by_role()  # a real query of a real table
    except Exception as exc:  # any failure to query is exactly what health must report
        return ComponentStatus("database", False, type(exc).__name__)
    return ComponentStatus("database", True)


def _check_data_dir(runtime: AppRuntime) -> ComponentStatus:
    try:
        free = shutil.disk_usage(runtime.config.data_dir).free
    except OSError as exc:
        return ComponentStatus("data_dir", False, exc.strerror or "unreadable")
    ok = free > 512 * 1024 * 1024
    return ComponentStatus("data_dir", ok, f"{free // (1024 * 1024)} MiB free")


@cache
def _accelerator(device: str) -> str:
    """Where speech recognition runs on this box, decided once per process as the worker does."""
    from appliance.asr_onnx.engine import CUDA, choose_providers
    from appliance.asr_onnx.errors import ModelError

    try:
        return "GPU (CUDA)" if CUDA in choose_providers(device) else "CPU"
    except ModelError as exc:
        return f"unavailable: {exc}"


def _check_speech(runtime: AppRuntime) -> ComponentStatus:
    """The active speech model and whether it runs on the GPU or the CPU. A box without a model
    still serves interviews (without captions or transcripts), so this never fails health."""
    from appliance.asr_onnx.models import installed_models

    settings = runtime.config.asr
    names = {m.name for m in installed_models(runtime.config.models_dir)}
    model = settings.model if settings.model in names else "no model installed"
    return ComponentStatus("speech", True, f"{model} on {_accelerator(settings.device)}")


def _check_sfu(runtime: AppRuntime) -> ComponentStatus:
    sfu = runtime.config.sfu
    try:
        with urllib.request.urlopen(f"http://{sfu.host}:{sfu.port}/healthz", timeout=2) as reply:
            report = json.load(reply)
    except (OSError, ValueError) as exc:
        return ComponentStatus("sfu", False, f"not answering: {exc}")
    # The SFU's own /healthz names the secrets it could read; only whether there are any
    # leaves the box here.
    sandbox = "secrets hidden" if not report.get("readable_secrets") else "can read secrets"
    return ComponentStatus("sfu", True, f"{report.get('rooms', 0)} rooms; {sandbox}")


def _check_audit_log(runtime: AppRuntime) -> ComponentStatus:
    """The worker's nightly full check of the audit log."""
    outcome = audit.last_full_check(runtime.config.data_dir)
    if outcome is None:
        return ComponentStatus("audit_log", True, "not checked yet")
    if outcome.get("ok"):
        return ComponentStatus("audit_log", True, f"intact at {outcome.get('at')}")
    return ComponentStatus("audit_log", False, f"check failed at {outcome.get('at')}")


def _check_worker(runtime: AppRuntime) -> ComponentStatus:
    try:
        age = time.time() - heartbeat_path(runtime.config.data_dir).stat().st_mtime
    except OSError:
        return ComponentStatus("worker", False, "not running")
    ok = age < 4 * HEARTBEAT_SECONDS
    return ComponentStatus("worker", ok, f"last heard {age:.0f} s ago")


@get("/healthz", opt=public(), tags=["operations"])
@in_thread
def healthz(runtime: AppRuntime) -> Response[Health]:
    """Component status; 200 when every component is healthy, 503 otherwise."""
    components = [
        _check_database(),
        _check_data_dir(runtime),
        _check_speech(runtime),
        _check_audit_log(runtime),
    ]
    if runtime.config.web.report_services:
        components += [_check_sfu(runtime), _check_worker(runtime)]
    ok = all(c.ok for c in components)
    body = Health("ok" if ok else "degraded", __version__, components, STARTED_AT)
    return Response(body, status_code=200 if ok else 503)


@get("/metrics", opt=public(), tags=["operations"], media_type=CONTENT_TYPE_LATEST)
@in_thread
def metrics(request: Request[Any, Any, Any], runtime: AppRuntime) -> Response[bytes]:
    """Prometheus text format; needs `Authorization: Bearer <[metrics] token>` when one is set,
    and without one answers only the box itself (what staff and rooms there are is nobody
    else's business)."""
    expected = runtime.config.metrics.token
    if expected:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise NotAuthorizedException("metrics need the configured bearer token")
    elif request_address(request) not in LOOPBACK:
        raise NotAllowed(
            "metrics answer other machines only with a bearer token: set [metrics] token"
        )
    for role, count in active_users_by_role().items():
        USERS.labels(role.value).set(count)
    AUDIT_ENTRIES.set(entry_count())
    DATA_DIR_FREE.set(shutil.disk_usage(runtime.config.data_dir).free)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
