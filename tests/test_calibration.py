"""The calibration report: each interviewer's scores against the rest of the panel on the same
candidates, lenient and harsh raters named only with enough comparisons, as a page with SVG
charts and as CSV that a spreadsheet cannot mistake for formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io

from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import (
    Candidate,
    Competency,
    CompetencyScore,
    Interview,
    InterviewParticipant,
    Kit,
    Position,
    Scorecard,
    User,
)
from appliance.evaluation import calibration
from appliance.runtime import Runtime
from tests.conftest import make_user, sign_in


def _scored(
    position: Position, kit: Kit, when: dt.datetime, scores: dict[User, list[int | None]]
) -> None:
    candidate = Candidate.create(name="C", email="c@example.com", position=position)
    interview = Interview.create(
        candidate=candidate, position=position, kit=kit, starts_at=when, ends_at=when
    )
    competencies = list(Competency.select().where(Competency.kit == kit).order_by(Competency.id))
    for author, given in scores.items():
        card = Scorecard.create(
            interview=interview, author=author, submitted_at=when, version=1, recommendation="yes"
        )
        for competency, score in zip(competencies, given, strict=True):
            CompetencyScore.create(scorecard=card, competency=competency, score=score)


def test_lenient_and_harsh_raters_with_enough_comparisons(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    backend = Position.create(title="Backend engineer")
    other = Position.create(title="Designer")
    kit = Kit.create(name="Kit")
    for name in ("Design", "Coding"):
        Competency.create(kit=kit, name=name)
    lenny = make_user(runtime, "interviewer", "lenny@example.com")
    hattie = make_user(runtime, "interviewer", "hattie@example.com")
    norm = make_user(runtime, "interviewer", "=cmd@example.com")
    User.update(name="=HYPERLINK(1)").where(User.id == norm.id).execute()
    rare = make_user(runtime, "interviewer", "rare@example.com")
    start = dt.datetime(2026, 6, 1, 10)
    for day in range(6):  # 6 interviews x 2 competencies: 12 comparisons each
        _scored(
            backend,
            kit,
            start + dt.timedelta(days=day),
            {lenny: [5, 5], hattie: [2, 1], norm: [3, 4 if day % 2 else 3]},
        )
    _scored(other, kit, start, {rare: [4, None], lenny: [4, 4]})

    shown = {r.email: r for r in calibration.report(backend.id).raters}
    assert shown["lenny@example.com"].verdict == "lenient"
    assert shown["hattie@example.com"].verdict == "harsh"
    assert shown["=cmd@example.com"].verdict == "in line"
    assert shown["lenny@example.com"].comparisons == 12
    # Lenny's 5 against the mean of Hattie's 2 and Norm's 3 on Design: +2.5.
    assert shown["lenny@example.com"].differences[0] == 2.5
    everyone = {r.email: r for r in calibration.report().raters}
    assert everyone["rare@example.com"].verdict == "too few to tell"
    assert everyone["rare@example.com"].scores == [4]  # "not assessed" is no score

    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    page = client.get(f"/calibration?position={backend.id}")
    assert page.status_code == 200
    assert page.text.count("<svg") == 4  # the lean chart and one distribution per rater
    assert "lenient" in page.text and "harsh" in page.text and "rare@" not in page.text
    sheet = client.get(f"/calibration.csv?position={backend.id}")
    assert sheet.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    by_email = {row["email"]: row for row in rows}
    assert by_email["lenny@example.com"]["leaning"] == "lenient"
    assert by_email["lenny@example.com"]["gave 5"] == "12"
    assert by_email["'=cmd@example.com"]["interviewer"] == "'=HYPERLINK(1)"
    assert client.get("/calibration?since=June").status_code == 400
    assert "No submitted scorecards" in client.get("/calibration?since=2027-01-01").text

    client.cookies.clear()
    assert sign_in(client, "lenny@example.com") == 303
    assert client.get("/calibration").status_code == 403


def test_the_report_keeps_an_interview_from_whoever_still_owes_its_scorecard(
    runtime: Runtime,
) -> None:
    position = Position.create(title="Backend engineer")
    kit = Kit.create(name="Kit")
    Competency.create(kit=kit, name="Design")
    ana = make_user(runtime, "recruiter", "ana@example.com")
    ben = make_user(runtime, "interviewer", "ben@example.com")
    when = dt.datetime(2026, 6, 1, 10)
    _scored(position, kit, when, {ben: [2]})
    interview = Interview.get()
    InterviewParticipant.create(interview=interview, user=ana)  # Ana sits on it, unscored
    assert [r.email for r in calibration.report().raters] == ["ben@example.com"]
    assert calibration.report(viewer=ana).raters == []
    _scored(position, kit, when + dt.timedelta(days=1), {ben: [4]})
    assert [r.scores for r in calibration.report(viewer=ana).raters] == [[4]]
    card = Scorecard.create(interview=interview, author=ana, submitted_at=when, version=1)
    CompetencyScore.create(scorecard=card, competency=Competency.get(), score=3)
    shown = {r.email: r.scores for r in calibration.report(viewer=ana).raters}
    assert shown == {"ana@example.com": [3], "ben@example.com": [2, 4]}
