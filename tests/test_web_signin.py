"""First-run setup, sign-in, CSRF and session cookies through the real web app."""

from urllib.parse import urlparse

import pyotp
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, Position, Session, User
from appliance.runtime import Runtime
from tests.conftest import PASSWORD, csrf_token, make_user, post_form, sign_in


def _setup_form(
    client: TestClient[Litestar], path: str, email: str = "admin@example.com"
) -> object:
    token = csrf_token(client, path)
    return client.post(
        path,
        data={
            "_csrf_token": token,
            "email": email,
            "name": "Ada",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
        headers={"accept": "text/html"},
        follow_redirects=False,
    )


def test_setup_link_creates_the_first_admin_once(
    client: TestClient[Litestar], setup_url: str
) -> None:
    path = urlparse(setup_url).path
    response = _setup_form(client, path)
    assert response.status_code == 303
    admin = User.get(User.email == "admin@example.com")
    assert admin.role == "admin"
    # The wizard goes on to the settings only an administrator can make.
    assert response.headers["location"] == "/admin/settings?welcome=1"
    wizard = client.get(response.headers["location"]).text
    assert "Your administrator account is ready" in wizard and 'name="hostname"' in wizard
    assert client.get("/", headers={"accept": "text/html"}).text.count("Users") >= 1
    again = client.get(path, headers={"accept": "text/html"})
    assert again.status_code == 404 and "no longer valid" in again.text
    replay = client.post(
        path,
        data={
            "_csrf_token": client.cookies["parley_csrf"],
            "email": "evil@example.com",
            "name": "",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
        headers={"accept": "text/html"},
    )
    assert replay.status_code == 404
    assert not User.select().where(User.email == "evil@example.com").exists()


def test_setup_with_a_wrong_token_is_refused(client: TestClient[Litestar], setup_url: str) -> None:
    response = client.get("/setup/not-the-token", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert User.select().count() == 0


def test_wrong_password_shows_an_error_and_sets_no_session(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com", "not the password") == 401
    assert Session.select().count() == 0
    assert "parley_session" not in client.cookies
    assert sign_in(client, "recruiter@example.com") == 303
    assert Session.select().count() == 1
    assert client.get("/positions", headers={"accept": "text/html"}).status_code == 200


def test_session_cookie_is_httponly_and_samesite(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"_csrf_token": token, "email": "recruiter@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "parley_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_login_requires_the_totp_code_when_enabled(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    user = make_user(runtime, "recruiter")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.save()
    assert sign_in(client, "recruiter@example.com") == 401
    assert sign_in(client, "recruiter@example.com", code=pyotp.TOTP(secret).now()) == 303


def test_missing_or_forged_csrf_token_changes_nothing(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    entries = AuditEntry.select().count()
    missing = client.post("/positions", data={"title": "Engineer"}, headers={"accept": "text/html"})
    forged = client.post(
        "/positions",
        data={"title": "Engineer", "_csrf_token": "0" * 128},
        headers={"accept": "text/html"},
    )
    api = client.post("/api/positions", json={"title": "Engineer"})
    assert (missing.status_code, forged.status_code, api.status_code) == (403, 403, 403)
    assert Position.select().count() == 0
    assert AuditEntry.select().count() == entries


def test_tampered_session_cookie_is_treated_as_signed_out(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    real = client.cookies["parley_session"]
    client.cookies.set("parley_session", real[:-2] + ("AA" if real[-2:] != "AA" else "BB"))
    page = client.get("/positions", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/positions").status_code == 401
    assert Session.select().count() == 1


def test_sign_out_ends_the_server_side_session(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    token = client.cookies["parley_session"]
    assert post_form(client, "/logout", {}).status_code == 303
    assert Session.select().count() == 0
    client.cookies.set("parley_session", token)
    assert client.get("/api/positions").status_code == 401


def test_login_redirect_target_must_be_local(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={
            "_csrf_token": token,
            "email": "recruiter@example.com",
            "password": PASSWORD,
            "next": "//evil.example.com/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_enabling_totp_from_the_account_page(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "interviewer")
    assert sign_in(client, "interviewer@example.com") == 303
    secret = pyotp.random_base32()
    bad = post_form(client, "/account/totp", {"secret": secret, "code": "000000"})
    assert bad.status_code == 400
    assert User.get().totp_secret is None
    good = post_form(client, "/account/totp", {"secret": secret, "code": pyotp.TOTP(secret).now()})
    assert good.status_code == 303
    assert User.get().totp_secret == secret


def test_healthz_and_openapi_are_served(client: TestClient[Litestar]) -> None:
    from openapi_spec_validator import validate

    health = client.get("/healthz")
    assert health.status_code == 200
    components = {c["name"]: c for c in health.json()["components"]}
    assert set(components) == {"database", "data_dir", "speech", "audit_log"}
    assert components["audit_log"]["detail"] == "not checked yet"
    assert components["speech"]["detail"] == "no model installed on CPU"  # no GPU, no model
    document = client.get("/schema").json()
    validate(document)
    assert "/api/kits" in document["paths"]
    # The test client is not on the box: without a token it is refused, with one it is not.
    refused = client.get("/metrics")
    assert refused.status_code == 403 and "[metrics] token" in refused.text
    client.app.state.runtime.config.metrics.token = "scrape-me"
    metrics = client.get("/metrics", headers={"authorization": "Bearer scrape-me"})
    assert metrics.status_code == 200 and "parley_audit_entries" in metrics.text
    assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401


def test_a_form_posted_from_another_site_is_refused_even_with_a_valid_token(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    token = csrf_token(client, "/positions")

    def post(title: str, **headers: str) -> int:
        return client.post(
            "/positions",
            data={"title": title, "_csrf_token": token},
            headers={"accept": "text/html", **headers},
            follow_redirects=False,
        ).status_code

    assert post("A", origin="https://evil.example") == 403
    assert post("B", origin="http://127.0.0.1:8443") == 403  # another port is another origin
    assert post("C", **{"sec-fetch-site": "cross-site"}) == 403
    assert post("D", **{"sec-fetch-site": "same-site"}) == 403
    assert Position.select().count() == 0
    # The page's own origin, and the "null" a no-referrer page sends, are the token's to judge.
    assert post("E", origin="http://127.0.0.1", **{"sec-fetch-site": "same-origin"}) == 303
    assert post("F", origin="null") == 303
    assert [p.title for p in Position.select().order_by(Position.id)] == ["E", "F"]


def test_over_https_cookies_are_host_only_and_browsers_are_told_to_stay(runtime: Runtime) -> None:
    from appliance.web.app import create_app

    runtime.config.web.public_url = "https://parley.example.com"
    make_user(runtime, "recruiter")
    with TestClient(app=create_app(runtime), base_url="https://parley.example.com") as client:
        form = client.get("/login", headers={"accept": "text/html"})
        assert form.headers["strict-transport-security"] == "max-age=31536000"
        assert "__Host-parley_csrf=" in form.headers["set-cookie"]
        response = client.post(
            "/login",
            data={
                "_csrf_token": csrf_token(client),
                "email": "recruiter@example.com",
                "password": PASSWORD,
            },
            headers={"origin": "https://parley.example.com"},
            follow_redirects=False,
        )
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("__host-parley_session=") and "secure" in cookie
        assert "path=/" in cookie and "domain" not in cookie
        assert client.get("/positions", headers={"accept": "text/html"}).status_code == 200
        # A session token planted under the plain name counts for nothing here.
        planted = client.cookies["__Host-parley_session"]
        client.cookies.clear()
        client.cookies.set("parley_session", planted)
        page = client.get("/positions", headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_csrf_token_from_outside_the_session_cannot_write(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    """A valid token an attacker fetched for themselves and planted in the victim's browser
    (or one from an earlier sign-in) no longer carries a signed-in write."""
    make_user(runtime, "recruiter")
    with TestClient(app=client.app, base_url="http://127.0.0.1") as attacker:
        planted = csrf_token(attacker)  # valid: signed with the box's CSRF secret
    before_sign_in = csrf_token(client)
    assert sign_in(client, "recruiter@example.com") == 303
    own = client.cookies["parley_csrf"]
    assert own not in (planted, before_sign_in)  # signing in issued the session's own

    def plant(token: str) -> None:
        client.cookies.delete("parley_csrf")
        client.cookies.set("parley_csrf", token, domain="127.0.0.1")

    def create(token: str, title: str) -> int:
        plant(token)
        headers = {"x-csrftoken": token, "accept": "application/json"}
        return client.post("/api/positions", json={"title": title}, headers=headers).status_code

    assert create(planted, "Planted") == 403
    assert create(before_sign_in, "Stale") == 403
    assert create(own, "Own") == 201
    assert [p.title for p in Position.select()] == ["Own"]
    # A page read with a foreign token gets the session's, in the page and as the cookie.
    plant(planted)
    page = client.get("/positions", headers={"accept": "text/html"})
    assert f'value="{own}"' in page.text and client.cookies["parley_csrf"] == own
    assert post_form(client, "/positions", {"title": "From the form"}).status_code == 303
    # Signing in again starts a new session: the first session's token is refused.
    assert sign_in(client, "recruiter@example.com") == 303
    assert client.cookies["parley_csrf"] != own
    assert create(own, "Old session") == 403
