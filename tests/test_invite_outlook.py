"""Inviting to a panel that has no time together: the recruiter is warned before sending, sees
who is the obstacle, and is told (e-mail and home page) when the candidate finds nothing to
book; the candidate's page says what happens next."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, Invitation, OutboxMessage, User
from appliance.hiring import scheduling
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.runtime import Runtime
from tests.conftest import make_user, post_form, sign_in


def test_a_panel_without_common_time_is_flagged_before_and_after_the_invitation(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "recruiter")
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    otto = make_user(runtime, "interviewer", "otto@example.com")
    every_day = [scheduling.WeeklyWindow(d, "08:00", "18:00") for d in range(7)]
    scheduling.set_availability(runtime.audit, "t", ivy, "UTC", every_day)
    kind = scheduling.create_interview_type(runtime.audit, "t", "Pair", 60, [ivy.id, otto.id])
    cara = create_candidate(runtime.audit, "t", CandidateFields("Cara", "cara@example.com"))
    sign_in(client, "recruiter@example.com")

    outlook = client.get(f"/api/interview-types/{kind.id}/outlook").json()
    assert (outlook["free"], outlook["first"]) == (0, None)
    by_name = {m["name"]: m for m in outlook["members"]}
    assert (
        by_name["ivy@example.com"]["has_hours"]
        and len(by_name["ivy@example.com"]["next_free"]) == 3
    )
    seen = by_name["otto@example.com"]
    assert seen == {"user_id": otto.id, "name": "otto@example.com", "has_hours": False,
                    "next_free": [], "calendar_error": ""}  # fmt: skip
    assert client.get("/api/interview-types/9999/outlook").status_code == 404

    warned = post_form(client, f"/candidates/{cara.id}/invite", {"interview_type_id": str(kind.id)})
    assert (
        warned.status_code == 409
        and "otto@example.com</strong>: has set no weekly hours" in warned.text
    )
    assert Invitation.select().count() == 0
    sent = post_form(
        client,
        f"/candidates/{cara.id}/invite",
        {"interview_type_id": str(kind.id), "anyway": "yes"},
    )
    assert sent.status_code == 200
    link = re.search(r"<code>http://[^/]+(/i/[^<]+)</code>", sent.text)
    assert link is not None

    candidate = TestClient(app=client.app, base_url="http://127.0.0.1")
    with candidate:
        for _ in range(2):  # the recruiter is told once, however often the link is opened
            page = candidate.get(link.group(1)).text
            assert "Your recruiter has been told" in page and 'name="slot"' not in page
    told = OutboxMessage.select().where(OutboxMessage.subject == "No free times for Cara")
    assert [m.recipient for m in told] == ["recruiter@example.com"]
    assert f"/candidates/{cara.id}" in told[0].body
    assert AuditEntry.select().where(AuditEntry.action == "invitation.no_times").count() == 1
    home = client.get("/").text
    assert (
        "Candidates who found no time to book" in home and f'href="/candidates/{cara.id}"' in home
    )

    scheduling.set_availability(runtime.audit, "t", User.get_by_id(otto.id), "UTC", every_day)
    with candidate:
        assert 'name="slot"' in candidate.get(link.group(1)).text
    assert Invitation.get().no_times_at is None
    assert "Candidates who found no time to book" not in client.get("/").text
    assert client.get(f"/api/interview-types/{kind.id}/outlook").json()["free"] > 0
