"""Every route states who may reach it, and the guard enforces exactly that.

A new route must be added to EXPECTED with its roles, or this test fails.
"""

import re

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import Role, User
from appliance.runtime import Runtime
from appliance.staff.sessions import start_session
from appliance.web.access import PUBLIC, SESSION_COOKIE, route_rule
from appliance.web.app import create_app

A, R = Role.ADMIN, Role.RECRUITER
STAFF = set(Role)
HIRING = {A, R}

EXPECTED: dict[tuple[str, str], set[Role] | str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/sso"): PUBLIC,
    ("GET", "/login/sso/callback"): PUBLIC,
    ("POST", "/logout"): STAFF,
    ("GET", "/account"): STAFF,
    ("POST", "/account/password"): STAFF,
    ("POST", "/account/totp"): STAFF,
    ("POST", "/account/totp/disable"): STAFF,
    ("GET", "/setup/{token:str}"): PUBLIC,
    ("POST", "/setup/{token:str}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    ("GET", "/admin/users"): {A},
    ("GET", "/admin/tls"): {A},
    ("GET", "/admin/settings"): {A},
    ("POST", "/admin/settings"): {A},
    ("POST", "/admin/settings/recipients"): {A},
    ("POST", "/admin/settings/scheduling"): {A},
    ("POST", "/admin/tls"): {A},
    ("POST", "/admin/tls/acme"): {A},
    ("GET", "/.well-known/acme-challenge/{token:str}"): PUBLIC,
    ("POST", "/admin/users"): {A},
    ("POST", "/admin/users/{user_id:int}/role"): {A},
    ("POST", "/admin/users/{user_id:int}/active"): {A},
    ("GET", "/positions"): HIRING,
    ("POST", "/positions"): HIRING,
    ("GET", "/positions/{position_id:int}"): HIRING,
    ("POST", "/positions/{position_id:int}/team"): HIRING,
    ("POST", "/positions/{position_id:int}/team/{user_id:int}/remove"): HIRING,
    ("POST", "/positions/{position_id:int}"): HIRING,
    ("GET", "/api/positions"): HIRING,
    ("POST", "/api/positions"): HIRING,
    ("GET", "/api/positions/{position_id:int}"): HIRING,
    ("PUT", "/api/positions/{position_id:int}"): HIRING,
    ("GET", "/candidates"): HIRING,
    ("POST", "/candidates"): HIRING,
    ("GET", "/candidates/{candidate_id:int}"): HIRING,
    ("POST", "/candidates/{candidate_id:int}"): HIRING,
    ("GET", "/recordings"): HIRING,
    ("GET", "/availability"): {A, R, Role.INTERVIEWER},
    ("GET", "/interviews"): {A, R, Role.INTERVIEWER},
    ("GET", "/interviews/{interview_id:int}"): {A, R, Role.INTERVIEWER},
    ("GET", "/interviews/{interview_id:int}/review"): {A, R, Role.INTERVIEWER},
    ("POST", "/interviews/{interview_id:int}/scorecard"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/interviews/{interview_id:int}/scorecards"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/interviews/{interview_id:int}/scorecard/submit"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/interviews/{interview_id:int}/scorecard/amend"): {A, R, Role.INTERVIEWER},
    ("GET", "/candidates/{candidate_id:int}/debrief"): {A, R, Role.INTERVIEWER},
    ("POST", "/candidates/{candidate_id:int}/decision"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/candidates/{candidate_id:int}/decisions"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/candidates/{candidate_id:int}/decisions"): {A, R, Role.INTERVIEWER},
    ("POST", "/positions/{position_id:int}/manager"): HIRING,
    ("GET", "/api/recordings/{recording_id:int}/composite"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/recordings/{recording_id:int}/composite"): {A, R, Role.INTERVIEWER},
    ("POST", "/recordings/{recording_id:int}/composite"): {A, R, Role.INTERVIEWER},
    ("GET", "/recordings/{recording_id:int}/composite.webm"): {A, R, Role.INTERVIEWER},
    ("GET", "/calibration"): HIRING,
    ("GET", "/calibration.csv"): HIRING,
    ("GET", "/search"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/recordings/{recording_id:int}/comments"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/recordings/{recording_id:int}/comments"): {A, R, Role.INTERVIEWER},
    ("PUT", "/api/comments/{comment_id:int}"): {A, R, Role.INTERVIEWER},
    ("DELETE", "/api/comments/{comment_id:int}"): {A, R, Role.INTERVIEWER},
    ("POST", "/interviews/{interview_id:int}/reschedule"): HIRING,
    ("POST", "/interviews/{interview_id:int}/cancel"): HIRING,
    ("POST", "/interviews/{interview_id:int}/ai-consent/withdraw"): HIRING,
    ("GET", "/compliance/impact-ratio"): {Role.ADMIN, Role.COMPLIANCE},
    ("GET", "/admin/api-tokens"): {A},
    ("POST", "/admin/api-tokens"): {A},
    ("POST", "/admin/api-tokens/{token_id:int}/revoke"): {A},
    ("GET", "/admin/webhooks"): {A},
    ("POST", "/admin/webhooks"): {A},
    ("GET", "/admin/webhooks/{endpoint_id:int}"): {A},
    ("POST", "/admin/webhooks/{endpoint_id:int}/enabled"): {A},
    ("POST", "/admin/webhooks/{endpoint_id:int}/delete"): {A},
    ("POST", "/admin/webhooks/{endpoint_id:int}/deliveries/{delivery_id:int}/again"): {A},
    ("GET", "/api/v1/interviews"): HIRING,
    ("GET", "/api/v1/interviews/{interview_id:int}"): HIRING,
    ("POST", "/api/v1/candidates"): set(),  # API tokens only
    ("POST", "/api/v1/invitations"): set(),  # API tokens only
    ("GET", "/api/v1/webhooks"): {A},
    ("POST", "/api/v1/webhooks"): set(),  # API tokens only
    ("GET", "/api/v1/webhooks/{endpoint_id:int}/deliveries"): {A},
    ("DELETE", "/api/v1/webhooks/{endpoint_id:int}"): set(),  # API tokens only
    ("GET", "/api/v1/positions"): HIRING,
    ("GET", "/api/v1/interview-types"): HIRING,
    ("GET", "/api/v1/interviews/{interview_id:int}/recordings"): HIRING,
    ("GET", "/api/v1/interviews/{interview_id:int}/transcript"): HIRING,
    ("GET", "/api/v1/interviews/{interview_id:int}/scorecards"): HIRING,
    ("GET", "/api/v1/decisions"): HIRING,
    ("GET", "/api/v1/decisions/{decision_id:int}"): HIRING,
    ("POST", "/i/{token:str}/self-identification"): PUBLIC,
    ("POST", "/availability"): {A, R, Role.INTERVIEWER},
    ("POST", "/availability/time-off"): {A, R, Role.INTERVIEWER},
    ("POST", "/availability/calendar"): {A, R, Role.INTERVIEWER},
    ("POST", "/availability/calendar/disconnect"): {A, R, Role.INTERVIEWER},
    ("GET", "/users/{user_id:int}/availability"): HIRING,
    ("POST", "/users/{user_id:int}/availability"): HIRING,
    ("POST", "/users/{user_id:int}/availability/time-off"): HIRING,
    ("POST", "/availability/feed"): {A, R, Role.INTERVIEWER},
    ("GET", "/calendar/{token:str}"): PUBLIC,
    ("GET", "/interview-types"): HIRING,
    ("POST", "/interview-types"): HIRING,
    ("POST", "/candidates/{candidate_id:int}/invite"): HIRING,
    ("GET", "/api/interview-types/{interview_type_id:int}/outlook"): HIRING,
    ("GET", "/outbox"): HIRING,
    ("GET", "/outbox/{message_id:int}/invite.ics"): HIRING,
    ("POST", "/outbox/{message_id:int}/sent"): HIRING,
    ("GET", "/i/{token:str}"): PUBLIC,
    ("POST", "/i/{token:str}"): PUBLIC,
    ("POST", "/i/{token:str}/consent"): PUBLIC,
    ("POST", "/i/{token:str}/move"): PUBLIC,
    ("POST", "/i/{token:str}/cancel"): PUBLIC,
    ("GET", "/i/{token:str}/join"): PUBLIC,
    ("GET", "/i/{token:str}/lobby"): PUBLIC,
    ("POST", "/i/{token:str}/lobby"): PUBLIC,
    ("GET", "/interviews/{interview_id:int}/room"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/interviews/{interview_id:int}/room/token"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/interviews/{interview_id:int}/lobby"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/interviews/{interview_id:int}/lobby/admit"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/interviews/{interview_id:int}/scorecard"): {A, R, Role.INTERVIEWER},
    ("PUT", "/api/interviews/{interview_id:int}/scorecard"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/interviews/{interview_id:int}/end"): {A, R, Role.INTERVIEWER},
    ("POST", "/recordings/{recording_id:int}/transcription"): HIRING,
    ("GET", "/api/recordings/{recording_id:int}/transcription"): {A, R, Role.INTERVIEWER},
    ("POST", "/api/recordings/{recording_id:int}/transcription"): HIRING,
    ("GET", "/api/recordings/{recording_id:int}/transcript"): {A, R, Role.INTERVIEWER},
    ("GET", "/recordings/{recording_id:int}/media/{object_id:str}"): {A, R, Role.INTERVIEWER},
    ("GET", "/api/candidates"): HIRING,
    ("POST", "/api/candidates"): HIRING,
    ("GET", "/api/candidates/{candidate_id:int}"): HIRING,
    ("PUT", "/api/candidates/{candidate_id:int}"): HIRING,
    ("GET", "/kits"): HIRING,
    ("POST", "/kits"): HIRING,
    ("GET", "/kits/{kit_id:int}"): HIRING,
    ("POST", "/kits/{kit_id:int}"): HIRING,
    ("POST", "/kits/{kit_id:int}/competencies"): HIRING,
    ("POST", "/kits/{kit_id:int}/competencies/{competency_id:int}"): HIRING,
    ("POST", "/kits/{kit_id:int}/competencies/{competency_id:int}/delete"): HIRING,
    ("POST", "/kits/{kit_id:int}/competencies/{competency_id:int}/questions"): HIRING,
    ("POST", "/kits/{kit_id:int}/questions/{question_id:int}/delete"): HIRING,
    ("GET", "/api/kits"): HIRING,
    ("POST", "/api/kits"): HIRING,
    ("GET", "/api/kits/{kit_id:int}"): HIRING,
    ("GET", "/api/choices/{kind:str}"): HIRING,
    ("GET", "/audit"): {Role.ADMIN, Role.COMPLIANCE},
}


def _declared(app: Litestar) -> dict[tuple[str, str], object]:
    found: dict[tuple[str, str], object] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method in ("OPTIONS", "HEAD"):
                    continue
                rule = route_rule(handler)
                found[(method, route.path)] = rule if rule == PUBLIC or rule is None else set(rule)
    return found


def test_every_route_has_the_expected_rule(runtime: Runtime) -> None:
    declared = _declared(create_app(runtime))
    openapi_extras = {k for k in declared if k[1].startswith("/schema/") and k not in EXPECTED}
    assert all(declared[k] == PUBLIC for k in openapi_extras), "schema routes must be public"
    unlisted = set(declared) - set(EXPECTED) - openapi_extras
    assert not unlisted, f"routes without an entry in EXPECTED: {sorted(unlisted)}"
    assert not set(EXPECTED) - set(declared), "EXPECTED lists routes that no longer exist"
    wrong = {k: declared[k] for k in EXPECTED if declared[k] != EXPECTED[k]}
    assert not wrong, f"routes whose rule differs from EXPECTED: {wrong}"


def _concrete(path: str) -> str:
    path = re.sub(r"\{[a-z_]+:int\}", "999999", path)
    path = re.sub(r"\{[a-z_]+:str\}", "parley.css", path)  # one path segment
    return re.sub(r"\{[a-z_]+:path\}", "css/parley.css", path)


def _refused(response: httpx.Response) -> bool:
    """Refused by the guard (a route's own refusals, such as a bad candidate link, differ)."""
    if response.status_code == 403:
        return any(
            reason in response.text
            for reason in ("your role does not allow this page", "takes API tokens only")
        )
    return response.status_code == 401 and "sign in to continue" in response.text


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda k: f"{k[0]} {k[1]}")
def test_the_guard_enforces_the_rule(runtime: Runtime, key: tuple[str, str]) -> None:
    method, path = key
    rule = EXPECTED[key]
    # Sessions are made directly: hashing four passwords per route would only slow this down.
    tokens = {
        role: start_session(
            User.create(email=f"{role.value}@example.com", role=role.value, password_hash="!"),
            runtime.config.auth,
        )
        for role in Role
    }
    with TestClient(app=create_app(runtime)) as client:
        client.get("/login")  # a CSRF cookie, so state-changing requests reach the guard
        csrf = client.cookies["parley_csrf"]
        callers: dict[Role | None, str | None] = {None: None, **tokens}
        for role, token in callers.items():
            client.cookies.delete(SESSION_COOKIE)
            if token:
                client.cookies.set(SESSION_COOKIE, token)
            response = client.request(
                method,
                _concrete(path),
                headers={"accept": "application/json", "x-csrftoken": csrf},
                follow_redirects=False,
            )
            allowed = rule == PUBLIC or (role is not None and role in rule)
            assert _refused(response) != allowed, (role, method, path, response.status_code)
