"""A finished interview with a panel, a hiring team and a kit, and the calls the scorecard
and decision tests make as its people."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import (
    Candidate,
    Competency,
    Interview,
    InterviewParticipant,
    Kit,
    Position,
)
from appliance.hiring.hiring_team import add_member
from appliance.runtime import Runtime
from tests.conftest import api_headers, make_user, sign_in


class Panel:
    """A finished interview for a position: Ana and Ben on the panel, Hana on the position's
    hiring team, a kit of two competencies."""

    def __init__(self, runtime: Runtime) -> None:
        self.position = Position.create(title="Backend engineer")
        kit = Kit.create(name="Backend", position=self.position)
        self.design = Competency.create(kit=kit, name="System design", ordinal=0)
        self.code = Competency.create(kit=kit, name="Coding", ordinal=1)
        self.candidate = Candidate.create(
            name="Sam Lee", email="sam@example.com", position=self.position
        )
        start = dt.datetime(2026, 11, 30, 10, 0)
        self.recruiter = make_user(runtime, "recruiter")
        self.interview = Interview.create(
            candidate=self.candidate,
            position=self.position,
            kit=kit,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
            ended_at=start + dt.timedelta(minutes=50),
            status="completed",
            created_by=self.recruiter,
        )
        self.ana = make_user(runtime, "interviewer", "ana@example.com")
        self.ben = make_user(runtime, "interviewer", "ben@example.com")
        self.hana = make_user(runtime, "interviewer", "hana@example.com")
        for user in (self.ana, self.ben):
            InterviewParticipant.create(interview=self.interview, user=user)
        add_member(runtime.audit, "test", self.position.id, self.hana.id)

    def card(
        self,
        design: int | None,
        code: int | None,
        recommendation: str = "yes",
        summary: str = "",
        rationale: str = "",
    ) -> dict[str, Any]:
        return {
            "scores": [
                {"competency_id": self.design.id, "score": design, "rationale": rationale},
                {"competency_id": self.code.id, "score": code, "rationale": ""},
            ],
            "recommendation": recommendation,
            "summary": summary,
        }


def signed_in_as(client: TestClient[Litestar], email: str) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, email) == 303
    return api_headers(client)


def scorecards_of(client: TestClient[Litestar], panel: Panel, headers: dict[str, str]) -> Any:
    response = client.get(f"/api/interviews/{panel.interview.id}/scorecards", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def submit(
    client: TestClient[Litestar], panel: Panel, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return client.post(
        f"/api/interviews/{panel.interview.id}/scorecard/submit", json=body, headers=headers
    )
