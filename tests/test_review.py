"""The review page: every participant's recording on one timeline, the transcript beside it,
for those who may review the interview; each opening audited. In Chromium, selecting a word
seeks every tile to it."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from playwright.sync_api import Page, expect, sync_playwright

from appliance.asr_onnx.transcriber import Transcriber
from appliance.core.config import AsrConfig
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Competency,
    Interview,
    InterviewParticipant,
    Kit,
    OutboxMessage,
    Position,
    Question,
    QuestionAsked,
    Recording,
    Scorecard,
    User,
)
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.hiring.hiring_team import add_member
from appliance.recordings import ready, review, transcription
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from tests.conftest import PASSWORD, make_user, sign_in
from tests.support.accessibility import violations
from tests.support.chromium import CHROMIUM, FLAGS
from tests.support.recordings import two_person_recording

SETTINGS = AsrConfig(device="cpu", threads=2)


@pytest.fixture
def transcribed(runtime: Runtime, tmp_path: Path, transcriber: Transcriber) -> Recording:
    """Una asks at 0.4 s and Alex answers from 4.0 s; both tracks run to 14 s; transcribed."""
    recording, _ = two_person_recording(runtime, tmp_path, seconds=14.0)
    una = User.get(User.email == "una@example.com")
    InterviewParticipant.create(interview=recording.interview, user=una)
    transcription.queue_transcription(recording)
    transcription.transcribe_recording(runtime, recording.id, transcriber, SETTINGS)
    return recording


def _reviews(interview_id: int) -> list[str]:
    return [
        e.actor
        for e in AuditEntry.select().where(
            (AuditEntry.action == "interview.review")
            & (AuditEntry.subject == f"interview:{interview_id}")
        )
    ]


def ask(recording: Recording, text: str, seconds: float) -> None:
    """Una marks a question of the interview's kit as asked, `seconds` into the recording."""
    interview = recording.interview
    kit = Kit.create(name="Analyst kit")
    competency = Competency.create(kit=kit, name="Numeracy")
    question = Question.create(kit=kit, competency=competency, text=text)
    una = User.get(User.email == "una@example.com")
    scorecard, _ = Scorecard.get_or_create(interview=interview, author=una)
    moment = recording.started_at + dt.timedelta(seconds=seconds)
    QuestionAsked.create(scorecard=scorecard, question=question, asked_at=moment)


def test_questions_marked_as_asked_are_placed_on_the_recording(
    runtime: Runtime, client: TestClient[Litestar], transcribed: Recording
) -> None:
    ask(transcribed, "Walk me through <the> numbers.", 4.5)
    ask(transcribed, "Asked before the recording began?", -30.0)
    shown = review.review(runtime, "t", transcribed.interview)
    assert [(q.at, q.text) for q in shown.questions] == [(4.5, "Walk me through <the> numbers.")]
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    page = client.get(f"/interviews/{transcribed.interview_id}/review").text
    assert 'data-start="4.5">0:04</a> Walk me through &lt;the&gt; numbers.' in page


def test_the_page_shows_each_participant_by_name_and_the_transcript_by_word(
    runtime: Runtime, client: TestClient[Litestar], transcribed: Recording
) -> None:
    interview_id = transcribed.interview_id
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    page = client.get(f"/interviews/{interview_id}/review")
    assert page.status_code == 200
    assert "<figcaption>Una Park</figcaption>" in page.text
    assert "<figcaption>Alex</figcaption>" in page.text
    assert "<figcaption>staff-" not in page.text and "<figcaption>candidate" not in page.text
    assert page.text.count('class="word"') > 10
    assert f"/recordings/{transcribed.id}/media/" in page.text
    assert "Review the recording" in client.get(f"/interviews/{interview_id}").text
    client.get(f"/interviews/{interview_id}/review")
    assert _reviews(interview_id) == ["recruiter@example.com"] * 2  # each opening


def test_the_panel_and_the_hiring_team_are_told_when_the_transcript_is_ready(
    runtime: Runtime, client: TestClient[Litestar], transcribed: Recording
) -> None:
    interview = transcribed.interview
    (message,) = OutboxMessage.select()
    assert message.recipient == "una@example.com"
    assert message.subject == "Ready to review: the interview with Alex"
    assert f"/interviews/{interview.id}/review\n" in message.body
    assert ready.announce(runtime.config, transcribed) == 0  # once per recording

    manager = make_user(runtime, "interviewer", "max@example.com")
    make_user(runtime, "recruiter")
    position = Position.create(title="Analyst")
    Interview.update(position=position).where(Interview.id == interview.id).execute()
    add_member(runtime.audit, "t", position.id, manager.id)
    assert [u.email for u in ready.reviewers(Recording.get_by_id(transcribed.id))] == [
        "una@example.com",
        "max@example.com",
    ]

    assert sign_in(client, "recruiter@example.com") == 303
    review = f'href="/interviews/{interview.id}/review"'
    assert review in client.get("/interviews?view=all").text
    candidate = client.get(f"/candidates/{interview.candidate_id}").text
    assert f'href="/interviews/{interview.id}"' in candidate and review in candidate


def test_only_those_who_may_review_open_it(
    runtime: Runtime, client: TestClient[Litestar], transcribed: Recording
) -> None:
    url = f"/interviews/{transcribed.interview_id}/review"
    make_user(runtime, "interviewer", "otto@example.com")
    make_user(runtime, "compliance", "cleo@example.com")
    for outsider in ("otto@example.com", "cleo@example.com"):
        client.cookies.clear()
        assert sign_in(client, outsider) == 303
        assert client.get(url).status_code == 403
    client.cookies.clear()
    assert sign_in(client, "una@example.com") == 303  # on the panel
    assert client.get(url).status_code == 200
    assert _reviews(transcribed.interview_id) == ["una@example.com"]


def test_the_interview_data_waits_for_a_scorers_own_scorecard(
    runtime: Runtime, client: TestClient[Litestar], transcribed: Recording
) -> None:
    ask(transcribed, "Walk me through the numbers.", 3.0)
    url = f"/interviews/{transcribed.interview_id}/review"
    assert sign_in(client, "una@example.com") == 303  # on the panel, scorecard not submitted
    page = client.get(url).text
    assert "Interview data" in page and "Shown once you have submitted your scorecard" in page
    assert "Who spoke, and how much" not in page

    client.cookies.clear()
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303  # no scorer: sees it at once
    page = client.get(url).text
    assert "Who spoke, and how much" in page and "Alex (candidate)" in page
    assert '<th scope="row">Una Park</th>' in page
    assert 'First question: <a href="#" class="at" data-start="3.0">0:03</a>' in page
    # Alex answers from 4.0 s, after the question ticked at 3.0 s: all his speech counts.
    turns = review.review(runtime, "t", transcribed.interview).turns
    spoken = sum(t.end - t.start for t in turns if t.speaker == "Alex")
    answered = re.search(r"Walk me through the numbers.</td><td>0:(\d\d)</td>", page)
    assert spoken >= 1 and answered is not None
    assert int(answered.group(1)) == int(round(spoken, 1))  # the page rounds to 0.1 s, shows s

    client.cookies.clear()
    Scorecard.update(submitted_at=utcnow()).where(
        Scorecard.interview == transcribed.interview_id
    ).execute()
    assert sign_in(client, "una@example.com") == 303
    assert "Who spoke, and how much" in client.get(url).text


def test_the_page_says_what_is_missing(
    runtime: Runtime, client: TestClient[Litestar], tmp_path: Path
) -> None:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    recording, _ = two_person_recording(runtime, tmp_path)
    url = f"/interviews/{recording.interview_id}/review"
    assert "has not been transcribed" in client.get(url).text
    transcription.queue_transcription(recording)
    assert "transcript is queued" in client.get(url).text
    candidate = create_candidate(runtime.audit, "t", CandidateFields("Bo", "bo@example.com"))
    now = recording.interview.starts_at
    unrecorded = Interview.create(candidate=candidate, starts_at=now, ends_at=now)
    assert "was not recorded" in client.get(f"/interviews/{unrecorded.id}/review").text
    erase_candidate(runtime, "recruiter@example.com", recording.interview.candidate_id, "request")
    gone = client.get(url)
    assert gone.status_code == 410 and "erased" in gone.text


def _until(page: Page, every_tile: str, seconds: float = 15.0) -> None:
    """Wait until `every_tile` (a JS predicate) holds for every tile's media element (polled:
    the page's Content-Security-Policy forbids the eval behind wait_for_function)."""
    check = f"v => v.every({every_tile})"
    deadline = time.monotonic() + seconds
    while not page.eval_on_selector_all("[data-tile] video", check):
        assert time.monotonic() < deadline, f"tiles never satisfied {every_tile}"
        time.sleep(0.05)


def _times(page: Page) -> list[float]:
    return list(page.eval_on_selector_all("[data-tile] video", "v => v.map(m => m.currentTime)"))


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.browser
def test_a_hiring_manager_reviews_seeks_comments_on_a_passage_and_finds_it_again_in_chromium(
    runtime: Runtime, transcribed: Recording, served: str
) -> None:
    manager = make_user(runtime, "interviewer", "max@example.com")
    position = Position.create(title="Analyst")
    Interview.update(position=position).where(Interview.id == transcribed.interview_id).execute()
    add_member(runtime.audit, "t", position.id, manager.id)  # not on the panel
    ask(transcribed, "Walk me through the numbers.", 4.5)
    review_url = f"{served}/interviews/{transcribed.interview_id}/review"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served)
        page = context.new_page()
        _sign_in(page, served, "max@example.com")
        page.goto(review_url)
        expect(page.get_by_role("heading", name="Transcript")).to_be_visible()
        _until(page, "v => v.readyState >= 1")
        answer = page.locator(".turn", has_text="Alex").locator(".word")
        start = float(answer.nth(2).get_attribute("data-start") or "nan")
        assert start > 4.0  # a word of Alex's answer, while both tracks run
        answer.nth(2).click()
        _until(page, "v => !v.seeking && v.readyState >= 2")
        times = _times(page)
        assert len(times) == 2
        assert all(abs(t - start) <= 0.1 for t in times), (times, start)
        expect(answer.nth(2)).to_have_class("word current")
        page.get_by_label("Speed").select_option("2")
        rates = page.eval_on_selector_all("[data-tile] video", "v => v.map(m => m.playbackRate)")
        assert rates == [2, 2]
        turns = page.eval_on_selector_all("#timeline span", "s => s.map(m => m.className)")
        assert {"turn-0", "turn-1", "question"} <= set(turns)

        # Find in the transcript: the count, and the match marked in the text.
        third = (answer.nth(3).text_content() or "").strip()
        page.get_by_label("Find in transcript").fill(third.upper())
        expect(page.locator("#find-count")).to_contain_text("1 of")
        expect(page.locator(".word.at-match").first).to_be_visible()

        # Mark a passage (Shift-select), copy it with its time, comment on it.
        answer.nth(5).click(modifiers=["Shift"])
        expect(page.locator(".word.selected")).to_have_count(4)
        page.get_by_role("button", name="Copy with time").click()
        expect(page.locator("#passage-status")).to_have_text("Copied with its time.")
        copied = page.evaluate("navigator.clipboard.readText()")
        stamp = f"{int(start) // 60}:{int(start) % 60:02d}"
        assert copied.startswith(f"[{stamp}] Alex: ") and third in copied
        assert copied.splitlines()[-1] == f"{review_url}#t={start:.1f}"
        page.get_by_role("button", name="Comment on this passage").click()
        page.get_by_label("Comment on the passage").fill("Clear numbers here")
        page.get_by_role("button", name="Comment on the passage").click()
        comment = page.locator(".comment", has_text="Clear numbers here")
        expect(comment).to_be_visible()
        page.reload()
        expect(comment).to_be_visible()
        at = float(comment.locator("a.at").get_attribute("data-start") or "nan")
        assert abs(at - start) <= 0.001
        end = float(answer.nth(5).get_attribute("data-end") or "nan")
        expect(comment.locator("a.at")).to_contain_text(
            f"\u2013{int(end) // 60}:{int(end) % 60:02d}"
        )
        page.locator(".turn", has_text="Una Park").locator(".word").first.click()
        _until(page, "v => !v.seeking && v.readyState >= 1")
        comment.locator("a.at").click()
        _until(page, "v => !v.seeking && v.readyState >= 2")
        assert all(abs(t - at) <= 0.1 for t in _times(page)), (_times(page), at)
        assert violations(page) == []

        # Search finds the interview; its passage opens the review page at that moment.
        page.goto(f"{served}/search?q={third}")
        passage = page.locator(".passages a").first
        expect(passage).to_be_visible()
        assert violations(page) == []
        moment = float((passage.get_attribute("href") or "").rpartition("#t=")[2])
        passage.click()
        _until(page, "v => !v.seeking && v.readyState >= 2 && v.currentTime > 0")
        assert all(abs(t - moment) <= 0.1 for t in _times(page)), (_times(page), moment)
        browser.close()


@pytest.mark.browser
def test_every_tile_seeks_and_plays_in_step_in_firefox(
    runtime: Runtime, transcribed: Recording, served: str
) -> None:
    from tests.support.firefox import page_value, start_firefox, wait_until

    make_user(runtime, "recruiter")
    tiles = "[...document.querySelectorAll('[data-tile] video')]"
    firefox = start_firefox()
    try:
        firefox.navigate(f"{served}/login")
        firefox.find_element("css selector", "input[name=email]").send_keys("recruiter@example.com")
        firefox.find_element("css selector", "input[name=password]").send_keys(PASSWORD)
        firefox.find_element("css selector", "form button[type=submit]").click()
        wait_until(firefox, "location.pathname === '/'")
        firefox.navigate(f"{served}/interviews/{transcribed.interview_id}/review")
        wait_until(firefox, f"{tiles}.every(v => v.readyState >= 1)")
        words = firefox.find_elements("css selector", ".turn:last-child .word")
        start = float(words[2].get_attribute("data-start"))
        assert start > 4.0  # a word of Alex's answer, while both tracks run
        words[2].click()
        wait_until(firefox, f"{tiles}.every(v => !v.seeking && v.readyState >= 2)")
        times = page_value(firefox, f"{tiles}.map(v => v.currentTime)")
        assert len(times) == 2 and all(abs(t - start) <= 0.1 for t in times), (times, start)

        firefox.find_element("css selector", "#play").click()
        wait_until(firefox, f"{tiles}.every(v => v.currentTime > {start + 1.0})", 20)
        spread = page_value(
            firefox,
            f"(() => {{ const t = {tiles}.map(v => v.currentTime);"
            " return Math.max(...t) - Math.min(...t); })()",
        )
        assert spread <= 0.1, spread
        firefox.find_element("css selector", "#play").click()
        wait_until(firefox, f"{tiles}.every(v => v.paused)")
    finally:
        firefox.cleanup()
