"""The candidate's consent: what they are told before anything else, what they chose, and
what that allows (a recorded room, an unrecorded one, or none).

The exact text shown is stored with each choice and audited, so the record proves what the
candidate agreed to, not what the notice says today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.contracts import join_token
from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import Consent, Interview
from appliance.hiring.scheduling import as_utc, interviewers
from appliance.storage.audit import AuditLog

RECORDING = "recording"
AI_ASSISTANCE = "ai_assistance"


@dataclass(frozen=True)
class Notice:
    recording: str
    ai_assistance: str
    ai_asked: bool
    if_declined: str


def notice_for(config: Config, interview: Interview) -> Notice:
    panel = ", ".join(u.name or u.email for u in interviewers(interview)) or "the interview panel"
    keep = config.retention.days_after_interview
    kept = f"It is kept for at most {keep} days after the interview" if keep else "It is kept"
    recording = (
        "This interview is recorded (video and audio) and transcribed automatically on the "
        "employer's own Parley appliance; nothing is sent to an outside service. The recording "
        f"and transcript can be seen by {panel} and the recruiters of this position, and by "
        f"compliance officers checking that it was handled correctly. {kept}, and is erased "
        "earlier on your request. Every access to it is logged."
    )
    if config.interviews.ai_assistance:
        ai = (
            "Separately: may the hiring team use AI assistance (summaries and search computed on "
            "the appliance) on the transcript of this interview? Your answer does not affect "
            "whether the interview takes place."
        )
    else:
        ai = "No AI assistance is used on the transcript of this interview."
    if config.interviews.decline_recording == "reschedule":
        declined = (
            "If you decline recording, this interview will not take place as booked; the "
            "recruiter will contact you to arrange another way."
        )
    else:
        declined = "If you decline recording, the interview takes place without being recorded."
    return Notice(recording, ai, config.interviews.ai_assistance, declined)


def record(
    audit: AuditLog,
    interview: Interview,
    notice: Notice,
    recording: bool,
    ai_assistance: bool | None,
) -> None:
    """Stores the candidate's choices with the exact text they were shown."""
    if notice.ai_asked and ai_assistance is None:
        raise ApplianceError("please answer both questions")
    Consent.create(
        interview=interview,
        kind=RECORDING,
        granted=recording,
        text_shown=f"{notice.recording}\n\n{notice.if_declined}",
    )
    if notice.ai_asked:
        Consent.create(
            interview=interview,
            kind=AI_ASSISTANCE,
            granted=bool(ai_assistance),
            text_shown=notice.ai_assistance,
        )
    audit.record(
        f"candidate:{interview.candidate_id}",
        "consent.record",
        f"interview:{interview.id}",
        {RECORDING: recording, AI_ASSISTANCE: ai_assistance if notice.ai_asked else None},
    )


def choices(interview: Interview) -> dict[str, bool]:
    """The latest choice of each kind."""
    latest: dict[str, bool] = {}
    for row in Consent.select().where(Consent.interview == interview).order_by(Consent.id):
        latest[row.kind] = bool(row.granted)
    return latest


def join_window(config: Config, interview: Interview) -> tuple[dt.datetime, dt.datetime]:
    opens = as_utc(interview.starts_at) - dt.timedelta(minutes=config.scheduling.join_early_minutes)
    return opens, as_utc(interview.ends_at)


def is_open(config: Config, interview: Interview, now: dt.datetime | None = None) -> bool:
    opens, closes = join_window(config, interview)
    return interview.status == "scheduled" and opens <= as_utc(now or utcnow()) < closes


def is_ended(interview: Interview) -> bool:
    """A panel member ended it ("End interview")."""
    return interview.ended_at is not None or interview.status == "completed"


def is_over(config: Config, interview: Interview, now: dt.datetime | None = None) -> bool:
    """Ended, or its join window has closed: the candidate's link opens nothing more."""
    if interview.status == "cancelled":
        return False  # the link says it was cancelled, which is clearer
    return is_ended(interview) or as_utc(now or utcnow()) >= join_window(config, interview)[1]


def room_name(interview: Interview) -> str:
    return f"interview-{interview.id}"


def token_ttl(config: Config, interview: Interview, now: dt.datetime) -> int:
    """Seconds a join token for the interview's room lasts: until its join window closes."""
    _, closes = join_window(config, interview)
    return max(60, min(join_token.MAX_TTL_SECONDS, int((closes - as_utc(now)).total_seconds())))


def candidate_join_token(
    config: Config,
    signing_key: Ed25519PrivateKey,
    interview: Interview,
    now: dt.datetime | None = None,
) -> tuple[str, bool]:
    """The candidate's SFU token and whether the room is recorded. Refused before consent,
    outside the join window, and when recording was declined under the reschedule policy."""
    current = as_utc(now or utcnow())
    if not is_open(config, interview, current):
        raise ApplianceError("the interview room is not open now")
    given = choices(interview)
    if RECORDING not in given:
        raise ApplianceError("please answer the recording notice first")
    recorded = given[RECORDING]
    if not recorded and config.interviews.decline_recording == "reschedule":
        raise ApplianceError("you declined recording; the recruiter will contact you")
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
