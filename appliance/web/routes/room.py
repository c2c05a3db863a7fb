"""The live room over HTTP: the panel's room page and its JSON calls (token, lobby, admit,
scorecard autosave, end), and the candidate's lobby and join calls under their link.

What a candidate's calls return is limited to their own state and SFU token: nothing of the
kit, the scores or the notes (tests/test_web_room.py checks the payloads).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, get, post, put
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody
from litestar.response import Response, Template

from appliance.core.errors import ApplianceError, NotFound
from appliance.db.models import Interview, Role, User
from appliance.hiring import scheduling
from appliance.hiring.scheduling import LinkRefused, as_utc
from appliance.interview import consent, live_room
from appliance.web.access import allow, public
from appliance.web.pages import AppRuntime, page
from appliance.web.sfu_link import sfu_link
from appliance.web.threads import in_thread

PANEL = allow(Role.ADMIN, Role.RECRUITER, Role.INTERVIEWER)


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
    notes: str = ""
    scores: dict[str, int | None] = field(default_factory=dict)  # competency id -> 1..5 / None
    asked: list[int] = field(default_factory=list)


@dataclass
class DraftView:
    notes: str
    scores: dict[str, int]
    asked: list[int]
    saved_at: str | None


def _user(request: Request[Any, Any, Any]) -> User:
    user: User = User.get_by_id(request.scope["user"].id)
    return user


def _panel_interview(request: Request[Any, Any, Any], interview_id: int) -> tuple[User, Interview]:
    """The interview, for a member of its panel; anyone else is refused."""
    user = _user(request)
    interview = Interview.get_or_none(Interview.id == interview_id)
    if interview is None:
        raise NotFound(f"no interview with id {interview_id}")
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
        "(erased)" if candidate.erased_at is not None else str(candidate.name),
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
    return page(
        "room.html",
        request,
        interview=interview,
        lobby=_lobby(runtime, interview),
        kit=live_room.kit_view(interview),
        draft=draft,
        starts_at=_iso(interview.starts_at),
        ends_at=_iso(interview.ends_at),
        sfu=link,
        ended=consent.is_ended(interview),
    )


@get("/api/interviews/{interview_id:int}/room/token", opt=PANEL, tags=["room"])
@in_thread
def api_room_token(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> RoomToken:
    """A panel member's token for the interview's room on the SFU (docs/signaling.md)."""
    user, interview = _panel_interview(request, interview_id)
    token = live_room.panel_token(runtime.config, runtime.keys.signing_key, interview, user)
    return RoomToken(token, live_room.is_recorded(interview), consent.room_name(interview))


@get("/api/interviews/{interview_id:int}/lobby", opt=PANEL, tags=["room"])
@in_thread
def api_lobby(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> LobbyView:
    """Whether the candidate is waiting to be let in."""
    _, interview = _panel_interview(request, interview_id)
    return _lobby(runtime, interview)


@post("/api/interviews/{interview_id:int}/lobby/admit", opt=PANEL, tags=["room"])
@in_thread
def api_admit(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> LobbyView:
    """Let the waiting candidate in."""
    user, interview = _panel_interview(request, interview_id)
    live_room.admit(runtime.audit, user, interview, runtime.config)
    return _lobby(runtime, interview)


@put("/api/interviews/{interview_id:int}/scorecard", opt=PANEL, tags=["room"])
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


@get("/api/interviews/{interview_id:int}/scorecard", opt=PANEL, tags=["room"])
@in_thread
def api_scorecard(request: Request[Any, Any, Any], interview_id: FromPath[int]) -> DraftView:
    """The caller's own scorecard as last saved."""
    user, interview = _panel_interview(request, interview_id)
    return _draft_view(live_room.draft_of(live_room.scorecard_of(interview, user)))


@post("/api/interviews/{interview_id:int}/end", opt=PANEL, tags=["room"])
@in_thread
def api_end(
    request: Request[Any, Any, Any], runtime: AppRuntime, interview_id: FromPath[int]
) -> LobbyView:
    """End the interview: the candidate's link stops working; the page then closes the room on
    the SFU for everyone."""
    user, interview = _panel_interview(request, interview_id)
    live_room.end(runtime.audit, user, interview)
    return _lobby(runtime, interview)


# --- the candidate, under their link -----------------------------------------------------------


def _candidate_interview(token: str) -> Interview:
    invitation = scheduling.invitation_for(token)
    if invitation.interview is None:
        raise ApplianceError("book a time first")
    interview: Interview = invitation.interview
    return interview


def _state(state: str, status: int = 200, message: str = "") -> Response[dict[str, Any]]:
    return Response({"state": state, "message": message}, status_code=status)


@get("/i/{token:str}/lobby", opt=public(), include_in_schema=False)
@in_thread
def candidate_lobby(runtime: AppRuntime, token: FromPath[str]) -> Response[dict[str, Any]]:
    """Where the candidate stands: ready, waiting, admitted, closed or ended."""
    try:
        interview = _candidate_interview(token)
    except (LinkRefused, ApplianceError) as exc:
        return _state("refused", 403, str(exc))
    return _state(live_room.candidate_state(runtime.config, interview))


@post("/i/{token:str}/lobby", opt=public(), include_in_schema=False)
@in_thread
def candidate_enter_lobby(runtime: AppRuntime, token: FromPath[str]) -> Response[dict[str, Any]]:
    """The candidate has checked their devices and asks to come in."""
    try:
        interview = _candidate_interview(token)
        if consent.RECORDING not in consent.choices(interview):
            raise ApplianceError("please answer the recording notice first")
    except (LinkRefused, ApplianceError) as exc:
        return _state("refused", 403, str(exc))
    return _state(live_room.enter_lobby(runtime.audit, runtime.config, interview))


@get("/i/{token:str}/join", opt=public(), include_in_schema=False)
@in_thread
def candidate_join(runtime: AppRuntime, token: FromPath[str]) -> Response[dict[str, Any]]:
    """The candidate's SFU token once admitted; nothing about the kit, scores or notes."""
    try:
        interview = _candidate_interview(token)
        sfu_token, recorded = live_room.candidate_token(
            runtime.config, runtime.keys.signing_key, interview
        )
    except live_room.NotInLobby as exc:
        return _state(exc.state, 409, str(exc))
    except (LinkRefused, ApplianceError) as exc:
        return _state("refused", 403, str(exc))
    return Response(
        {
            "state": "admitted",
            "token": sfu_token,
            "recorded": recorded,
            "room": consent.room_name(interview),
        }
    )


def candidate_room_page(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: str, recorded: bool
) -> Template:
    """Device check, lobby and room in one page; what the candidate's browser is given."""
    return page(
        "candidate_room.html",
        request,
        token=token,
        recorded=recorded,
        sfu=sfu_link(runtime.config),
    )
