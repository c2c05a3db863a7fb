"""The pages around the call in Chromium: before the join window the panel's room counts down
with the camera off and nothing to end; after "End interview" it releases the camera and
microphone, drops the recording badge and the clock, and points on to the review; a candidate
moves their booked interview from their link."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from appliance.db.database import utcnow
from appliance.db.models import Candidate, Interview, InterviewParticipant, User
from appliance.runtime import Runtime
from tests.conftest import PASSWORD, make_user
from tests.support.accessibility import violations
from tests.support.chromium import CHROMIUM, MEDIA_FLAGS
from tests.test_web_scheduling import _booked_ahead

pytestmark = pytest.mark.browser

# Every stream the page opens, kept so the test can see whether its tracks were stopped.
WATCH_MEDIA = """
window.openedStreams = [];
const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
  const stream = await getUserMedia(constraints);
  window.openedStreams.push(stream);
  return stream;
};
"""
LIVE_TRACKS = (
    "window.openedStreams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live')"
    ".length"
)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
        yield instance
        instance.close()


def _interview(runtime: Runtime, starts_in: dt.timedelta) -> Interview:
    ivy = User.get_or_none(User.email == "ivy@example.com") or make_user(
        runtime, "interviewer", "ivy@example.com"
    )
    candidate = Candidate.create(name="Sam Lee", email="sam@example.com")
    starts = utcnow() + starts_in
    interview = Interview.create(
        candidate=candidate, starts_at=starts, ends_at=starts + dt.timedelta(minutes=30)
    )
    InterviewParticipant.create(interview=interview, user=ivy)
    return interview


def _live_tracks(page: Page, at_least: int) -> None:
    deadline = time.monotonic() + 10
    while page.evaluate(LIVE_TRACKS) < at_least:
        assert time.monotonic() < deadline, "the room never opened the camera and microphone"
        time.sleep(0.1)


def _panel(browser: Browser, base: str) -> Page:
    page = browser.new_context().new_page()
    page.add_init_script(WATCH_MEDIA)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill("ivy@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def test_before_the_window_the_room_counts_down_with_the_camera_off(
    runtime: Runtime, served: str, browser: Browser
) -> None:
    make_user(runtime, "interviewer", "ivy@example.com")
    page = _panel(browser, served)
    early = dt.timedelta(minutes=runtime.config.scheduling.join_early_minutes)
    interview = _interview(runtime, early + dt.timedelta(seconds=8))
    page.goto(f"{served}/interviews/{interview.id}/room")
    waiting = page.locator("#not-yet")
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text("The room is not open yet")
    first = page.locator("#opens-in").inner_text()
    time.sleep(1.5)
    assert page.locator("#opens-in").inner_text() != first  # it counts down
    assert page.evaluate("window.openedStreams.length") == 0
    expect(page.locator("#clock")).to_contain_text("Starts in")
    expect(page.locator("#clock-slot")).to_be_hidden()
    expect(page.get_by_role("button", name="End interview")).to_be_disabled()
    assert violations(page) == []
    # The window opens: the camera starts and the interview can be ended.
    expect(waiting).to_be_hidden(timeout=15000)
    expect(page.get_by_role("button", name="End interview")).to_be_enabled()
    _live_tracks(page, 1)


def test_after_end_the_camera_is_released_and_the_review_is_offered(
    runtime: Runtime, served: str, browser: Browser
) -> None:
    interview = _interview(runtime, dt.timedelta(minutes=-1))
    page = _panel(browser, served)
    page.goto(f"{served}/interviews/{interview.id}/room")
    end = page.get_by_role("button", name="End interview")
    expect(end).to_be_enabled()
    _live_tracks(page, 2)  # camera and microphone
    # The badge shows only while the room records; force it on to see that End takes it off.
    page.evaluate("document.getElementById('recording').hidden = false")
    end.click()
    over = page.get_by_role("status").filter(has_text="Interview ended")
    expect(over).to_be_visible(timeout=15000)
    assert page.evaluate(LIVE_TRACKS) == 0
    expect(page.locator("#recording")).to_be_hidden()
    expect(page.locator("#clock")).to_be_hidden()
    expect(end).to_be_disabled()
    assert page.locator("video").count() == 0
    link = over.get_by_role("link", name="Go to the review page")
    assert link.get_attribute("href") == f"/interviews/{interview.id}/review"
    assert Interview.get_by_id(interview.id).ended_at is not None
    assert violations(page) == []


def test_a_candidate_moves_their_interview_in_the_browser(
    runtime: Runtime, served: str, browser: Browser
) -> None:
    link, interview = _booked_ahead(runtime)
    page = browser.new_context().new_page()
    page.goto(f"{served}{link}")
    expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    found = {"booked": violations(page)}
    page.get_by_role("link", name="Choose another time").click()
    expect(page.get_by_role("heading", name="Cara, choose a new time")).to_be_visible()
    found["choose"] = violations(page)
    page.locator("button[name=slot]").nth(3).click()
    expect(page.get_by_role("heading", name="Move your interview to this time?")).to_be_visible()
    found["confirm"] = violations(page)
    page.get_by_role("button", name="Move to this time").click()
    expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    moved = Interview.get_by_id(interview.id)
    assert moved.sequence == 1 and moved.starts_at != interview.starts_at
    assert not any(found.values()), found
