"""The debrief of a candidate for a position, and the hiring decision taken on it
(evaluation/debrief.py and evaluation/decisions.py hold the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from appliance.core import validation
from appliance.core.errors import ApplianceError, NotAllowed
from appliance.evaluation import debrief, decisions
from appliance.evaluation.decisions import DecisionView, Outcome
from appliance.evidence import assistant
from appliance.hiring import agenda
from appliance.hiring.candidates import candidate_record
from appliance.hiring.positions import get_position
from appliance.web.access import PANEL
from appliance.web.api_document import refusals
from appliance.web.pages import (
    AppRuntime,
    FormData,
    actor,
    current_user,
    optional_int,
    page,
    see_other,
)
from appliance.web.threads import in_thread


@dataclass
class DecisionIn:
    outcome: Outcome
    reason: validation.RequiredText
    position_id: int | None = None
    without_all_scorecards: bool = False


def _position_of(candidate_id: int, position: int | None) -> int | None:
    """The position asked for, or the candidate's own."""
    return position if position is not None else candidate_record(candidate_id).position_id


def _debrief_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: int,
    position_id: int | None,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Template:
    shown = debrief.debrief(runtime, current_user(request), candidate_id, position_id)
    evidence = {
        r.interview_id: assistant.for_interview(
            runtime, actor(request), agenda.get_interview(r.interview_id)
        )
        for r in shown.rounds
        if r.readable and r.recorded
    }
    return page(
        "debrief.html",
        request,
        status,
        debrief=shown,
        evidence=evidence,
        outcomes=decisions.OUTCOMES,
        error=error,
        form=form or {},
    )


@get("/candidates/{candidate_id:int}/debrief", opt=PANEL, include_in_schema=False)
@in_thread
def debrief_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    position: FromQuery[int | None] = None,
) -> Template:
    return _debrief_page(request, runtime, candidate_id, _position_of(candidate_id, position))


@post("/candidates/{candidate_id:int}/decision", opt=PANEL, include_in_schema=False)
@in_thread
def post_decision(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    position_id = optional_int(data.get("position_id", ""))
    try:
        _decide(
            request,
            runtime,
            candidate_id,
            DecisionIn(
                validation.choice("Decision", data.get("outcome", ""), decisions.OUTCOME_VALUES),
                data.get("reason", ""),
                position_id,
                data.get("without_all_scorecards") == "yes",
            ),
        )
    except ApplianceError as exc:
        if isinstance(exc, NotAllowed):
            raise
        return _debrief_page(request, runtime, candidate_id, position_id, 400, str(exc), dict(data))
    query = f"?position={position_id}" if position_id is not None else ""
    return see_other(f"/candidates/{candidate_id}/debrief{query}#decision")


def _decide(
    request: Request[Any, Any, Any], runtime: AppRuntime, candidate_id: int, data: DecisionIn
) -> DecisionView:
    position = get_position(data.position_id) if data.position_id is not None else None
    return decisions.decide(
        runtime.audit,
        runtime.config,
        current_user(request),
        candidate_record(candidate_id),
        position,
        data.outcome,
        data.reason,
        data.without_all_scorecards,
    )


@get(
    "/api/candidates/{candidate_id:int}/decisions",
    responses=refusals(410),
    opt=PANEL,
    tags=["decisions"],
)
@in_thread
def api_decisions(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    position: FromQuery[int | None] = None,
) -> list[DecisionView]:
    """The decisions on the candidate for a position (the candidate's own by default), the one
    in force first; for those who may see the debrief."""
    shown = debrief.debrief(
        runtime, current_user(request), candidate_id, _position_of(candidate_id, position)
    )
    return shown.decisions


@post(
    "/api/candidates/{candidate_id:int}/decisions",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["decisions"],
)
@in_thread
def api_decide(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    candidate_id: FromPath[int],
    data: JSONBody[DecisionIn],
) -> DecisionView:
    """Record (or change) the decision: the position's hiring manager or an administrator.
    Refused while panel scorecards are missing unless `without_all_scorecards` is set."""
    return _decide(request, runtime, candidate_id, data)
