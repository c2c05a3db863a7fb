"""Searching across interviews: words and phrases in every transcript the searcher may review
(recordings/search.py does the searching)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from appliance.core.errors import ApplianceError
from appliance.recordings import search
from appliance.web.access import PANEL
from appliance.web.pages import (
    AppRuntime,
    actor,
    current_user,
    optional_date,
    page,
    position_filter,
)
from appliance.web.threads import in_thread


def _position(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise search.BadQuery("choose a position from the list")
    return int(text)


@get("/search", opt=PANEL, include_in_schema=False)
@in_thread
def search_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    q: FromQuery[str] = "",
    position: FromQuery[str] = "",
    candidate: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
) -> Template:
    user = current_user(request)
    form = {"q": q, "position": position, "candidate": candidate, "since": since, "until": until}
    results, problem = None, ""
    if q.strip():
        try:
            filters = search.Filters(
                _position(position),
                candidate,
                optional_date(since, "from"),
                optional_date(until, "to"),
            )
            results = search.search(runtime, user, actor(request), q, filters)
        except ApplianceError as exc:  # a bad query or filter: said on the form
            problem = str(exc)
    return page(
        "search.html",
        request,
        400 if problem else 200,
        form=form,
        **position_filter(user, position),
        results=results,
        problem=problem,
    )
