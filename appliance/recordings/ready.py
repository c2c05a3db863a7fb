"""Telling the reviewers an interview is ready to review: once its transcript is made, everyone
who sat on the panel or is on the position's hiring team gets an e-mail with the review page's
link (through the outbox, once per recording, the link and never the transcript)."""

from __future__ import annotations

from appliance.core.config import Config
from appliance.db.models import InterviewParticipant, Recording, Role, User
from appliance.hiring import hiring_team, mailer
from appliance.hiring.candidates import display_name


def reviewers(recording: Recording) -> list[User]:
    """The active staff who sat on the interview's panel or are on its position's hiring
    team, each once, by id."""
    interview = recording.interview
    people = {
        p.user.id: p.user
        for p in InterviewParticipant.select().where(InterviewParticipant.interview == interview)
    }
    if interview.position_id is not None:
        people.update({u.id: u for u in hiring_team.members(interview.position_id)})
    return [u for _, u in sorted(people.items()) if u.active and Role(u.role) != Role.COMPLIANCE]


def announce(config: Config, recording: Recording) -> int:
    """Queue the "ready to review" e-mail for each reviewer; returns how many were queued (none
    for a recording announced before)."""
    interview = recording.interview
    if not config.notifications.transcript_ready or interview.candidate.erased_at is not None:
        return 0
    link = f"{config.public_url}/interviews/{interview.id}/review"
    candidate = display_name(interview.candidate)
    queued = 0
    for user in reviewers(recording):
        message = mailer.queue_message(
            user.email,
            f"Ready to review: the interview with {candidate}",
            f"The recording and transcript of the interview with {candidate} are ready.\n\n"
            f"Watch it, read the transcript and comment: {link}\n",
            interview=interview,
            dedupe_key=f"review-ready:{recording.id}:{user.id}",
        )
        queued += message is not None
    return queued
