"""Administrators manage staff accounts from the Users page."""

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
    assert "unknown role" in response.text and 'value="eve@example.com"' in response.text
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
