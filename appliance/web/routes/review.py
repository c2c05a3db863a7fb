"""The review page of an interview: every participant's recording in sync and the transcript
beside it (recordings/review.py says what it shows; recordings/playback.py streams the media)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, delete, get, post, put
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template

from appliance.core import validation
from appliance.core.errors import ApplianceError, NotAllowed
from appliance.db.models import Comment, User
from appliance.evaluation import scorecards
from appliance.evaluation.scorecards import ScorecardIn, ScoreIn
from appliance.evidence import assistant
from appliance.evidence.interview_data import interview_data
from appliance.hiring import agenda
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import may_see
from appliance.interview.live_room import KitView, kit_view
from appliance.recordings import comments, composite_jobs, review
from appliance.recordings.comments import CommentView
from appliance.recordings.store import get_recording
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


@get("/interviews/{interview_id:int}/review", opt=PANEL, include_in_schema=False)
@in_thread
def review_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> Template:
    return _review_page(request, runtime, interview_id)


def _review_page(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: int,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Template:
    interview = agenda.get_interview(interview_id)
    user = _check_reviewer(request, interview.id)
    shown = review.review(runtime, actor(request), interview)
    remarks, made, evidence = [], None, None
    may_read_others = scorecards.may_read_others(user, interview)
    if shown.recording is not None and shown.tiles:
        remarks = comments.thread(runtime, shown.recording.id)
        made = composite_jobs.status(shown.recording.id)
    if shown.recording is not None and shown.turns:
        evidence = assistant.for_review(
            runtime, actor(request), shown.recording, may_read_others=may_read_others
        )
    return page(
        "review.html",
        request,
        status,
        review=shown,
        comments=remarks,
        me=user.id,
        candidate=display_name(interview.candidate),
        scorecards=scorecards.panel_for(user, interview),
        kit=kit_view(interview),
        recommendations=scorecards.RECOMMENDATIONS,
        scorecard_error=error,
        form=form,
        composite=made,
        figures=interview_data(shown),
        figures_shown=may_read_others,
        evidence=evidence,
    )


def scorecard_from_form(data: dict[str, str], kit: KitView) -> ScorecardIn:
    """The scorecard form: per competency `score-<id>` (1-5, "na" for not assessed, empty for
    not yet) and `rationale-<id>`; `recommendation`; `summary`."""
    lines = []
    for competency in kit.competencies:
        raw = data.get(f"score-{competency.id}", "").strip()
        rationale = data.get(f"rationale-{competency.id}", "")
        if raw == "na":
            lines.append(ScoreIn(competency.id, None, rationale))
        elif raw:
            lines.append(ScoreIn(competency.id, optional_int(raw), rationale))
    recommendation = validation.choice(
        "Recommendation", data.get("recommendation", ""), scorecards.RECOMMENDATION_VALUES
    )
    return ScorecardIn(lines, recommendation or None, data.get("summary", ""))


@post("/interviews/{interview_id:int}/scorecard", opt=PANEL, include_in_schema=False)
@in_thread
def post_scorecard(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    interview_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    """The review page's scorecard form: save a draft, submit, or amend with a reason."""
    interview = agenda.get_interview(interview_id)
    user = _check_reviewer(request, interview.id)
    action = data.get("action", "save")
    try:
        filled = scorecard_from_form(data, kit_view(interview))
        if action == "submit":
            scorecards.submit(runtime.audit, user, interview, filled)
        elif action == "amend":
            scorecards.amend(runtime.audit, user, interview, filled, data.get("reason", ""))
        else:
            scorecards.save_draft(user, interview, filled)
    except ApplianceError as exc:
        if isinstance(exc, NotAllowed):
            raise
        return _review_page(request, runtime, interview_id, 400, str(exc), dict(data))
    return see_other(f"/interviews/{interview_id}/review#scorecard")


def _check_reviewer(request: Request[Any, Any, Any], interview_id: int) -> User:
    """The signed-in user, who may review the interview; anyone else is refused."""
    user = current_user(request)
    if not may_see(user, interview_id):
        raise PermissionDeniedException("you may not review this interview")
    return user


@dataclass
class CommentIn:
    body: validation.RequiredText
    at_ms: int = 0
    end_ms: int | None = None
    parent_id: int | None = None


@dataclass
class CommentEdit:
    body: validation.RequiredText


@get(
    "/api/recordings/{recording_id:int}/comments",
    responses=refusals(410),
    opt=PANEL,
    tags=["review"],
)
@in_thread
def api_comments(
    request: Request[Any, Any, Any], runtime: AppRuntime, recording_id: FromPath[int]
) -> list[CommentView]:
    """Every comment on the recording, each top-level one followed by its replies."""
    _check_reviewer(request, get_recording(recording_id).interview_id)
    return comments.thread(runtime, recording_id)


@post(
    "/api/recordings/{recording_id:int}/comments",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["review"],
)
@in_thread
def api_add_comment(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    recording_id: FromPath[int],
    data: JSONBody[CommentIn],
) -> CommentView:
    """Comment on a moment (`at_ms`), a span of the transcript (to `end_ms`), or reply to a
    comment (`parent_id`). `@name` mentions are e-mailed to those who may review it."""
    author = _check_reviewer(request, get_recording(recording_id).interview_id)
    comment = comments.add(
        runtime,
        author,
        recording_id,
        data.body,
        data.at_ms,
        data.end_ms,
        data.parent_id,
    )
    return comments.view(runtime, comment.id)


def _comment(request: Request[Any, Any, Any], comment_id: int) -> Comment:
    comment = comments.get_comment(comment_id)
    _check_reviewer(request, comment.interview_id)
    return comment


@put("/api/comments/{comment_id:int}", responses=refusals(410, 422), opt=PANEL, tags=["review"])
@in_thread
def api_edit_comment(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    comment_id: FromPath[int],
    data: JSONBody[CommentEdit],
) -> CommentView:
    """The author rewrites their comment; the earlier text is kept, audited."""
    _comment(request, comment_id)
    comments.edit(runtime, current_user(request), comment_id, data.body)
    return comments.view(runtime, comment_id)


@delete("/api/comments/{comment_id:int}", responses=refusals(410, 422), opt=PANEL, tags=["review"])
@in_thread
def api_delete_comment(
    request: Request[Any, Any, Any], runtime: AppRuntime, comment_id: FromPath[int]
) -> None:
    """The author withdraws their comment; it shows as deleted, its text kept, audited."""
    _comment(request, comment_id)
    comments.delete(runtime, current_user(request), comment_id)
