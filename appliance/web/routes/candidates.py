"""Candidates: recruiter pages and the JSON API."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.evaluation import decisions
from appliance.hiring import agenda, candidates, choices, scheduling
from appliance.hiring.candidates import CandidateFields
from appliance.web.access import HIRING
from appliance.web.api_document import refusals
from appliance.web.pages import (
    API_PAGE_SIZE,
    AppRuntime,
    FormData,
    PageQuery,
    actor,
    current_user,
    from_form,
    optional_int,
    page,
    row_view,
    see_other,
)
from appliance.web.threads import in_thread


@dataclass
class CandidateView:
    id: int
    name: str
    email: str
    phone: str
    position_id: int | None
    status: str
    notes: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


def _context(form: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "position_label": choices.label_of("positions", form.get("position_id")),
        "statuses": candidates.STATUSES,
        "any_interview_types": bool(choices.find("interview-types", limit=1)),
        **extra,
    }


@get("/candidates", opt=HIRING, include_in_schema=False)
@in_thread
def candidates_page(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    return page(
        "candidates.html",
        request,
        **_context(
            listed=candidates.list_candidates(text=q, page=optional_int(page_number) or 1),
            q=q,
            form={},
            error=None,
        ),
    )


@post("/candidates", opt=HIRING, include_in_schema=False)
@in_thread
def add_candidate(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    try:
        candidate = candidates.create_candidate(
            runtime.audit, actor(request), from_form(CandidateFields, data)
        )
    except ApplianceError as exc:
        return page(
            "candidates.html",
            request,
            400,
            **_context(listed=candidates.list_candidates(), q="", form=data, error=str(exc)),
        )
    return see_other(f"/candidates/{candidate.id}", done="candidate-added")


@get("/candidates/{candidate_id:int}", opt=HIRING, include_in_schema=False)
@in_thread
def candidate_page(request: Request[Any, Any, Any], candidate_id: FromPath[int]) -> Template:
    candidate = candidates.get_candidate(candidate_id)
    form = vars(row_view(CandidateView, candidate))
    return page(
        "candidate.html",
        request,
        **_context(
            candidate=candidate,
            form=form,
            error=None,
            interviews=_interviews(request, candidate_id),
            outcomes=decisions.outcomes(candidate),
        ),
    )


def _interviews(request: Request[Any, Any, Any], candidate_id: int) -> list[tuple[str, Any]]:
    """The candidate's interviews, each with its time in the signed-in user's zone."""
    timezone = current_user(request).timezone
    return [
        (f"{e.starts_at.astimezone(scheduling.zone(timezone)):%a %d %b %Y %H:%M} ({timezone})", e)
        for e in agenda.interviews_of(candidate_id)
    ]


@post("/candidates/{candidate_id:int}", opt=HIRING, include_in_schema=False)
@in_thread
def edit_candidate(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    try:
        candidates.update_candidate(
            runtime.audit, actor(request), candidate_id, from_form(CandidateFields, data)
        )
    except ApplianceError as exc:
        candidate = candidates.get_candidate(candidate_id)
        return page(
            "candidate.html",
            request,
            400,
            **_context(
                candidate=candidate,
                form=data,
                error=str(exc),
                interviews=_interviews(request, candidate_id),
                outcomes=decisions.outcomes(candidate),
            ),
        )
    return see_other(f"/candidates/{candidate_id}", done="saved")


@get("/api/candidates", opt=HIRING, tags=["candidates"])
@in_thread
def api_list_candidates(
    position_id: FromQuery[int | None] = None, q: FromQuery[str] = "", page_number: PageQuery = 1
) -> list[CandidateView]:
    """A page of candidates by name (`API_PAGE_SIZE` a page), optionally only those for one
    position and those whose name or e-mail holds `q`; an empty page is past the last."""
    listed = candidates.list_candidates(position_id, q, page_number, API_PAGE_SIZE)
    if page_number > listed.pages:
        return []
    return [row_view(CandidateView, c) for c in listed.rows]


@post("/api/candidates", responses=refusals(404), opt=HIRING, tags=["candidates"])
@in_thread
def api_create_candidate(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: JSONBody[CandidateFields]
) -> CandidateView:
    return row_view(CandidateView, candidates.create_candidate(runtime.audit, actor(request), data))


@get("/api/candidates/{candidate_id:int}", opt=HIRING, tags=["candidates"])
@in_thread
def api_get_candidate(candidate_id: FromPath[int]) -> CandidateView:
    return row_view(CandidateView, candidates.get_candidate(candidate_id))


@put("/api/candidates/{candidate_id:int}", responses=refusals(410), opt=HIRING, tags=["candidates"])
@in_thread
def api_update_candidate(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    data: JSONBody[CandidateFields],
) -> CandidateView:
    return row_view(
        CandidateView,
        candidates.update_candidate(runtime.audit, actor(request), candidate_id, data),
    )
