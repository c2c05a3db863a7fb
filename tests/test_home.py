"""The staff home page: a panel member sees their next interviews with the way into each room,
the scorecards they owe, and their availability; other roles see only their places."""

from __future__ import annotations

import datetime as dt

from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.database import utcnow
from appliance.db.models import Candidate, Interview, InterviewParticipant, Scorecard, User
from appliance.hiring import scheduling
from appliance.runtime import Runtime
from tests.conftest import make_user, sign_in


def _interview(ivy: User, name: str, starts_in: dt.timedelta, **fields: object) -> Interview:
    starts = utcnow() + starts_in
    interview = Interview.create(
        candidate=Candidate.create(name=name, email=f"{name.lower()}@example.com"),
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        **fields,
    )
    InterviewParticipant.create(interview=interview, user=ivy)
    return interview


def test_a_panel_member_sees_what_comes_next(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    make_user(runtime, "compliance", "cora@example.com")
    sign_in(client, ivy.email)
    empty = client.get("/").text
    assert "None booked." in empty and "every interview you sat on has your scorecard" in empty
    assert "You have set no weekly hours, so candidates cannot book you." in empty

    now_on = _interview(ivy, "Nora", dt.timedelta(minutes=5))
    later = _interview(ivy, "Lars", dt.timedelta(days=3))
    _interview(ivy, "Farah", dt.timedelta(days=20))  # past the two weeks shown
    held = _interview(ivy, "Hugo", dt.timedelta(days=-2), ended_at=utcnow())
    scored = _interview(ivy, "Sara", dt.timedelta(days=-1), ended_at=utcnow())
    Scorecard.create(interview=scored, author=ivy, submitted_at=utcnow())
    _interview(ivy, "Nina", dt.timedelta(days=-3))  # never took place: nothing to score
    _interview(ivy, "Carl", dt.timedelta(days=-1), ended_at=utcnow(), status="cancelled")
    week = [scheduling.WeeklyWindow(d, "09:00", "17:30") for d in range(4)]
    week += [
        scheduling.WeeklyWindow(4, "13:00", "00:00"),
        scheduling.WeeklyWindow(6, "00:00", "00:00"),
    ]
    scheduling.set_availability(runtime.audit, "t", ivy, "Europe/Berlin", week)

    home = client.get("/").text
    assert home.index("Nora") < home.index("Lars") and "Farah" not in home
    assert f'href="/interviews/{now_on.id}/room"' in home  # its window is open: join
    assert f'href="/interviews/{later.id}/room"' not in home and "room opens" in home
    assert f'href="/interviews/{held.id}/review#scorecard"' in home
    for not_due in ("Sara", "Nina", "Carl"):
        assert not_due not in home
    assert "Monday 09:00\u201317:30" in home and "Saturday" not in home
    assert "Friday 13:00\u2013midnight" in home and "Sunday all day" in home
    assert "In Europe/Berlin." in home and "no weekly hours" not in home

    client.cookies.clear()
    sign_in(client, "cora@example.com")
    officer = client.get("/").text
    assert "Scorecards due" not in officer and 'href="/audit"' in officer
