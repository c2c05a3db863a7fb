"""The interviews list: today and upcoming first, then the recent past or every date; filters by
position, status, interviewer and dates, a page at a time, older interviews reachable rather
than dropped; each viewer sees only what they may."""

from __future__ import annotations

import datetime as dt
import re

from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import (
    Candidate,
    Interview,
    InterviewParticipant,
    OutboxMessage,
    Position,
    Recording,
)
from appliance.runtime import Runtime
from tests.conftest import make_user, sign_in


def _count(page: str) -> int:
    match = re.search(r"(\d+) interviews?", page)
    assert match, page
    return int(match.group(1))


def test_filters_and_pages(runtime: Runtime, client: TestClient[Litestar]) -> None:
    make_user(runtime, "recruiter")
    ana = make_user(runtime, "interviewer", "ana@example.com")
    ben = make_user(runtime, "interviewer", "ben@example.com")
    backend = Position.create(title="Backend engineer")
    design = Position.create(title="Designer")
    today = dt.datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
    for n in range(120):  # one a day, from 100 days ago to 19 days ahead
        starts = today - dt.timedelta(days=100 - n)
        candidate = Candidate.create(name=f"Person {n:03d}", email=f"p{n}@example.com")
        interview = Interview.create(
            candidate=candidate,
            position=backend if n % 2 else design,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            status="cancelled" if n % 10 == 0 else ("completed" if n < 100 else "scheduled"),
        )
        InterviewParticipant.create(interview=interview, user=ana if n % 3 else ben)

    assert sign_in(client, "recruiter@example.com") == 303
    # By default: today and upcoming, soonest first (days 100 to 119).
    upcoming = client.get("/interviews").text
    assert _count(upcoming) == 20
    assert upcoming.index("Person 100") < upcoming.index("Person 101")
    assert "Person 099" not in upcoming
    # The recent past: most recent first, a page at a time.
    past = client.get("/interviews?view=past").text
    assert _count(past) == 100 and "page 1 of 2" in past
    assert past.index("Person 099") < past.index("Person 098") and "Person 049" not in past
    assert "Person 000" in client.get("/interviews?view=past&page=2").text
    everything = client.get("/interviews?view=all").text
    assert _count(everything) == 120 and "page 1 of 3" in everything
    assert "Person 000" in everything and "Person 050" not in everything
    last = client.get("/interviews?view=all&page=3").text
    assert "Person 119" in last and "Person 099" not in last and "Next page" not in last
    assert "page 3 of 3" in client.get("/interviews?view=all&page=99").text
    # The tabs keep the filters.
    assert (
        f'href="/interviews?position={backend.id}&amp;status=&amp;interviewer='
        in client.get(f"/interviews?position={backend.id}").text
    )

    narrowed = client.get(
        f"/interviews?view=all&position={backend.id}&status=completed&interviewer={ben.id}"
    ).text
    expected = [n for n in range(100) if n % 2 and n % 10 and n % 3 == 0]
    assert _count(narrowed) == len(expected)
    # Recruiters see every position: they search for one, and the filter shows it by name.
    assert 'role="combobox"' in narrowed and 'value="Backend engineer"' in narrowed
    assert all(f"Person {n:03d}" in narrowed for n in expected)
    day = (today - dt.timedelta(days=50)).date().isoformat()
    one_day = client.get(f"/interviews?view=all&since={day}&until={day}").text
    assert _count(one_day) == 1 and "Person 050" in one_day

    for bad in (
        "since=yesterday",
        "until=2026-13-01",
        "status=lost",
        "position=x",
        "page=-2",
        "view=soon",
    ):
        response = client.get(f"/interviews?{bad}")
        assert response.status_code == 400, bad
        assert "Traceback" not in response.text

    client.cookies.clear()
    assert sign_in(client, "ben@example.com") == 303
    own = client.get("/interviews?view=all").text
    assert _count(own) == len([n for n in range(120) if n % 3 == 0])
    # An interviewer chooses among the positions of their own interviews.
    assert 'role="combobox"' not in own and own.count("<option") > 2
    assert "Person 001" not in own


def test_the_recordings_and_the_outbox_page_and_find(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "recruiter")
    now = dt.datetime.now()
    for n in range(60):
        candidate = Candidate.create(name=f"Person {n:03d}", email=f"p{n}@example.com")
        interview = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
        Recording.create(interview=interview, status="complete")
        OutboxMessage.create(recipient=f"p{n}@example.com", subject=f"Note {n:03d}", body="Hi",
                             status="manual")  # fmt: skip
    assert sign_in(client, "recruiter@example.com") == 303
    first = client.get("/recordings").text
    assert "60 recordings, page 1 of 2" in first and "Person 059" in first
    assert "Person 009" not in first and "Person 009" in client.get("/recordings?page=2").text
    found = client.get("/recordings?q=person 005").text
    assert "1 recording." in found and "Person 005" in found and "Person 050" not in found
    outbox = client.get("/outbox").text
    assert "60 messages, page 1 of 2" in outbox and "Note 059" in outbox
    assert "Note 000" in client.get("/outbox?page=2").text
