"""Single sign-on against a real OpenID Connect provider on loopback (oidc-provider-mock): the
authorization code flow with PKCE, accounts made at first sign-in with the role their groups
map to, refused (and their sessions ended) once no group maps; password sign-in limited to
break-glass accounts; a provider that is down; and ID tokens that are forged, for another
audience, expired or carry another nonce, all refused, as is a replayed state."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Litestar
from litestar.testing import TestClient
from oidc_provider_mock import run_server_in_thread

from appliance.db.models import AuditEntry, Session, SsoAttempt, User
from appliance.runtime import Runtime
from appliance.staff import single_sign_on
from appliance.staff.single_sign_on import SignInRefused, verify_id_token
from tests.conftest import PASSWORD, csrf_token, free_port, make_user, sign_in

CLIENT_ID = "parley"


@pytest.fixture
def provider(runtime: Runtime) -> Iterator[str]:
    """A running provider, and the box configured to sign staff in with it."""
    with run_server_in_thread(require_nonce=True) as server:
        issuer = f"http://localhost:{server.server_port}"
        settings = runtime.config.oidc
        settings.issuer, settings.client_id, settings.client_secret = issuer, CLIENT_ID, "s3cret"
        settings.roles = "parley-admins=admin, parley-hiring=recruiter, parley-panel=interviewer"
        single_sign_on.forget_provider()
        yield issuer
    single_sign_on.forget_provider()


def _person(issuer: str, sub: str, groups: list[str], email: str | None = None) -> None:
    claims: dict[str, Any] = {"email": email or f"{sub}@example.com", "email_verified": True,
                              "name": sub.title(), "groups": groups}  # fmt: skip
    assert httpx.put(f"{issuer}/users/{sub}", json=claims).status_code in (200, 204)


def _local(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _through_provider(client: TestClient[Litestar], sub: str, next_path: str = "/") -> str:
    """Start a sign-in, let the provider sign `sub` in: the callback address it sends back."""
    start = client.get(f"/login/sso?next={next_path}", follow_redirects=False)
    assert start.status_code == 303, start.text
    target = start.headers["location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == ["http://127.0.0.1:8080/login/sso/callback"]
    answer = httpx.post(target, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return _local(answer.headers["location"])


def test_staff_sign_in_with_the_provider_and_get_the_role_their_groups_map_to(
    runtime: Runtime, client: TestClient[Litestar], provider: str
) -> None:
    assert 'id="sso"' in client.get("/login").text
    _person(provider, "rita", ["staff", "parley-hiring"])
    callback = _through_provider(client, "rita", "/candidates")
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/candidates", done.text
    rita = User.get(User.email == "rita@example.com")
    assert rita.role == "recruiter" and rita.oidc_subject == "rita" and rita.name == "Rita"
    assert client.get("/candidates").status_code == 200
    # The same answer again is refused: the state was used.
    client.cookies.clear()
    again = client.get(callback, follow_redirects=False)
    assert again.status_code == 403 and "not started in this browser" in again.text
    assert not SsoAttempt.select().exists()

    # Her groups change: the next sign-in gives the new role.
    _person(provider, "rita", ["parley-admins", "parley-hiring"])
    assert client.get(_through_provider(client, "rita"), follow_redirects=False).status_code == 303
    assert User.get(User.email == "rita@example.com").role == "admin"
    assert User.select().where(User.email == "rita@example.com").count() == 1
    # Her password is not usable.
    client.cookies.clear()
    assert sign_in(client, "rita@example.com", "!") == 401


def test_a_user_no_group_maps_is_refused_and_their_sessions_end(
    runtime: Runtime, client: TestClient[Litestar], provider: str
) -> None:
    _person(provider, "ivo", ["parley-panel"])
    assert client.get(_through_provider(client, "ivo"), follow_redirects=False).status_code == 303
    ivo = User.get(User.email == "ivo@example.com")
    assert ivo.role == "interviewer" and Session.select().where(Session.user == ivo).count() == 1
    _person(provider, "ivo", ["staff"])
    other = TestClient(app=client.app, base_url="http://127.0.0.1")
    with other:
        refused = other.get(_through_provider(other, "ivo"), follow_redirects=False)
    assert refused.status_code == 403 and "no group that has a role" in refused.text
    assert Session.select().where(Session.user == ivo).count() == 0
    assert client.get("/interviews").status_code == 401  # signed out
    failed = AuditEntry.select().where(AuditEntry.action == "auth.signin_failed")
    assert [e.actor for e in failed] == ["ivo@example.com"]
    # Someone new in no mapped group gets no account.
    _person(provider, "nora", ["staff"])
    client.cookies.clear()
    assert client.get(_through_provider(client, "nora"), follow_redirects=False).status_code == 403
    assert not User.select().where(User.email == "nora@example.com").exists()


def test_passwords_can_be_kept_for_break_glass_accounts_and_work_with_the_provider_down(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "admin")
    make_user(runtime, "recruiter")
    settings = runtime.config.oidc
    # A provider nobody answers at.
    settings.issuer, settings.client_id = f"http://127.0.0.1:{free_port()}", CLIENT_ID
    settings.password_signin, settings.break_glass = "break_glass", "Admin@Example.com"
    single_sign_on.forget_provider()
    down = client.get("/login/sso", follow_redirects=False)
    assert down.status_code == 503 and "cannot be reached" in down.text
    token = csrf_token(client)
    refused = client.post("/login", data={"_csrf_token": token, "email": "recruiter@example.com",
                                          "password": PASSWORD, "code": ""})  # fmt: skip
    assert refused.status_code == 403 and "break-glass" in refused.text
    assert sign_in(client, "admin@example.com") == 303
    settings.password_signin = "everyone"
    client.cookies.clear()
    assert sign_in(client, "recruiter@example.com") == 303


def test_the_provider_saying_no_is_shown_and_nothing_else_happens(
    runtime: Runtime, client: TestClient[Litestar], provider: str
) -> None:
    start = client.get("/login/sso", follow_redirects=False)
    denied = httpx.post(start.headers["location"], data={"action": "deny"},
                        follow_redirects=False)  # fmt: skip
    answer = client.get(_local(denied.headers["location"]), follow_redirects=False)
    assert answer.status_code == 403 and "access_denied" in answer.text
    assert not User.select().where(User.oidc_subject.is_null(False)).exists()


# ID tokens made here with a key of our own: one the provider signed is checked above.
KEY = RSAKey.generate_key(2048, parameters={"kid": "ours"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "ours"})
ISSUER = "https://id.example.com"


def _id_token(key: RSAKey = KEY, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
              "nonce": "n-1"} | changes  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": "ours"}, claims, key)


KEYS = {"keys": [KEY.as_dict(private=False)]}


def test_a_good_id_token_passes() -> None:
    assert verify_id_token(_id_token(), KEYS, ISSUER, CLIENT_ID, "n-1")["sub"] == "u1"


def _expired() -> dict[str, Any]:
    return {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}


# Each token is made when its test runs: made at collection, a good one could expire first.
@pytest.mark.parametrize(
    ("make", "nonce", "why"),
    [
        (lambda: _id_token(OTHER), "n-1", "signature"),
        (lambda: _id_token(aud="another-app"), "n-1", "aud"),
        (lambda: _id_token(iss="https://evil.example.com"), "n-1", "iss"),
        (lambda: _id_token(**_expired()), "n-1", "expired"),
        (lambda: _id_token(), "n-2", "nonce"),
        (lambda: _id_token(nonce=None), "n-1", "nonce"),
        (lambda: "not.a.token", "n-1", "refused"),
        (lambda: _id_token()[:-8] + "AAAAAAAA", "n-1", "signature"),
    ],
)
def test_a_forged_misaddressed_expired_or_replayed_id_token_is_refused(
    make: Callable[[], str], nonce: str, why: str
) -> None:
    with pytest.raises(SignInRefused, match=why):
        verify_id_token(make(), KEYS, ISSUER, CLIENT_ID, nonce)
