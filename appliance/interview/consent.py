"""The candidate's consent: what they are told before anything else, what they chose, and
what that allows (a recorded room, an unrecorded one, or none).

The exact text shown is stored with each choice and audited, so the record proves what the
candidate agreed to, not what the notice says today.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.models import Consent, Interview
from appliance.hiring.scheduling import interviewers
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
        f"and transcript can be seen and searched by {panel}, the recruiters and the hiring "
        "team of this position, and by "
        f"compliance officers checking that it was handled correctly. {kept}, and is erased "
        "earlier on your request. Every access to it is logged."
    )
    if config.interviews.ai_assistance:
        ai = (
            "Separately: may the hiring team use AI assistance (summaries and evidence drawn "
            "from the transcript, computed on the appliance) on this interview? Your answer "
            "does not affect whether the interview takes place."
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


def withdraw_ai_assistance(audit: AuditLog, actor: str, interview: Interview) -> None:
    """The candidate withdrew their consent to AI assistance after giving it (told to the
    recruiter, who records it): the latest choice becomes "no"."""
    if choices(interview).get(AI_ASSISTANCE) is not True:
        raise ApplianceError(
            f"the candidate of interview {interview.id} has not consented to AI assistance"
        )
    Consent.create(
        interview=interview,
        kind=AI_ASSISTANCE,
        granted=False,
        text_shown=f"Consent to AI assistance withdrawn, as recorded by {actor}.",
    )
    audit.record(actor, "consent.withdraw", f"interview:{interview.id}", {AI_ASSISTANCE: False})


def search_declined() -> peewee.ModelSelect[Consent]:
    """The interviews whose candidate declined AI assistance when the question they were
    shown counted search as AI assistance (as it did before search was part of reviewing):
    their transcripts are left out of search."""
    return Consent.select(Consent.interview).where(
        (Consent.kind == AI_ASSISTANCE)
        & (Consent.granted == False)  # noqa: E712 (a SQL comparison)
        & Consent.text_shown.contains("search")
    )


def choices(interview: Interview) -> dict[str, bool]:
    """The latest choice of each kind."""
    latest: dict[str, bool] = {}
    for row in Consent.select().where(Consent.interview == interview).order_by(Consent.id):
        latest[row.kind] = bool(row.granted)
    return latest


def answered(interview: Interview) -> bool:
    """Whether the candidate has answered the recording notice (either way)."""
    return RECORDING in choices(interview)


def is_recorded(interview: Interview) -> bool:
    """Whether the room records: only once the candidate has agreed to it."""
    return choices(interview).get(RECORDING) is True


def declined_under_reschedule(config: Config, interview: Interview) -> bool:
    """The candidate declined recording where the box's policy is to reschedule rather than
    hold the interview unrecorded: they get no room, and the recruiter is told."""
    given = choices(interview)
    return given.get(RECORDING) is False and config.interviews.decline_recording == "reschedule"
