"""Scorecards over the JSON API: who has submitted, the scorecards the caller may read, and
submitting or amending their own (evaluation/scorecards.py holds the rules; the review page's
form is in web/routes/review.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody

from appliance.core import validation
from appliance.db.models import Interview, User
from appliance.evaluation import scorecards
from appliance.evaluation.scorecards import Recommendation, ScorecardIn, ScorecardView, ScoreIn
from appliance.hiring import agenda
from appliance.hiring.scheduling import may_see
from appliance.web.access import PANEL
from appliance.web.api_document import refusals
from appliance.web.pages import AppRuntime, current_user
from appliance.web.threads import in_thread


@dataclass
class Scorecards:
    submitted: list[str]  # who has submitted, in order
    pending: list[str]  # panel members who have not
    readable: bool  # False while the caller must submit their own first
    scorecards: list[ScorecardView]  # the others' submitted ones, when readable
    mine: ScorecardView | None


@dataclass
class Amendment:
    reason: validation.RequiredText
    scores: list[ScoreIn] = field(default_factory=list)
    recommendation: Recommendation | None = None
    summary: validation.LongText = ""


def _reviewed(request: Request[Any, Any, Any], interview_id: int) -> tuple[User, Interview]:
    user = current_user(request)
    interview = agenda.get_interview(interview_id)
    if not may_see(user, interview.id):
        raise PermissionDeniedException("you may not review this interview")
    return user, interview


@get(
    "/api/interviews/{interview_id:int}/scorecards",
    responses=refusals(410),
    opt=PANEL,
    tags=["scorecards"],
)
@in_thread
def api_scorecards(request: Request[Any, Any, Any], interview_id: FromPath[int]) -> Scorecards:
    """Who has submitted, and the others' submitted scorecards once the caller may read them
    (after submitting their own, if they are a scorer). Drafts are only ever their author's."""
    user, interview = _reviewed(request, interview_id)
    panel = scorecards.panel_for(user, interview)
    return Scorecards(
        panel.standing.submitted, panel.standing.pending, panel.readable, panel.others, panel.mine
    )


@post(
    "/api/interviews/{interview_id:int}/scorecard/submit",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["scorecards"],
)
@in_thread
def api_submit(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: FromPath[int],
    data: JSONBody[ScorecardIn],
) -> ScorecardView:
    """Submit the caller's scorecard: every competency scored (1-5) or not assessed (null),
    and a recommendation. Submitting the same one again is a no-op."""
    user, interview = _reviewed(request, interview_id)
    return scorecards.submit(runtime.audit, user, interview, data)


@post(
    "/api/interviews/{interview_id:int}/scorecard/amend",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["scorecards"],
)
@in_thread
def api_amend(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: FromPath[int],
    data: JSONBody[Amendment],
) -> ScorecardView:
    """Amend the caller's submitted scorecard: a new version, with the reason."""
    user, interview = _reviewed(request, interview_id)
    filled = ScorecardIn(data.scores, data.recommendation, data.summary)
    return scorecards.amend(runtime.audit, user, interview, filled, data.reason)
