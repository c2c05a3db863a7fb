"""Compliance officers read the audit log in the browser, verified each time they look (what
came since the last view) and as a whole every night."""

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


def test_each_view_checks_what_came_since_and_the_nightly_check_covers_the_rest(
    client: TestClient[Litestar], runtime: Runtime
) -> None:
    from appliance.db.models import AuditCheckpoint
    from appliance.worker import check_whole_audit_log

    make_user(runtime, "compliance", "cora@example.com")
    assert sign_in(client, "cora@example.com") == 303
    assert "has not been checked yet" in client.get("/audit").text
    runtime.audit.checkpoint()
    assert "Verified:" in client.get("/audit").text
    verified = client.app.state.audit_verified
    assert verified.seq == AuditCheckpoint.select().order_by(AuditCheckpoint.seq.desc()).get().seq
    assert check_whole_audit_log(runtime).ok
    assert "Whole log checked" in client.get("/audit").text
    # An entry before the verified checkpoint is changed: the view does not walk there again,
    # the nightly check does, and health turns red.
    AuditEntry.update(actor="nobody@example.com").where(AuditEntry.seq == 2).execute()
    assert "Verified:" in client.get("/audit").text
    assert not check_whole_audit_log(runtime).ok
    page = client.get("/audit").text
    assert "The whole log FAILED its check" in page and "entry 2" in page
    health = client.get("/healthz")
    assert health.status_code == 503
    assert {c["name"]: c["ok"] for c in health.json()["components"]}["audit_log"] is False
    # Past the verified checkpoint, each view still walks every new entry.
    newest = AuditEntry.select().order_by(AuditEntry.seq.desc()).get().seq
    AuditEntry.update(actor="nobody@example.com").where(AuditEntry.seq == newest).execute()
    assert f"Verification FAILED at entry {newest}" in client.get("/audit").text
