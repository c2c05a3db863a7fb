"""When an interview's room is open: the join window, and when the candidate's link opens
nothing more."""

from __future__ import annotations

import datetime as dt

from appliance.core.config import Config
from appliance.db.database import utcnow
from appliance.db.models import Interview
from appliance.hiring.scheduling import as_utc
from appliance.hiring.scheduling_rules import rules


def join_window(config: Config, interview: Interview) -> tuple[dt.datetime, dt.datetime]:
    """From `join_early_minutes` before the start to the booked end, in UTC."""
    opens = as_utc(interview.starts_at) - dt.timedelta(minutes=rules(config).join_early_minutes)
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
