"""The live room over HTTP for the panel: the room page and its JSON calls (token, lobby,
admit, scorecard autosave, end). The candidate's side is under their link
(web/routes/candidate_link.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, get, post, put
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody
from litestar.response import Template

from appliance.core import validation
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import Interview, User
from appliance.evaluation.scorecards import Score
from appliance.hiring import agenda
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc
from appliance.interview import consent, join, live_room, window
from appliance.web.access import PANEL
from appliance.web.api_document import refusals
from appliance.web.pages import AppRuntime, current_user, page
from appliance.web.sfu_link import sfu_link
from appliance.web.threads import in_thread


@dataclass
class LobbyView:
    state: str  # ready, waiting, admitted, closed, ended
    candidate: str
    waiting_since: str | None


@dataclass
class RoomToken:
    token: str
    recording: bool
    room: str


@dataclass
class DraftIn:
    notes: validation.LongText = ""
    scores: dict[str, Score | None] = field(default_factory=dict)  # competency id -> 1..5 / None
    asked: list[int] = field(default_factory=list)


@dataclass
class DraftView:
    notes: str
    scores: dict[str, int]
    asked: list[int]
    saved_at: str | None


def _panel_interview(request: Request[Any, Any, Any], interview_id: int) -> tuple[User, Interview]:
    """The interview, for a member of its panel; anyone else is refused."""
    user = current_user(request)
    interview = agenda.get_interview(interview_id)
    try:
        live_room.require_panel(user, interview)
    except ApplianceError:
        raise PermissionDeniedException("only the interview's panel can join its room") from None
    return user, interview


def _iso(moment: dt.datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def _lobby(runtime: AppRuntime, interview: Interview) -> LobbyView:
    candidate = interview.candidate
    return LobbyView(
        live_room.candidate_state(runtime.config, interview),
        display_name(candidate),
        _iso(interview.lobby_since),
    )


def _draft_view(draft: live_room.Draft) -> DraftView:
    return DraftView(
        draft.notes,
        {str(k): v for k, v in draft.scores.items()},
        draft.asked,
        _iso(draft.updated_at),
    )


@get("/interviews/{interview_id:int}/room", opt=PANEL, include_in_schema=False)
@in_thread
def room_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> Template:
    user, interview = _panel_interview(request, interview_id)
    draft = live_room.draft_of(live_room.scorecard_of(interview, user))
    link = sfu_link(runtime.config)
    opens, _ = window.join_window(runtime.config, interview)
    return page(
        "room.html",
        request,
        interview=interview,
        lobby=_lobby(runtime, interview),
        kit=live_room.kit_view(interview),
        draft=draft,
        starts_at=_iso(interview.starts_at),
        ends_at=_iso(interview.ends_at),
        opens_at=_iso(opens),
        server_now=_iso(utcnow()),
        sfu=link,
        ended=window.is_ended(interview),
    )


@get(
    "/api/interviews/{interview_id:int}/room/token",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["room"],
)
@in_thread
def api_room_token(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> RoomToken:
    """A panel member's token for the interview's room on the SFU (docs/signaling.md)."""
    user, interview = _panel_interview(request, interview_id)
    token = join.panel_token(runtime.config, runtime.keys.signing_key, interview, user)
    return RoomToken(token, consent.is_recorded(interview), join.room_name(interview))


@get(
    "/api/interviews/{interview_id:int}/lobby",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["room"],
)
@in_thread
def api_lobby(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> LobbyView:
    """Whether the candidate is waiting to be let in."""
    _, interview = _panel_interview(request, interview_id)
    return _lobby(runtime, interview)


@post(
    "/api/interviews/{interview_id:int}/lobby/admit",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["room"],
)
@in_thread
def api_admit(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> LobbyView:
    """Let the waiting candidate in."""
    user, interview = _panel_interview(request, interview_id)
    live_room.admit(runtime.audit, user, interview, runtime.config)
    return _lobby(runtime, interview)


@put(
    "/api/interviews/{interview_id:int}/scorecard",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["room"],
)
@in_thread
def api_save_scorecard(
    request: Request[Any, Any, Any], interview_id: FromPath[int], data: JSONBody[DraftIn]
) -> DraftView:
    """Autosave: the caller's scores (1..5, or null to clear), private notes and the questions
    they marked asked."""
    user, interview = _panel_interview(request, interview_id)
    try:
        scores = {int(k): v for k, v in data.scores.items()}
    except ValueError:
        raise ApplianceError("scores are keyed by competency id") from None
    draft = live_room.save_draft(interview, user, scores, data.notes, data.asked)
    return _draft_view(draft)


@get(
    "/api/interviews/{interview_id:int}/scorecard",
    responses=refusals(410, 422),
    opt=PANEL,
    tags=["room"],
)
@in_thread
def api_scorecard(request: Request[Any, Any, Any], interview_id: FromPath[int]) -> DraftView:
    """The caller's own scorecard as last saved."""
    user, interview = _panel_interview(request, interview_id)
    return _draft_view(live_room.draft_of(live_room.scorecard_of(interview, user)))


@post(
    "/api/interviews/{interview_id:int}/end", responses=refusals(410, 422), opt=PANEL, tags=["room"]
)
@in_thread
def api_end(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> LobbyView:
    """End the interview: the candidate's link stops working; the page then closes the room on
    the SFU for everyone."""
    user, interview = _panel_interview(request, interview_id)
    live_room.end(runtime.audit, user, interview)
    join.keep_out(runtime.config, runtime.keys.signing_key, interview, user.name or user.email)
    return _lobby(runtime, interview)
