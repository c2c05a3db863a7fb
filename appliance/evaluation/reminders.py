""" "Scorecard due": each panel member who has not submitted a scorecard for an interview that
took place is e-mailed `[notifications] scorecard_due_hours` after it ended, and once more
`scorecard_repeat_hours` later (through the outbox, each once whatever restarts). Interviews
that ended more than a fortnight ago are left alone, so an upgrade does not mail about old
ones."""

from __future__ import annotations

import datetime as dt

import peewee

from appliance.core.config import Config
from appliance.db.database import utcnow
from appliance.db.models import Interview, Recording, Scorecard
from appliance.hiring import mailer
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc, interviewers, stored

LOOK_BACK = dt.timedelta(days=14)


def _ended(interview: Interview) -> dt.datetime:
    return as_utc(interview.ended_at or interview.ends_at)


def _held() -> peewee.Expression:
    """Interviews that took place: ended with the button, let in, or recorded."""
    recorded = Recording.select(Recording.interview)
    return (
        Interview.ended_at.is_null(False)
        | Interview.admitted_at.is_null(False)
        | Interview.id.in_(recorded)
    )


def send_scorecard_reminders(config: Config, now: dt.datetime | None = None) -> int:
    """Queue the reminders that are due; returns how many were queued."""
    due_after = dt.timedelta(hours=config.notifications.scorecard_due_hours)
    repeat_after = dt.timedelta(hours=config.notifications.scorecard_repeat_hours)
    if not due_after:
        return 0
    current = as_utc(now or utcnow())
    query = Interview.select().where(
        (Interview.status != "cancelled")
        & (Interview.ends_at > stored(current - LOOK_BACK - due_after - repeat_after))
        & _held()
    )
    queued = 0
    for interview in query:
        late = current - _ended(interview)
        if late < due_after or late > LOOK_BACK + due_after + repeat_after:
            continue
        if interview.candidate.erased_at is not None:
            continue
        second = bool(repeat_after) and late >= due_after + repeat_after
        queued += _remind(config, interview, 2 if second else 1)
    return queued


def _remind(config: Config, interview: Interview, round_: int) -> int:
    submitted = {
        s.author_id
        for s in Scorecard.select(Scorecard.author).where(
            (Scorecard.interview == interview) & Scorecard.submitted_at.is_null(False)
        )
    }
    link = f"{config.public_url}/interviews/{interview.id}/review#scorecard"
    candidate = display_name(interview.candidate)
    queued = 0
    for user in interviewers(interview):
        if not user.active or user.id in submitted:
            continue
        message = mailer.queue_message(
            user.email,
            f"Scorecard due: the interview with {candidate}"
            + (" (second reminder)" if round_ == 2 else ""),
            f"Your scorecard for the interview with {candidate} is not in yet. Score it while "
            f"the interview is fresh; the panel's other scorecards stay hidden from you until "
            f"you submit yours.\n\n{link}\n",
            interview=interview,
            dedupe_key=f"scorecard-due:{interview.id}:{user.id}:{round_}",
        )
        queued += message is not None
    return queued
