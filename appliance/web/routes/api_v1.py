"""The versioned API for other systems (docs/api.md): callable with an API token holding the
route's scope, or from a signed-in recruiter's or administrator's browser."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import FromPath, FromQuery, QueryParameter

from appliance.hiring import interview_records
from appliance.hiring.interview_records import InterviewRecord, RecordPage, Status
from appliance.staff import roles
from appliance.web.access import allow_token
from appliance.web.threads import in_thread

INTERVIEWS_READ = allow_token("interviews:read", *roles.HIRING)

Limit = Annotated[int, QueryParameter(ge=1, le=interview_records.MAX_LIMIT)]
# Ids stay below 2**53, the largest integer every JSON reader holds exactly.
After = Annotated[int, QueryParameter(ge=0, le=2**53 - 1)]


@get("/api/v1/interviews", opt=INTERVIEWS_READ, tags=["v1"])
@in_thread
def list_interviews(
    after: After = 0, limit: Limit = 50, status: FromQuery[Status | None] = None
) -> RecordPage:
    """Interviews in id order, `limit` at a time: pass the page's `next_cursor` as `after` for
    the next page (null on the last)."""
    return interview_records.records(after, limit, status or "")


@get("/api/v1/interviews/{interview_id:int}", opt=INTERVIEWS_READ, tags=["v1"])
@in_thread
def get_interview(interview_id: FromPath[int]) -> InterviewRecord:
    return interview_records.record(interview_id)
