"""The impact-ratio report, for compliance officers and administrators (evidence/impact_ratio.py
says what it counts). Opening it opens the sealed self-identifications, so each view is audited."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from appliance.evidence import impact_ratio
from appliance.web.access import AUDITORS
from appliance.web.pages import AppRuntime, actor, page
from appliance.web.threads import in_thread


@get("/compliance/impact-ratio", opt=AUDITORS, include_in_schema=False)
@in_thread
def impact_ratio_page(request: Request[Any, Any, Any], runtime: AppRuntime) -> Template:
    return page(
        "impact_ratio.html",
        request,
        report=impact_ratio.report(runtime, actor(request)),
        small=impact_ratio.SMALL_SAMPLE,
    )
