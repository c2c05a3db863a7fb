"""Compliance officers read the audit log in the browser, verified each time they look."""

from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry
from appliance.runtime import Runtime
from tests.conftest import make_user, sign_in


def test_the_audit_page_verifies_filters_and_is_itself_audited(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "compliance", "cora@example.com")
    runtime.audit.record("ivy@example.com", "recording.open", "recording:7", {"purpose": "review"})
    assert sign_in(client, "cora@example.com") == 303
    page = client.get("/audit", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Verified:" in page.text and "recording.open" in page.text
    only = client.get("/audit?subject=recording:7", headers={"accept": "text/html"})
    assert "recording:7" in only.text and "auth.signin" not in only.text
    views = AuditEntry.select().where(AuditEntry.action == "audit.view")
    assert [v.actor for v in views] == ["cora@example.com", "cora@example.com"]


def test_a_tampered_log_is_reported_on_the_page(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    make_user(runtime, "compliance", "cora@example.com")
    assert sign_in(client, "cora@example.com") == 303
    AuditEntry.update(actor="nobody@example.com").where(AuditEntry.seq == 2).execute()
    page = client.get("/audit", headers={"accept": "text/html"})
    assert "Verification FAILED at entry 2" in page.text
