"""The versioned API for other systems (docs/api.md): callable with an API token holding the
route's scope, or from a signed-in recruiter's or administrator's browser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from annotated_types import MaxLen, MinLen
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from appliance.core import validation
from appliance.db.paging import MAX_CURSOR_LIMIT
from appliance.evaluation import decisions, scorecards
from appliance.evaluation.decisions import DecisionPage, DecisionRecord
from appliance.evaluation.scorecards import ScorecardView
from appliance.hiring import (
    candidates,
    catalog_records,
    interview_records,
    notifications,
    scheduling,
)
from appliance.hiring.candidates import CandidateFields
from appliance.hiring.interview_records import InterviewRecord, RecordPage, Status
from appliance.hiring.scheduling import as_utc
from appliance.hiring.scheduling_rules import rules
from appliance.recordings import records
from appliance.recordings.records import RecordingRecord, TranscriptRecord
from appliance.staff import idempotency, roles
from appliance.staff.api_tokens import TokenView, actor_name
from appliance.staff.idempotency import MAX_KEY
from appliance.web.access import API_TOKEN, allow_token
from appliance.web.api_document import refusals
from appliance.web.pages import AppRuntime, actor
from appliance.web.threads import in_thread

INTERVIEWS_READ = allow_token("interviews:read", *roles.HIRING)

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_CURSOR_LIMIT)]
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


def _token(request: Request[Any, Any, Any]) -> TokenView:
    token: TokenView = request.scope[API_TOKEN]  # type: ignore[literal-required]
    return token


def _caller(request: Request[Any, Any, Any]) -> str:
    """Who the audit log names for this call: the token, or the signed-in user."""
    token = request.scope.get(API_TOKEN)
    return actor_name(token) if isinstance(token, TokenView) else actor(request)


Made = TypeVar("Made")


def _once(
    request: Request[Any, Any, Any],
    key: str | None,
    body: Any,
    kind: type[Made],
    make: Callable[[], tuple[int, Made]],
) -> Response[Made]:
    """Answer a create made with a token: with an `Idempotency-Key`, a retry of the same
    request gets the first answer again and makes nothing."""
    token = _token(request)
    digest = idempotency.request_digest(asdict(body))
    if key is not None:
        idempotency.check_key(key)
        kept = idempotency.replay(token.id, key, digest)
        if kept is not None:
            return Response(msgspec.convert(kept[1], kind), status_code=kept[0])
    status, answer = make()
    if key is not None:
        idempotency.remember(token.id, key, digest, status, msgspec.to_builtins(answer))
    return Response(answer, status_code=status)


@post(
    "/api/v1/candidates",
    opt={**allow_token("candidates:write"), "exclude_from_csrf": True},
    status_code=200,
    responses={
        201: ResponseSpec(CandidateOut, description="The candidate was made."),
        **refusals(404, 409, 410),
    },
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

    def make() -> tuple[int, CandidateOut]:
        fields = CandidateFields(data.name, data.email, data.phone, data.position_id)
        candidate, made = candidates.upsert_by_external_id(
            runtime.audit, _caller(request), data.external_id, fields
        )
        answer = CandidateOut(
            candidate.id, data.external_id, candidate.name, candidate.email, candidate.phone,
            candidate.position_id, candidate.status, made,
        )  # fmt: skip
        return (201 if made else 200), answer

    return _once(request, idempotency_key, data, CandidateOut, make)


@dataclass
class InvitationIn:
    """An invitation for the candidate to the interview type. Without `starts_at` the candidate
    books a time themselves from the link they are sent; with it, the interview is scheduled at
    that time (the panel must be free) and the candidate is sent the interview instead."""

    candidate_id: int
    interview_type_id: int
    starts_at: dt.datetime | None = None
    # The zone the candidate's e-mail and link show times in (IANA name).
    timezone: Annotated[str, MinLen(1), MaxLen(64)] = "UTC"


@dataclass
class InvitationOut:
    id: int
    candidate_id: int
    interview_type_id: int
    status: Literal["open", "booked"]
    expires_at: dt.datetime
    link: str  # the candidate's personal link (also e-mailed to them)
    interview_id: int | None  # set when the interview was scheduled by this call


@post(
    "/api/v1/invitations",
    opt={**allow_token("interviews:write"), "exclude_from_csrf": True},
    status_code=201,
    responses=refusals(404, 409, 422),
    tags=["v1"],
)
@in_thread
def invite(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    data: JSONBody[InvitationIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[InvitationOut]:
    """Invites the candidate (tokens only). With an `Idempotency-Key`, a retry gets the first
    answer again and invites nobody twice."""
    settings, key = rules(runtime.config), scheduling.link_key(runtime.keys)

    def make() -> tuple[int, InvitationOut]:
        interview = None
        if data.starts_at is None:
            invitation, _ = scheduling.invite(
                runtime.audit, _caller(request), data.candidate_id, data.interview_type_id,
                settings, key,
            )  # fmt: skip
            link = notifications.invite_candidate(runtime.config, invitation, key)
        else:
            invitation, _, interview = scheduling.schedule_at(
                runtime.audit, _caller(request), data.candidate_id, data.interview_type_id,
                data.starts_at, data.timezone, settings, key,
            )  # fmt: skip
            notifications.notify(runtime.config, interview, "booked", key)
            link = notifications.candidate_link(runtime.config, invitation, key)
        answer = InvitationOut(
            invitation.id, data.candidate_id, data.interview_type_id,
            "booked" if interview else "open",
            as_utc(invitation.expires_at), link, interview.id if interview else None,
        )  # fmt: skip
        return 201, answer

    return _once(request, idempotency_key, data, InvitationOut, make)


POSITIONS_READ = INTERVIEWS_READ


@get("/api/v1/positions", opt=POSITIONS_READ, tags=["v1"])
@in_thread
def list_positions(after: After = 0, limit: Limit = 50) -> catalog_records.PositionPage:
    """Positions in id order, `limit` at a time (cursor as for interviews)."""
    return catalog_records.positions(after, limit)


@get("/api/v1/interview-types", opt=POSITIONS_READ, tags=["v1"])
@in_thread
def list_interview_types(after: After = 0, limit: Limit = 50) -> catalog_records.InterviewTypePage:
    """Interview types (what an invitation is for) in id order, `limit` at a time."""
    return catalog_records.interview_types(after, limit)


@get(
    "/api/v1/interviews/{interview_id:int}/recordings",
    opt=INTERVIEWS_READ,
    responses=refusals(410),
    tags=["v1"],
)
@in_thread
def list_recordings(interview_id: FromPath[int]) -> list[RecordingRecord]:
    """The interview's recordings: metadata only, never media."""
    return records.recording_records(interview_id)


@get(
    "/api/v1/interviews/{interview_id:int}/transcript",
    opt=allow_token("transcripts:read", *roles.HIRING),
    responses=refusals(410),
    tags=["v1"],
)
@in_thread
def get_transcript(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> TranscriptRecord:
    """The interview's newest transcript; 403 where the candidate did not consent to recording
    and transcription. Each opening is audited."""
    return records.transcript_record(runtime, _caller(request), interview_id)


@get(
    "/api/v1/interviews/{interview_id:int}/scorecards",
    opt=allow_token("scorecards:read", *roles.HIRING),
    tags=["v1"],
)
@in_thread
def list_scorecards(interview_id: FromPath[int]) -> list[ScorecardView]:
    """The interview's submitted scorecards, in the order they came in (drafts never)."""
    return scorecards.submitted_scorecards(interview_records.interview(interview_id))


DECISIONS_READ = allow_token("decisions:read", *roles.HIRING)


@get("/api/v1/decisions", opt=DECISIONS_READ, tags=["v1"])
@in_thread
def list_decisions(
    after: After = 0, limit: Limit = 50, candidate_id: FromQuery[int | None] = None
) -> DecisionPage:
    """Decisions in the order they were made, `limit` at a time (cursor as for interviews);
    only one candidate's with `candidate_id`. A changed decision is a new one; the one it
    replaced says `in_force: false`."""
    return decisions.decision_records(after, limit, candidate_id)


@get("/api/v1/decisions/{decision_id:int}", opt=DECISIONS_READ, tags=["v1"])
@in_thread
def get_decision(decision_id: FromPath[int]) -> DecisionRecord:
    return decisions.decision_record(decision_id)
