"""The review page: every participant's recording on one timeline, the transcript beside it,
for those who may review the interview; each opening audited. In Chromium, selecting a word
seeks every tile to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from playwright.sync_api import Page, expect, sync_playwright

from appliance.asr_onnx.transcriber import Transcriber
from appliance.core.config import AsrConfig
from appliance.db.models import AuditEntry, Interview, InterviewParticipant, Recording, User
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings import transcription
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from tests.conftest import PASSWORD, free_port, make_user, sign_in
from tests.support.accessibility import violations
from tests.support.chromium import CHROMIUM, FLAGS
from tests.support.recordings import two_person_recording
from tests.support.waiting import wait_for_http

SETTINGS = AsrConfig(device="cpu", threads=2)


@pytest.fixture
def transcribed(runtime: Runtime, tmp_path: Path, transcriber: Transcriber) -> Recording:
    """Una asks at 0.4 s and Alex answers from 4.0 s; both tracks run to 14 s; transcribed."""
    recording, _ = two_person_recording(runtime, tmp_path, seconds=14.0)
    transcription.queue_transcription(recording)
    transcription.transcribe_recording(runtime, recording.id, transcriber, SETTINGS)
    una = User.get(User.email == "una@example.com")
    InterviewParticipant.create(interview=recording.interview, user=una)
    return recording


def _reviews(interview_id: int) -> list[str]:
    return [
        e.actor
        for e in AuditEntry.select().where(
            (AuditEntry.action == "interview.review")
            & (AuditEntry.subject == f"interview:{interview_id}")
        )
    ]


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


@pytest.fixture
def served(runtime: Runtime, tmp_path: Path) -> Iterator[str]:
    """This test's data dir served by a real web process; yields its base URL."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APPLIANCE_WEB_PORT": str(port)}
    data_dir = str(runtime.config.data_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "web", "--data-dir", data_dir], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", time.monotonic() + 30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


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


@pytest.mark.browser
def test_selecting_a_word_seeks_every_tile_and_a_comment_lands_there_in_chromium(
    runtime: Runtime, transcribed: Recording, served: str
) -> None:
    make_user(runtime, "recruiter")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{served}/login")
        page.get_by_label("E-mail").fill("recruiter@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{served}/interviews/{transcribed.interview_id}/review")
        expect(page.get_by_role("heading", name="Transcript")).to_be_visible()
        _until(page, "v => v.readyState >= 1")
        answer = page.locator(".turn", has_text="Alex").locator(".word").nth(2)
        start = float(answer.get_attribute("data-start") or "nan")
        assert start > 4.0  # a word of Alex's answer, while both tracks run
        answer.click()
        _until(page, "v => !v.seeking && v.readyState >= 2")
        times = _times(page)
        assert len(times) == 2
        assert all(abs(t - start) <= 0.1 for t in times), (times, start)
        expect(answer).to_have_class("word current")
        page.get_by_label("Speed").select_option("2")
        rates = page.eval_on_selector_all("[data-tile] video", "v => v.map(m => m.playbackRate)")
        assert rates == [2, 2]
        page.get_by_label("Comment on the moment playing now").fill("Clear numbers here")
        page.get_by_role("button", name="Comment at").click()
        comment = page.locator(".comment", has_text="Clear numbers here")
        expect(comment).to_be_visible()
        page.reload()
        expect(comment).to_be_visible()
        at = float(comment.locator("a.at").get_attribute("data-start") or "nan")
        assert abs(at - start) <= 0.1
        seek_to = page.locator(".turn", has_text="Una Park").locator(".word").first
        seek_to.click()
        _until(page, "v => !v.seeking && v.readyState >= 1")
        comment.locator("a.at").click()
        _until(page, "v => !v.seeking && v.readyState >= 2")
        assert all(abs(t - at) <= 0.1 for t in _times(page)), (_times(page), at)
        assert violations(page) == []
        browser.close()
