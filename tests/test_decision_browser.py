"""From scores to a decision in Chromium: two panel members score in the room; each submits
after the call and sees the other's scorecard only once their own is in; the hiring manager, who
was not on the panel, reviews, scores from the recording, opens the debrief and decides
"advance"; the single-file export is made from the review page and plays. Every page on the way
passes an accessibility audit, and the audit log holds each step."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Candidate,
    Competency,
    CompetencyScore,
    Decision,
    Interview,
    InterviewParticipant,
    Kit,
    Position,
    Question,
    Recording,
    Scorecard,
)
from appliance.hiring.hiring_team import set_manager
from appliance.recordings import composite_jobs
from appliance.recordings.store import BlobSpec, seal_blob, start_recording
from appliance.runtime import Runtime
from tests.conftest import PASSWORD, make_user
from tests.support.accessibility import violations
from tests.support.chromium import CHROMIUM, FLAGS
from tests.support.live_media import participant_track

pytestmark = pytest.mark.browser


def _interview(runtime: Runtime) -> tuple[Interview, list[Competency]]:
    """Sam's interview for Backend engineer, on now: Ana and Ben on the panel, Hana the
    position's hiring manager; recorded (both panel members on camera)."""
    position = Position.create(title="Backend engineer")
    kit = Kit.create(name="Backend", position=position)
    design = Competency.create(kit=kit, name="System design", ordinal=0, guide_5="Outstanding")
    coding = Competency.create(kit=kit, name="Coding", ordinal=1)
    Question.create(kit=kit, competency=design, text="Design a rate limiter")
    candidate = Candidate.create(name="Sam Lee", email="sam@example.com", position=position)
    now = utcnow()
    interview = Interview.create(
        candidate=candidate,
        position=position,
        kit=kit,
        starts_at=now - dt.timedelta(minutes=10),
        ends_at=now + dt.timedelta(minutes=50),
    )
    people = {}
    for email, name in (("ana@example.com", "Ana"), ("ben@example.com", "Ben")):
        people[email] = make_user(runtime, "interviewer", email)
        people[email].name = name
        people[email].save()
        InterviewParticipant.create(interview=interview, user=people[email])
    hana = make_user(runtime, "interviewer", "hana@example.com")
    set_manager(runtime.audit, "test", position.id, hana.id)
    recording = start_recording(runtime, interview)
    for email, offset, hz in (("ana@example.com", 0.0, 300.0), ("ben@example.com", 0.5, 800.0)):
        identity = f"staff-{people[email].id}"
        spec = BlobSpec(identity, "media", f"{identity}.webm", "video/webm")
        seal_blob(runtime, "sfu", recording, spec, [participant_track(offset, 4.0, hz)])
    recording.status = "complete"
    recording.ended_at = recording.started_at + dt.timedelta(seconds=4)
    recording.save()
    return interview, [design, coding]


def _signed_in(browser: Browser, base: str, email: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def _score_in_room(
    page: Page, base: str, interview: Interview, scores: list[tuple[int, int]]
) -> None:
    page.goto(f"{base}/interviews/{interview.id}/room")
    for competency_id, score in scores:
        page.locator(f'input[name="score-{competency_id}"][value="{score}"]').check()
    expect(page.locator("#saved")).to_contain_text("Saved")
    deadline = time.monotonic() + 10
    while {(s.competency_id, s.score) for s in _room_scores(interview)} < set(scores):
        assert time.monotonic() < deadline, "the room never saved every score"
        time.sleep(0.1)


def _room_scores(interview: Interview) -> list[CompetencyScore]:
    return list(CompetencyScore.select().join(Scorecard).where(Scorecard.interview == interview))


def _submit(page: Page, rationale: str, recommendation: str, summary: str) -> None:
    form = page.locator("#scorecard-form")
    form.get_by_label("Rationale for System design").fill(rationale)
    form.get_by_label(recommendation, exact=True).check()
    form.get_by_label("Summary").fill(summary)
    form.get_by_role("button", name="Submit scorecard").click()
    expect(page.get_by_role("heading", name="Your scorecard")).to_be_visible()


def test_from_the_room_to_a_decision(runtime: Runtime, served: str) -> None:
    interview, (design, coding) = _interview(runtime)
    review = f"{served}/interviews/{interview.id}/review"
    found: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        ana = _signed_in(browser, served, "ana@example.com")
        ben = _signed_in(browser, served, "ben@example.com")
        _score_in_room(ana, served, interview, [(design.id, 5), (coding.id, 4)])
        _score_in_room(ben, served, interview, [(design.id, 2)])
        Interview.update(status="completed", ended_at=utcnow()).where(
            Interview.id == interview.id
        ).execute()

        ana.goto(review)
        form = ana.locator("#scorecard-form")
        expect(form.locator(f'input[name="score-{design.id}"][value="5"]')).to_be_checked()
        found["review, draft"] = violations(ana)
        form.get_by_role("button", name="Submit scorecard").click()  # no recommendation yet
        expect(ana.get_by_role("alert")).to_contain_text("overall recommendation")
        _submit(ana, "ANA: clear trade-offs", "Strong yes", "Ana's summary")
        expect(ana.get_by_text("Not yet: Ben")).to_be_visible()
        expect(ana.locator("article[aria-label='Ben']")).to_have_count(0)  # Ben's is a draft

        ben.goto(review)
        expect(ben.get_by_text("appear here once you submit yours")).to_be_visible()
        expect(ben.get_by_text("Submitted: Ana")).to_be_visible()
        expect(ben.get_by_text("ANA: clear trade-offs")).to_have_count(0)
        ben.goto(f"{served}/candidates/{interview.candidate_id}/debrief")
        expect(ben.get_by_text("to see the others'")).to_be_visible()
        expect(ben.get_by_text("ANA: clear trade-offs")).to_have_count(0)
        ben.goto(review)
        ben.locator(f'input[name="score-{coding.id}"][value="na"]').check()
        _submit(ben, "BEN: shaky on limits", "No", "Ben's summary")
        expect(ben.locator("article[aria-label='Ana']")).to_contain_text("ANA: clear trade-offs")
        ana.reload()
        expect(ana.locator("article[aria-label='Ben']")).to_contain_text("BEN: shaky on limits")

        hana = _signed_in(browser, served, "hana@example.com")
        hana.goto(review)
        expect(hana.get_by_text('marked "from the recording"')).to_be_visible()
        hana.locator(f'input[name="score-{design.id}"][value="3"]').check()
        hana.locator(f'input[name="score-{coding.id}"][value="4"]').check()
        _submit(hana, "HANA: watched it all", "Yes", "Hana's summary")
        expect(hana.locator("#scorecard h3").first).to_contain_text("from the recording")
        found["review, submitted"] = violations(hana)

        hana.locator("#composite").get_by_role("button", name="Make the file").click()
        expect(hana.locator("#composite-state")).to_contain_text("Waiting for the worker")
        job = composite_jobs.next_job()
        assert job is not None
        composite_jobs.run(runtime, job)
        expect(hana.locator("#composite-state")).to_contain_text("Ready:", timeout=10_000)
        expect(hana.locator("#composite-download")).to_be_visible()
        played = hana.evaluate(
            """url => new Promise((resolve, reject) => {
                const v = document.createElement("video");
                v.muted = true;
                v.onloadeddata = () => v.play().then(() => setTimeout(
                    () => resolve([v.videoWidth, v.duration, v.currentTime]), 600));
                v.onerror = () => reject(String(v.error && v.error.message));
                v.src = url;
            })""",
            f"/recordings/{Recording.get(Recording.interview == interview).id}/composite.webm",
        )
        assert played[0] == 1280 and 3.5 < played[1] < 5 and played[2] > 0.2, played

        hana.get_by_role("link", name="The debrief of all rounds, and the decision").click()
        heading = hana.get_by_role("heading", name="Debrief: Sam Lee, Backend engineer")
        expect(heading).to_be_visible()
        table = hana.locator("table.debrief")
        expect(table.locator("thead th")).to_have_count(6)  # competency, 3 scorers, spread, chart
        expect(table.locator("tr.disagree")).to_have_count(1)  # System design: 5, 2 and 3
        expect(table.locator("svg")).to_have_count(2)
        expect(hana.get_by_text("BEN: shaky on limits")).to_have_count(0)  # rationale: review page
        expect(hana.get_by_text("Ben's summary")).to_be_visible()
        found["debrief"] = violations(hana)
        hana.get_by_label("Advance to the next round").check()
        hana.get_by_label("Reason").fill("Strong design, coding to probe next round")
        hana.get_by_role("button", name="Record the decision").click()
        expect(hana.locator(".decision")).to_contain_text("Advance to the next round")
        found["debrief, decided"] = violations(hana)

        recruiter = make_user(runtime, "recruiter")
        assert recruiter
        office = _signed_in(browser, served, "recruiter@example.com")
        office.goto(f"{served}/candidates/{interview.candidate_id}")
        expect(office.get_by_text("Advance to the next round")).to_be_visible()
        found["candidate"] = violations(office)
        office.goto(f"{served}/calibration")
        expect(office.locator("table tbody tr")).to_have_count(3)
        found["calibration"] = violations(office)
        office.goto(f"{served}/interviews?since=")
        found["interviews"] = violations(office)
        office.goto(f"{served}/positions/{interview.position_id}")
        expect(office.get_by_label("Hiring manager", exact=False)).to_have_value(
            str(Position.get_by_id(interview.position_id).hiring_manager_id)
        )
        found["position"] = violations(office)
        browser.close()

    assert not any(found.values()), {name: v for name, v in found.items() if v}
    decision = Decision.get()
    assert decision.outcome == "advance" and not decision.without_all_scorecards
    assert Candidate.get_by_id(interview.candidate_id).status == "active"
    steps = [(e.actor, e.action) for e in AuditEntry.select().order_by(AuditEntry.seq)]
    submitted = [actor for actor, action in steps if action == "scorecard.submit"]
    assert submitted == ["ana@example.com", "ben@example.com", "hana@example.com"]
    hana = [action for actor, action in steps if actor == "hana@example.com"]
    expected = [
        "interview.review",
        "scorecard.submit",
        "composite.request",
        "recording.download",
        "debrief.view",
        "decision.record",
    ]
    assert _in_order(expected, hana), hana


def _in_order(expected: list[str], actions: list[str]) -> bool:
    """Whether `expected` occur in `actions` in that order (others may come between)."""
    remaining = iter(actions)
    return all(any(action == wanted for action in remaining) for wanted in expected)
