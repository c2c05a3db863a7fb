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
from appliance.db.models import Interview, InterviewParticipant, Recording, Scorecard, User
from appliance.hiring import mailer
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import as_utc, interviewers, stored

LOOK_BACK = dt.timedelta(days=14)
# How far back an interviewer's home page lists scorecards still to submit.
DUE_LISTED = dt.timedelta(days=60)


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


def due_for(user: User, now: dt.datetime | None = None) -> list[Interview]:
    """Interviews `user` sat on that took place in the last two months and that they have not
    submitted a scorecard for, most recent first: the "Scorecards due" on their home page."""
    current = as_utc(now or utcnow())
    submitted = Scorecard.select(Scorecard.interview).where(
        (Scorecard.author == user) & Scorecard.submitted_at.is_null(False)
    )
    sat_on = InterviewParticipant.select(InterviewParticipant.interview).where(
        InterviewParticipant.user == user
    )
    return list(
        Interview.select()
        .where(
            Interview.id.in_(sat_on)
            & Interview.id.not_in(submitted)
            & (Interview.status != "cancelled")
            & (Interview.ends_at > stored(current - DUE_LISTED))
            & (Interview.starts_at < stored(current))
            & _held()
        )
        .order_by(Interview.starts_at.desc())
        .limit(20)
    )
