"""The audit log, for compliance officers and administrators: newest first, verified on view."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from appliance.storage import audit
from appliance.storage.audit_anchor import anchor_path
from appliance.web.access import AUDITORS
from appliance.web.pages import AppRuntime, actor, page
from appliance.web.threads import in_thread

PAGE_SIZE = 100


@get("/audit", opt=AUDITORS, include_in_schema=False)
@in_thread
def audit_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    subject: FromQuery[str] = "",
    actor_filter: FromQuery[str] = "",
    before: FromQuery[int | None] = None,
) -> Template:
    # Each view checks what came after the newest checkpoint an earlier view found good; the
    # worker checks the whole log every night (shown beside it).
    state = request.app.state
    verification = audit.verify_against(
        runtime.keys.public_key,
        runtime.config.audit.checkpoint_every,
        [anchor_path(runtime.config.data_dir)],
        since=state.get("audit_verified"),
    )
    state.audit_verified = verification.newest
    entries = audit.newest_entries(PAGE_SIZE, subject.strip(), actor_filter.strip().lower(), before)
    runtime.audit.record(
        actor(request), "audit.view", subject.strip(), {"actor": actor_filter.strip()}
    )
    return page(
        "audit.html",
        request,
        verification=verification,
        full_check=audit.last_full_check(runtime.config.data_dir),
        entries=entries,
        subject=subject,
        actor_filter=actor_filter,
        older=entries[-1].seq if len(entries) == PAGE_SIZE else None,
    )
