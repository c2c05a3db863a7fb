"""Administrators manage staff accounts from the Users page."""

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, User
from appliance.runtime import Runtime
from tests.conftest import PASSWORD, make_user, post_form, sign_in


def test_admin_adds_a_user_and_changes_their_role(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    added = post_form(
        client,
        "/admin/users",
        {"email": "ivan@example.com", "name": "Ivan", "role": "interviewer", "password": PASSWORD},
    )
    assert added.status_code == 303
    ivan = User.get(User.email == "ivan@example.com")
    changed = post_form(client, f"/admin/users/{ivan.id}/role", {"role": "recruiter"})
    assert changed.status_code == 303
    assert User.get_by_id(ivan.id).role == "recruiter"
    assert AuditEntry.select().where(AuditEntry.action == "user.role_change").count() == 1


def test_a_bad_new_user_form_keeps_the_input_but_not_the_password(
    client: TestClient[Litestar],
    runtime: Runtime,
) -> None:
    make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    response = post_form(
        client,
        "/admin/users",
        {"email": "eve@example.com", "name": "Eve", "role": "wizard", "password": PASSWORD},
    )
    assert response.status_code == 400
    assert "Unknown role" in response.text and 'value="eve@example.com"' in response.text
    assert PASSWORD not in response.text
    assert not User.select().where(User.email == "eve@example.com").exists()


def test_the_last_admin_cannot_deactivate_themselves(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    admin = make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    response = post_form(client, f"/admin/users/{admin.id}/active", {"active": "false"})
    assert response.status_code == 400
    assert "last active administrator" in response.text
    assert User.get_by_id(admin.id).active


def test_a_password_an_admin_chose_must_be_replaced_before_anything_else(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "admin")
    assert sign_in(client, "admin@example.com") == 303
    form = client.get("/admin/users").text
    assert '<option value="interviewer" selected>' in form  # the least privilege by default
    added = post_form(
        client,
        "/admin/users",
        {"email": "ivan@example.com", "name": "Ivan", "role": "recruiter", "password": PASSWORD},
    )
    assert "Added ivan@example.com" in client.get(added.headers["location"]).text

    ivan, other_device = (TestClient(app=client.app, base_url="http://127.0.0.1") for _ in "ab")
    with ivan, other_device:
        assert sign_in(ivan, "ivan@example.com") == 303
        assert sign_in(other_device, "ivan@example.com") == 303
        home = ivan.get("/", headers={"accept": "text/html"}, follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, "/account")
        api = ivan.get("/api/positions")
        assert api.status_code == 403 and "choose your own password" in api.text
        assert "Choose your own password to go on" in ivan.get("/account").text

        def change(current: str, new: str, again: str) -> httpx.Response:
            return post_form(
                ivan,
                "/account/password",
                {"current_password": current, "new_password": new, "new_password_again": again},
            )

        for current, new, again, message in (
            ("wrong password!", "a new passphrase", "a new passphrase", "current password is not"),
            (PASSWORD, "a new passphrase", "another passphrase", "two new passwords differ"),
            (PASSWORD, PASSWORD, PASSWORD, "different from the current"),
            (PASSWORD, "short", "short", "at least 10 characters long"),
        ):
            refused = change(current, new, again)
            assert refused.status_code == 400 and refused.text.count(message) == 1, message
        assert User.get(User.email == "ivan@example.com").must_change_password

        changed = change(PASSWORD, "a new passphrase", "a new passphrase")
        assert (changed.status_code, changed.headers["location"]) == (
            303,
            "/account?password=changed",
        )
        assert "Your password is changed." in ivan.get("/account?password=changed").text
        assert ivan.get("/api/positions").status_code == 200
        # The session on the other device, opened with the administrator's password, is over.
        assert other_device.get("/api/positions").status_code == 401
    assert sign_in(client, "ivan@example.com", "a new passphrase") == 303
    entry = AuditEntry.get(AuditEntry.action == "user.password_change")
    assert (entry.actor, entry.subject) == ("ivan@example.com", "ivan@example.com")
