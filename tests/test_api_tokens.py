"""API tokens: made by an administrator and shown once, kept hashed; a call needs a live token
with the route's scope, in the Authorization header only; every call is audited under the
token's name. The first versioned route, interviews, pages by cursor."""

from __future__ import annotations

import datetime as dt
import re

from litestar import Litestar
from litestar.testing import TestClient

from appliance.core.ratelimit import AddressLimiter
from appliance.db.database import utcnow
from appliance.db.models import (
    ApiToken,
    AuditEntry,
    Candidate,
    Consent,
    IdempotentRequest,
    Interview,
    User,
)
from appliance.runtime import Runtime
from appliance.staff import api_tokens, idempotency
from tests.conftest import make_user, post_form, sign_in


def _token(runtime: Runtime, scopes: list[str], name: str = "ATS") -> str:
    admin = User.get_or_none(User.email == "admin@example.com") or make_user(runtime, "admin")
    return api_tokens.create(runtime.audit, admin, name, scopes, 30)[1]


def _interviews(count: int) -> list[Interview]:
    candidate = Candidate.create(name="Cara", email="cara@example.com")
    start = dt.datetime(2027, 1, 4, 9, 0)
    return [
        Interview.create(candidate=candidate, starts_at=start + dt.timedelta(days=n),
                         ends_at=start + dt.timedelta(days=n, hours=1), timezone="Europe/Paris")
        for n in range(count)
    ]  # fmt: skip


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}", "accept": "application/json"}


def test_an_administrator_makes_a_token_that_is_shown_once_and_kept_hashed(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    made = post_form(client, "/admin/api-tokens", {"name": "Greenhouse", "days": "90",
                                                  "scope-interviews:read": "yes"})  # fmt: skip
    assert made.status_code == 200
    secret = re.search(r'<code id="new-token">(parley_[\w-]+)</code>', made.text)
    assert secret is not None
    listed = client.get("/admin/api-tokens").text
    assert "Greenhouse" in listed and secret.group(1) not in listed and "never" in listed
    (row,) = ApiToken.select()
    assert row.token_hash != secret.group(1) and secret.group(1)[7:] not in row.token_hash
    assert row.scopes == "interviews:read"
    refused = post_form(client, "/admin/api-tokens", {"name": "Greenhouse", "days": "90",
                                                     "scope-interviews:read": "yes"})  # fmt: skip
    assert refused.status_code == 400 and "exists" in refused.text
    none = post_form(client, "/admin/api-tokens", {"name": "No scopes", "days": "90"})
    assert none.status_code == 400 and "choose at least one" in none.text
    long = post_form(client, "/admin/api-tokens", {"name": "Forever", "days": "5000",
                                                  "scope-interviews:read": "yes"})  # fmt: skip
    assert long.status_code == 400 and "between 1 and 730 days" in long.text


def test_interviews_page_by_cursor_and_every_call_is_audited(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    first, second, third = _interviews(3)
    Consent.create(interview=second, kind="recording", granted=True, text_shown="t")
    secret = _token(runtime, ["interviews:read"])
    page = client.get("/api/v1/interviews?limit=2", headers=bearer(secret))
    assert page.status_code == 200, page.text
    body = page.json()
    assert [i["id"] for i in body["items"]] == [first.id, second.id]
    assert body["items"][0]["starts_at"] == "2027-01-04T09:00:00Z"
    assert body["items"][0]["timezone"] == "Europe/Paris"
    assert body["items"][1]["consent"] == {"recording": True, "ai_assistance": None}
    rest = client.get(f"/api/v1/interviews?limit=2&after={body['next_cursor']}",
                      headers=bearer(secret)).json()  # fmt: skip
    assert [i["id"] for i in rest["items"]] == [third.id] and rest["next_cursor"] is None
    one = client.get(f"/api/v1/interviews/{third.id}", headers=bearer(secret))
    assert one.status_code == 200 and one.json()["status"] == "scheduled"
    assert client.get("/api/v1/interviews/999999", headers=bearer(secret)).status_code == 404
    calls = AuditEntry.select().where(AuditEntry.action == "api.call")
    assert {c.actor for c in calls} == {"token:ATS"} and calls.count() == 4
    assert ApiToken.get(ApiToken.name == "ATS").last_used_at is not None
    for bad in ("limit=0", "limit=101", "status=lost", "after=-1"):
        assert client.get(f"/api/v1/interviews?{bad}", headers=bearer(secret)).status_code == 400


def test_a_token_must_be_live_scoped_and_in_the_header(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    _interviews(1)
    narrow = _token(runtime, ["scorecards:read"], "Scorecards only")
    refused = client.get("/api/v1/interviews", headers=bearer(narrow))
    assert refused.status_code == 403 and "lacks the scope interviews:read" in refused.text
    reader = _token(runtime, ["interviews:read"])
    assert client.get("/api/v1/interviews", headers=bearer(reader)).status_code == 200
    # A route for browsers only does not take a token, whatever its scopes.
    assert client.get("/api/candidates", headers=bearer(reader)).status_code == 403
    assert client.get(f"/api/v1/interviews?access_token={reader}").status_code == 401
    forged = "parley_" + "A" * 43
    assert client.get("/api/v1/interviews", headers=bearer(forged)).status_code == 401
    admin = User.get(User.email == "admin@example.com")
    api_tokens.revoke(runtime.audit, admin, ApiToken.get(ApiToken.name == "ATS").id)
    revoked = client.get("/api/v1/interviews", headers=bearer(reader))
    assert revoked.status_code == 401 and "unknown, expired or revoked" in revoked.text
    late = _token(runtime, ["interviews:read"], "Expired")
    ApiToken.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(
        ApiToken.name == "Expired"
    ).execute()
    assert client.get("/api/v1/interviews", headers=bearer(late)).status_code == 401
    revocations = AuditEntry.select().where(AuditEntry.action == "api_token.revoke")
    assert [r.actor for r in revocations] == ["admin@example.com"]


def test_errors_are_problem_details_and_a_busy_token_is_told_when_to_come_back(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    secret = _token(runtime, ["interviews:read"])
    missing = client.get("/api/v1/interviews/999999", headers=bearer(secret))
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {"type": "about:blank", "title": "Not Found", "status": 404,
                              "detail": "no interview 999999"}  # fmt: skip
    # The framework's own refusals take the same form.
    wrong = client.delete("/api/v1/interviews", headers=bearer(secret))
    assert wrong.status_code == 405 and wrong.json()["title"] == "Method Not Allowed"
    assert wrong.headers["content-type"] == "application/problem+json"
    client.app.state.api_calls = AddressLimiter(per_minute=6, burst=3)
    for _ in range(3):
        assert client.get("/api/v1/interviews", headers=bearer(secret)).status_code == 200
    busy = client.get("/api/v1/interviews", headers=bearer(secret))
    assert busy.status_code == 429 and busy.json()["status"] == 429
    # Six a minute: the next call is allowed ten seconds after the burst was spent.
    assert 1 <= int(busy.headers["retry-after"]) <= 10
    other = _token(runtime, ["interviews:read"], "Another ATS")
    assert client.get("/api/v1/interviews", headers=bearer(other)).status_code == 200


def test_signed_in_hiring_staff_read_it_too_and_interviewers_do_not(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    _interviews(1)
    make_user(runtime, "recruiter")
    make_user(runtime, "interviewer", "ivy@example.com")
    assert sign_in(client, "recruiter@example.com") == 303
    assert client.get("/api/v1/interviews").status_code == 200
    client.cookies.clear()
    assert sign_in(client, "ivy@example.com") == 303
    assert client.get("/api/v1/interviews").status_code == 403


def test_a_candidate_is_made_then_updated_by_external_id_and_a_retry_makes_nothing_twice(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    writer = _token(runtime, ["candidates:write"], "Greenhouse")
    sent = {"external_id": "gh-4711", "name": "Cara Diaz", "email": "Cara@Example.com"}
    made = client.post("/api/v1/candidates", json=sent, headers=bearer(writer))
    assert made.status_code == 201, made.text
    assert made.json()["created"] is True and made.json()["email"] == "cara@example.com"
    again = client.post(
        "/api/v1/candidates", json={**sent, "phone": "+33 1 23"}, headers=bearer(writer)
    )
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["id"] == made.json()["id"] and again.json()["phone"] == "+33 1 23"
    assert Candidate.select().count() == 1
    entries = AuditEntry.select().where(AuditEntry.action.startswith("candidate."))
    assert [(e.actor, e.action) for e in entries] == [
        ("token:Greenhouse", "candidate.create"), ("token:Greenhouse", "candidate.update"),
    ]  # fmt: skip

    keyed = {**bearer(writer), "idempotency-key": "retry-1"}
    other = {"external_id": "gh-4712", "name": "Omar Haddad", "email": "omar@example.com"}
    first = client.post("/api/v1/candidates", json=other, headers=keyed)
    retry = client.post("/api/v1/candidates", json=other, headers=keyed)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.json() == retry.json() and Candidate.select().count() == 2
    reused = client.post("/api/v1/candidates", json={**other, "name": "Omar H."}, headers=keyed)
    assert reused.status_code == 409 and "different request" in reused.text

    reader = _token(runtime, ["interviews:read"], "Reader")
    assert client.post("/api/v1/candidates", json=sent, headers=bearer(reader)).status_code == 403
    refused = (
        {**sent, "external_id": ""}, {**sent, "external_id": "gh\n4711"},
        {**sent, "external_id": "gh\x854711"}, {**sent, "external_id": "x" * 201},
        {**sent, "email": "x" * 300}, {"name": "No id"},
    )  # fmt: skip
    for bad in refused:
        answer = client.post("/api/v1/candidates", json=bad, headers=bearer(writer))
        assert answer.status_code == 400, bad
    huge = client.post(
        "/api/v1/candidates", content=b"{" + b" " * (3 << 20), headers=bearer(writer)
    )
    assert huge.status_code in (400, 413)


def test_a_browser_session_cannot_write_through_the_token_route(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    answer = post_form(client, "/api/v1/candidates", {"external_id": "x"})
    assert answer.status_code == 403 and not Candidate.select().exists()
    assert "API tokens only" in answer.text


def test_kept_answers_go_after_a_day(runtime: Runtime) -> None:
    secret = _token(runtime, ["candidates:write"], "Old")
    token = api_tokens.authenticate(secret)
    assert token is not None
    idempotency.remember(token.id, "k1", "d1", 201, {"id": 1})
    idempotency.remember(token.id, "k2", "d2", 201, {"id": 2})
    IdempotentRequest.update(created_at=utcnow() - idempotency.KEPT).where(
        IdempotentRequest.key == "k1"
    ).execute()
    assert idempotency.replay(token.id, "k1", "d1") is None  # past its day: not replayed
    assert idempotency.purge() == 1
    assert [r.key for r in IdempotentRequest.select()] == ["k2"]
    assert idempotency.replay(token.id, "k2", "d2") == (201, {"id": 2})
