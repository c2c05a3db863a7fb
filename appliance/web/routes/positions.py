"""Positions: recruiter pages and the JSON API."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.db.models import Position
from appliance.hiring import hiring_team, positions
from appliance.hiring.positions import PositionFields
from appliance.web.access import HIRING
from appliance.web.pages import (
    API_PAGE_SIZE,
    AppRuntime,
    FormData,
    PageQuery,
    actor,
    from_form,
    optional_int,
    page,
    row_view,
    see_other,
)
from appliance.web.threads import in_thread


@dataclass
class PositionView:
    id: int
    title: str
    department: str
    location: str
    description: str
    status: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


@get("/positions", opt=HIRING, include_in_schema=False)
@in_thread
def positions_page(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    return page(
        "positions.html",
        request,
        listed=positions.page_of_positions(q, optional_int(page_number) or 1),
        q=q,
        statuses=positions.STATUSES,
        form={},
        error=None,
    )


@post("/positions", opt=HIRING, include_in_schema=False)
@in_thread
def add_position(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    try:
        position = positions.create_position(
            runtime.audit, actor(request), from_form(PositionFields, data)
        )
    except ApplianceError as exc:
        return page(
            "positions.html",
            request,
            400,
            listed=positions.page_of_positions(),
            q="",
            statuses=positions.STATUSES,
            form=data,
            error=str(exc),
        )
    return see_other(f"/positions/{position.id}", done="position-created")


def _position_page(
    request: Request[Any, Any, Any],
    position: Position,
    form: Mapping[str, Any],
    status: int = 200,
    error: str | None = None,
) -> Template:
    return page(
        "position.html",
        request,
        status,
        position=position,
        statuses=positions.STATUSES,
        form=form,
        error=error,
        team=hiring_team.members(position.id),
        joinable=hiring_team.candidates_for_team(position.id),
    )


@get("/positions/{position_id:int}", opt=HIRING, include_in_schema=False)
@in_thread
def position_page(request: Request[Any, Any, Any], position_id: FromPath[int]) -> Template:
    position = positions.get_position(position_id)
    return _position_page(request, position, vars(row_view(PositionView, position)))


@post("/positions/{position_id:int}", opt=HIRING, include_in_schema=False)
@in_thread
def edit_position(
    request: Request[Any, Any, Any], runtime: AppRuntime, position_id: FromPath[int], data: FormData
) -> Template | Redirect:
    try:
        positions.update_position(
            runtime.audit, actor(request), position_id, from_form(PositionFields, data)
        )
    except ApplianceError as exc:
        position = positions.get_position(position_id)
        return _position_page(request, position, data, 400, str(exc))
    return see_other(f"/positions/{position_id}")


@post("/positions/{position_id:int}/team", opt=HIRING, include_in_schema=False)
@in_thread
def add_to_team(
    request: Request[Any, Any, Any], runtime: AppRuntime, position_id: FromPath[int], data: FormData
) -> Redirect:
    """Let a staff member review and score this position's interviews."""
    user_id = optional_int(data.get("user_id", ""))
    if user_id is None:
        raise ApplianceError("choose who joins the hiring team")
    hiring_team.add_member(runtime.audit, actor(request), position_id, user_id)
    return see_other(f"/positions/{position_id}")


@post("/positions/{position_id:int}/manager", opt=HIRING, include_in_schema=False)
@in_thread
def set_manager(
    request: Request[Any, Any, Any], runtime: AppRuntime, position_id: FromPath[int], data: FormData
) -> Redirect:
    """Name the position's hiring manager (who decides on its candidates), or nobody."""
    user_id = optional_int(data.get("user_id", ""))
    hiring_team.set_manager(runtime.audit, actor(request), position_id, user_id)
    return see_other(f"/positions/{position_id}")


@post("/positions/{position_id:int}/team/{user_id:int}/remove", opt=HIRING, include_in_schema=False)
@in_thread
def remove_from_team(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    position_id: FromPath[int],
    user_id: FromPath[int],
) -> Redirect:
    hiring_team.remove_member(runtime.audit, actor(request), position_id, user_id)
    return see_other(f"/positions/{position_id}")


@get("/api/positions", opt=HIRING, tags=["positions"])
@in_thread
def api_list_positions(q: FromQuery[str] = "", page_number: PageQuery = 1) -> list[PositionView]:
    """A page of positions (`API_PAGE_SIZE` a page), open ones first, then by title,
    optionally only those whose title holds `q`; an empty page is past the last."""
    listed = positions.page_of_positions(q, page_number, API_PAGE_SIZE)
    if page_number > listed.pages:
        return []
    return [row_view(PositionView, p) for p in listed.rows]


@post("/api/positions", opt=HIRING, tags=["positions"])
@in_thread
def api_create_position(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: JSONBody[PositionFields]
) -> PositionView:
    """Create a position."""
    return row_view(PositionView, positions.create_position(runtime.audit, actor(request), data))


@get("/api/positions/{position_id:int}", opt=HIRING, tags=["positions"])
@in_thread
def api_get_position(position_id: FromPath[int]) -> PositionView:
    return row_view(PositionView, positions.get_position(position_id))


@put("/api/positions/{position_id:int}", opt=HIRING, tags=["positions"])
@in_thread
def api_update_position(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    position_id: FromPath[int],
    data: JSONBody[PositionFields],
) -> PositionView:
    """Replace a position's fields."""
    return row_view(
        PositionView, positions.update_position(runtime.audit, actor(request), position_id, data)
    )
