"""Administrators set the box's address and host name, the e-mail relay, the notifications
staff get, the scheduling rules and the compliance recipients."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from appliance.box import settings
from appliance.core.config import bounds, choices
from appliance.core.errors import ApplianceError, Invalid
from appliance.hiring import scheduling_rules
from appliance.storage import keystore
from appliance.web.access import ADMIN
from appliance.web.pages import AppRuntime, FormData, actor, optional_int, page
from appliance.web.threads import in_thread


def _settings_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    welcome: bool = False,
) -> Template:
    config = runtime.config
    current = settings.effective(config)
    in_force = scheduling_rules.rules(config)
    rules = [
        (rule, getattr(in_force, rule.key), *bounds("scheduling", rule.key))
        for rule in scheduling_rules.RULES
    ]
    return page(
        "settings.html",
        request,
        status,
        public_url=current["web"]["public_url"],
        hostname=current["system"]["hostname"],
        smtp=current["smtp"],
        notifications=current["notifications"],
        assistance=current["interviews"],
        password_set=bool(current["smtp"]["password"]),
        securities=choices("smtp", "security"),
        recipients=keystore.list_recipients(),
        rules=rules,
        error=error,
        notice=notice,
        welcome=welcome,
    )


@get("/admin/settings", opt=ADMIN, include_in_schema=False)
@in_thread
def settings_page(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template:
    return _settings_page(request, runtime, welcome=request.query_params.get("welcome") == "1")


def _hours(data: dict[str, str], name: str, current: int) -> int:
    """An hours field: empty is 0 (off); absent keeps the current value."""
    if name not in data:
        return current
    hours = optional_int(data[name])
    return 0 if hours is None else hours


@post("/admin/settings", opt=ADMIN, include_in_schema=False)
@in_thread
def save_settings(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    notices = runtime.config.notifications
    try:
        port = optional_int(data.get("smtp_port", ""))
        changed = settings.save_settings(
            runtime.audit,
            actor(request),
            runtime.config.data_dir,
            {
                "web": {"public_url": data.get("public_url", "").strip()},
                "system": {"hostname": data.get("hostname", "")},
                "notifications": {
                    "scorecard_due_hours": _hours(
                        data, "scorecard_due_hours", notices.scorecard_due_hours
                    ),
                    "scorecard_repeat_hours": _hours(
                        data, "scorecard_repeat_hours", notices.scorecard_repeat_hours
                    ),
                    "transcript_ready": data.get("transcript_ready") == "yes",
                },
                "interviews": {
                    "ai_assistance": data.get("ai_assistance") == "yes",
                    "rubric_suggestions": data.get("rubric_suggestions") == "yes",
                },
                "smtp": {
                    "host": data.get("smtp_host", "").strip(),
                    "port": port if port is not None else runtime.config.smtp.port,
                    "username": data.get("smtp_username", "").strip(),
                    "password": data.get("smtp_password", ""),
                    "sender": data.get("smtp_sender", "").strip(),
                    "security": data.get("smtp_security", "starttls"),
                },
            },
        )
    except ApplianceError as exc:
        return _settings_page(request, runtime, 400, error=str(exc))
    notice = (
        "Saved. The appliance's services restart to apply it (on the appliance image, within "
        "seconds; otherwise restart them)."
        if changed
        else "Nothing changed."
    )
    return _settings_page(request, runtime, notice=notice)


@post("/admin/settings/recipients", opt=ADMIN, include_in_schema=False)
@in_thread
def add_recipient(request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData) -> Template:
    try:
        count = keystore.add_recipient(
            runtime.audit,
            actor(request),
            runtime.config.data_dir,
            data.get("recipient", ""),
            data.get("label", ""),
            rewrap=True,
        )
    except ApplianceError as exc:
        return _settings_page(request, runtime, 400, error=str(exc))
    notice = f"Added the recipient; {count} existing recordings' keys are wrapped for it too."
    return _settings_page(request, runtime, notice=notice)


@post("/admin/settings/scheduling", opt=ADMIN, include_in_schema=False)
@in_thread
def save_scheduling_rules(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template:
    updates = {}
    try:
        for rule in scheduling_rules.RULES:
            if rule.key in data:
                value = optional_int(data[rule.key])
                if value is None:
                    raise Invalid(f"{rule.label}: give a number of {rule.unit}.")
                updates[rule.key] = value
        changed = scheduling_rules.set_rules(runtime.audit, actor(request), runtime.config, updates)
    except ApplianceError as exc:
        return _settings_page(request, runtime, 400, error=str(exc))
    notice = (
        "Saved. The scheduling rules apply now to new links, bookings and rooms."
        if changed
        else "Nothing changed."
    )
    return _settings_page(request, runtime, notice=notice)
