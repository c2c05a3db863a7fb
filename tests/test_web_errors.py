"""Errors at the web edge: a number too large for any stored id is a clear 400, never a 500;
anything unforeseen is logged with its traceback under a reference the error page shows."""

from __future__ import annotations

import logging
import re

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.hiring import candidates
from appliance.runtime import Runtime
from tests.conftest import api_headers, make_user, sign_in

HUGE = 2**63  # one past the largest id SQLite or PostgreSQL stores
HUGER = 10**30


@pytest.mark.parametrize("number", [HUGE, HUGER])
def test_numbers_past_any_id_are_refused_cleanly(
    runtime: Runtime, client: TestClient[Litestar], number: int
) -> None:
    make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    headers = api_headers(client)
    asked = [
        client.get(f"/candidates/{number}"),
        client.get(f"/positions/{number}"),
        client.get(f"/interviews/{number}/review"),
        client.get(f"/api/candidates/{number}"),
        client.get(f"/api/interviews/{number}/scorecards", headers=headers),
        client.get(f"/api/candidates?position_id={number}", headers=headers),
        client.get(f"/interviews?position={number}"),
        client.get(f"/calibration?position={number}"),
        client.post(
            "/api/candidates",
            json={"name": "A", "email": "a@example.com", "position_id": number},
            headers=headers,
        ),
        client.post(
            "/api/candidates/1/decisions",
            json={"outcome": "hold", "reason": "r", "position_id": number},
            headers=headers,
        ),
    ]
    for response in asked:
        assert response.status_code in (400, 404), (response.url, response.text)
        assert "Traceback" not in response.text and "Internal" not in response.text


def test_an_unforeseen_error_is_logged_under_the_reference_the_page_shows(
    runtime: Runtime,
    client: TestClient[Litestar],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("the disk controller said no")

    monkeypatch.setattr(candidates, "list_candidates", broken)
    with caplog.at_level(logging.ERROR, logger="appliance.web.app"):
        page = client.get("/candidates")
    assert page.status_code == 500 and "Traceback" not in page.text
    match = re.search(r"reference ([0-9a-f]{8})", page.text)
    assert match, page.text
    (record,) = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert record.exc_info is not None and "the disk controller said no" in str(record.exc_info[1])
    assert "GET /candidates" in record.getMessage()


def test_text_with_a_nul_is_refused_everywhere_and_nothing_is_stored(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    from appliance.db.models import Candidate
    from tests.conftest import post_form

    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    headers = api_headers(client)
    asked = [
        client.post(
            "/api/candidates", json={"name": "Eve\u0000l", "email": "e@x.org"}, headers=headers
        ),
        client.post(
            "/api/candidates",
            content=b'{"name": "Eve\\\\\\u0000", "email": "e@x.org"}',
            headers={**headers, "content-type": "application/json"},
        ),
        post_form(client, "/candidates", {"name": "Eve\x00l", "email": "e@x.org"}),
        client.get("/candidates?q=Eve%00", headers={"accept": "text/html"}),
    ]
    for response in asked:
        assert response.status_code == 400, (response.url, response.text)
        assert "NUL" in response.text
    assert Candidate.select().count() == 0
    # A backslash followed by "u0000" is text like any other.
    typed = client.post(
        "/api/candidates", json={"name": "C:\\u0000dir", "email": "c@x.org"}, headers=headers
    )
    assert typed.status_code == 201, typed.text
    assert Candidate.get().name == "C:\\u0000dir"
