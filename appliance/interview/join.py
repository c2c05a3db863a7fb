"""Getting into an interview: every join token the web process mints for the SFU, the room's
name and how long a token lasts, and the stage a candidate's link is at.

The SFU trusts only what these tokens say (contracts/join_token.py, docs/signaling.md), so every
rule about who may enter, when, and whether they are recorded is checked here before one is
signed.
"""

from __future__ import annotations

import datetime as dt
import enum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.contracts import ended_rooms, join_token
from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import Interview, Invitation, User
from appliance.hiring.scheduling import as_utc
from appliance.interview import consent, live_room, window


class NotInLobby(ApplianceError):
    """The candidate may not come in (yet): `state` says why, for the page to show."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


NOT_IN_LOBBY = {
    "ended": "the interview has ended",
    "closed": "the interview room is not open now",
    "waiting": "the panel will let you in shortly",
    "ready": "check your camera and microphone first",
}


def room_name(interview: Interview) -> str:
    return f"interview-{interview.id}"


def keep_out(config: Config, signing_key: Ed25519PrivateKey, interview: Interview, by: str) -> None:
    """The interview has ended or been cancelled: tell the SFU, which then closes its room and
    refuses every join token issued for it, after a restart too (contracts/ended_rooms.py)."""
    ended_rooms.record_end(
        ended_rooms.ended_rooms_dir(config.data_dir), signing_key, room_name(interview), by
    )


def token_ttl(config: Config, interview: Interview, now: dt.datetime) -> int:
    """Seconds a join token for the interview's room lasts: until its join window closes."""
    _, closes = window.join_window(config, interview)
    return max(60, min(join_token.MAX_TTL_SECONDS, int((closes - as_utc(now)).total_seconds())))


def candidate_token(
    config: Config,
    signing_key: Ed25519PrivateKey,
    interview: Interview,
    now: dt.datetime | None = None,
) -> tuple[str, bool]:
    """The candidate's SFU token and whether the room records them. Refused (NotInLobby) until
    the panel admits them, and before they answered the notice or when they declined recording
    under the reschedule policy."""
    current = as_utc(now or utcnow())
    state = live_room.candidate_state(config, interview, current)
    if state != "admitted":
        raise NotInLobby(state, NOT_IN_LOBBY[state])
    if not consent.answered(interview):
        raise ApplianceError("please answer the recording notice first")
    if consent.declined_under_reschedule(config, interview):
        raise ApplianceError("you declined recording; the recruiter will contact you")
    recorded = consent.is_recorded(interview)
    token = join_token.issue(
        signing_key,
        room_name(interview),
        "candidate",
        "candidate",
        token_ttl(config, interview, current),
        name=interview.candidate.name,
        record=recorded,
        interview_id=interview.id,
        now=current.timestamp(),
    )
    return token, recorded


def panel_token(
    config: Config,
    signing_key: Ed25519PrivateKey,
    interview: Interview,
    user: User,
    now: dt.datetime | None = None,
) -> str:
    """A panel member's SFU token. It never starts the recording: the panel's talk before the
    candidate comes in is not the candidate's interview. The consenting candidate's own token,
    issued only once they are admitted, starts it and records everyone publishing by then."""
    live_room.require_panel(user, interview)
    current = as_utc(now or utcnow())
    if window.is_ended(interview):
        raise ApplianceError("the interview has ended")
    if not window.is_open(config, interview, current):
        raise ApplianceError("the interview room is not open now")
    return join_token.issue(
        signing_key,
        room_name(interview),
        f"staff-{user.id}",
        "interviewer",
        token_ttl(config, interview, current),
        name=user.name or user.email,
        record=False,
        interview_id=interview.id,
        now=current.timestamp(),
    )


class CandidateStage(enum.StrEnum):
    """Where a candidate's link stands, in the order they meet the stages."""

    SCHEDULE = "schedule"  # no time booked yet: pick a slot
    BOOKED = "booked"  # booked (or cancelled); the room is not open yet
    CONSENT = "consent"  # the room is open; the recording notice waits for an answer
    DECLINED = "declined"  # recording declined under the reschedule policy: no room
    ROOM = "room"  # device check, lobby and the call
    OVER = "over"  # ended, or its join window has closed


def candidate_stage(
    config: Config, invitation: Invitation, now: dt.datetime | None = None
) -> CandidateStage:
    """The stage of the candidate's link: what their page shows next."""
    interview: Interview | None = invitation.interview
    if invitation.status != "booked" or interview is None:
        return CandidateStage.SCHEDULE
    if window.is_over(config, interview, now):
        return CandidateStage.OVER
    if not window.is_open(config, interview, now):
        return CandidateStage.BOOKED
    if not consent.answered(interview):
        return CandidateStage.CONSENT
    if consent.declined_under_reschedule(config, interview):
        return CandidateStage.DECLINED
    return CandidateStage.ROOM
