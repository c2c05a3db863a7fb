"""The versioned API for other systems (docs/api.md): callable with an API token holding the
route's scope, or from a signed-in recruiter's or administrator's browser."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from annotated_types import MaxLen, MinLen
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from appliance.core import validation
from appliance.hiring import candidates, interview_records
from appliance.hiring.candidates import CandidateFields
from appliance.hiring.interview_records import InterviewRecord, RecordPage, Status
from appliance.staff import idempotency, roles
from appliance.staff.api_tokens import TokenView, actor_name
from appliance.staff.idempotency import MAX_KEY
from appliance.web.access import API_TOKEN, allow_token
from appliance.web.pages import AppRuntime
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


@dataclass
class CandidateIn:
    """A candidate as the sending system knows them; `external_id` is its id for them."""

    external_id: Annotated[str, MinLen(1), MaxLen(candidates.MAX_EXTERNAL_ID)]
    name: validation.RequiredShortText
    email: Annotated[str, MaxLen(254)]
    phone: Annotated[str, MaxLen(64)] = ""
    position_id: int | None = None


@dataclass
class CandidateOut:
    id: int
    external_id: str
    name: str
    email: str
    phone: str
    position_id: int | None
    status: str
    created: bool  # True when this call made the candidate, False when it updated them


IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=MAX_KEY)
]


@post(
    "/api/v1/candidates",
    opt={**allow_token("candidates:write"), "exclude_from_csrf": True},
    status_code=200,
    responses={201: ResponseSpec(CandidateOut, description="The candidate was made.")},
    tags=["v1"],
)
@in_thread
def upsert_candidate(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    data: JSONBody[CandidateIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[CandidateOut]:
    """Makes the candidate, or brings them up to date, by `external_id` (tokens only: 200
    updated, 201 made). With an `Idempotency-Key`, a retry gets the first answer again."""
    token: TokenView = request.scope[API_TOKEN]  # type: ignore[literal-required]
    digest = idempotency.request_digest(asdict(data))
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
        kept = idempotency.replay(token.id, idempotency_key, digest)
        if kept is not None:
            return Response(CandidateOut(**kept[1]), status_code=kept[0])
    fields = CandidateFields(data.name, data.email, data.phone, data.position_id)
    candidate, made = candidates.upsert_by_external_id(
        runtime.audit, actor_name(token), data.external_id, fields
    )
    answer = CandidateOut(
        candidate.id, data.external_id, candidate.name, candidate.email, candidate.phone,
        candidate.position_id, candidate.status, made,
    )  # fmt: skip
    status = 201 if made else 200
    if idempotency_key is not None:
        idempotency.remember(token.id, idempotency_key, digest, status, asdict(answer))
    return Response(answer, status_code=status)
