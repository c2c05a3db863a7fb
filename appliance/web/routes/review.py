"""The review page of an interview: every participant's recording in sync and the transcript
beside it (recordings/review.py says what it shows; recordings/playback.py streams the media)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Template

from appliance.hiring import agenda
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import may_see
from appliance.recordings import review
from appliance.web.access import PANEL
from appliance.web.pages import AppRuntime, actor, current_user, page
from appliance.web.threads import in_thread


@get("/interviews/{interview_id:int}/review", opt=PANEL, include_in_schema=False)
@in_thread
def review_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> Template:
    interview = agenda.get_interview(interview_id)
    if not may_see(current_user(request), interview.id):
        raise PermissionDeniedException("you may not review this interview")
    shown = review.review(runtime, actor(request), interview)
    return page(
        "review.html",
        request,
        review=shown,
        candidate=display_name(interview.candidate),
    )
