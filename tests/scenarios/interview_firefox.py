"""One interview with Debian's Firefox on one side and Chromium on the other, inside a network
namespace wired for Firefox (tests/support/firefox.py). Prints one JSON report line; exits
non-zero when a step fails.

`candidate` (the default): the candidate in Firefox goes through self-scheduling, the recording
notice, the device check (preview, level meter, test sound), the waiting room, admission, the
call both ways with the recording indicator, and "End interview".

`panel`: the interviewer in Firefox signs in, admits the candidate, sees and hears them, scores
two competencies, marks a question asked, writes a note that survives a reload, and ends the
interview.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appliance.db.models import Interview, Scorecard
from tests.scenarios.interview_e2e import (
    NOTE,
    PASSWORD,
    Appliance,
    filed_recording,
    running_appliance,
)
from tests.support.chromium import CHROMIUM, MEDIA_FLAGS
from tests.support.firefox import page_promise, page_value, start_firefox, wait_until

STATS = "window.parley ? window.parley.stats() : {}"


def click(firefox: Any, selector: str) -> None:
    firefox.find_element("css selector", selector).click()


def both_ways(firefox: Any, page: Page, report: dict[str, Any]) -> None:
    """Waits until each browser has decoded the other's video and received its audio."""
    for _ in range(150):
        report["firefox_received"] = page_promise(firefox, STATS)
        report["chromium_received"] = page.evaluate(STATS)
        if enough(report["firefox_received"]) and enough(report["chromium_received"]):
            return
        page.wait_for_timeout(200)


def enough(totals: dict[str, Any]) -> bool:
    return bool(totals.get("framesDecoded", 0) > 30 and totals.get("audioSamples", 0) > 0)


def candidate_in_firefox(appliance: Appliance, report: dict[str, Any]) -> None:
    base, token = appliance.base, appliance.token
    firefox = start_firefox()
    try:
        report["firefox"] = firefox.session_capabilities["browserVersion"]
        firefox.navigate(f"{base}/i/{token}")
        report["time_zone_detected"] = page_value(
            firefox,
            "document.querySelector('[name=tz]') && document.querySelector('[name=tz]').value",
        )
        click(firefox, "button[name=slot]")
        wait_until(firefox, "!!document.querySelector('input[name=confirm]')")
        click(firefox, "button[type=submit]")  # "Book this time"
        # Booked within the join window: the link goes straight on to the recording notice.
        wait_until(firefox, "!!document.querySelector('input[name=recording]')")
        click(firefox, "input[name=recording][value=yes]")
        click(firefox, "button[type=submit]")
        wait_until(firefox, "!document.getElementById('ready').disabled")
        # Firefox starts page audio only after a gesture: until then the meter says so, and any
        # click on the page brings it to life, not only the test sound.
        report["level_hint_shown"] = page_value(
            firefox, "!document.getElementById('level-hint').hidden"
        )
        click(firefox, "#check-title")
        report["level_moves"] = bool(wait_until(firefox, "(window.parleyLevel || 0) > 0"))
        report["level_hint_gone"] = page_value(
            firefox, "document.getElementById('level-hint').hidden"
        )
        report["preview_playing"] = page_value(
            firefox, "document.getElementById('preview').videoWidth > 0"
        )
        click(firefox, "#speaker-test")
        report["speaker_note"] = wait_until(
            firefox, "document.getElementById('speaker-note').textContent"
        )
        click(firefox, "#ready")
        wait_until(firefox, "!document.getElementById('lobby').hidden")

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
            panel = browser.new_page()
            panel.on("dialog", lambda dialog: dialog.accept())
            panel.goto(f"{base}/login")
            panel.get_by_label("E-mail").fill("ivy@example.com")
            panel.get_by_label("Password").fill(PASSWORD)
            panel.get_by_role("button", name="Sign in").click()
            panel.wait_for_url(f"{base}/")
            interview = Interview.get(Interview.candidate == appliance.candidate)
            panel.goto(f"{base}/interviews/{interview.id}/room")
            panel.get_by_role("button", name=f"Admit {appliance.candidate.name}").click()

            wait_until(firefox, "!document.getElementById('live').hidden")
            both_ways(firefox, panel, report)
            report["candidate_sees_recording"] = page_value(
                firefox, "!!document.getElementById('recording')"
            )
            panel.locator("#end").click()
            wait_until(firefox, "!document.getElementById('done').hidden", timeout=15)
            report["candidate_told_ended"] = True
            browser.close()
        report.update(filed_recording(appliance, interview))
    finally:
        firefox.cleanup()


def panel_in_firefox(appliance: Appliance, report: dict[str, Any]) -> None:
    base, token = appliance.base, appliance.token
    design, debugging = appliance.competencies
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
        candidate = browser.new_page()
        candidate.goto(f"{base}/i/{token}")
        candidate.locator("button[name=slot]").first.click()
        candidate.get_by_role("button", name="Book this time").click()
        candidate.get_by_label("I agree to the recording and transcript").check()
        candidate.get_by_role("button", name="Continue").click()
        candidate.get_by_role("button", name="Join the interview").click()
        candidate.get_by_text("The panel will let you in shortly.").wait_for()
        interview = Interview.get(Interview.candidate == appliance.candidate)

        firefox = start_firefox()
        try:
            report["firefox"] = firefox.session_capabilities["browserVersion"]
            firefox.navigate(f"{base}/login")
            firefox.find_element("css selector", "input[name=email]").send_keys("ivy@example.com")
            firefox.find_element("css selector", "input[name=password]").send_keys(PASSWORD)
            click(firefox, "button[type=submit]")
            wait_until(firefox, "location.pathname === '/'")
            firefox.navigate(f"{base}/interviews/{interview.id}/room")
            wait_until(firefox, "!document.getElementById('admit').hidden")
            click(firefox, "#admit")
            candidate.locator("#live").wait_for(state="visible", timeout=15000)
            both_ways(firefox, candidate, report)
            report["panel_sees_recording"] = wait_until(
                firefox, "!document.getElementById('recording').hidden", timeout=10
            )

            click(firefox, f"input[name=score-{design.id}][value='4']")
            click(firefox, f"input[name=score-{debugging.id}][value='3']")
            click(firefox, "input[name=asked]")
            firefox.find_element("css selector", "#notes").send_keys(NOTE)
            wait_until(
                firefox, "document.getElementById('saved').textContent.startsWith('Saved at')"
            )
            firefox.refresh()
            report["notes_after_reload"] = wait_until(
                firefox, "document.getElementById('notes').value"
            )
            wait_until(firefox, "!!window.parley")  # the page's script runs and the room is joined

            click(firefox, "#end")
            firefox.switch_to_alert().accept()
            candidate.get_by_text("The interview has ended").wait_for(timeout=15000)
            report["candidate_told_ended"] = True
        finally:
            firefox.cleanup()
        browser.close()
    report.update(filed_recording(appliance, interview))
    scorecard = Scorecard.get(Scorecard.interview == interview)
    report["scores"] = sorted(s.score for s in scorecard.scores)
    report["notes"] = scorecard.notes
    report["asked"] = len(scorecard.asked)


def main() -> None:
    role = sys.argv[1] if len(sys.argv) > 1 else "candidate"
    report: dict[str, Any] = {"role": role}
    with running_appliance({}) as appliance:
        if role == "panel":
            panel_in_firefox(appliance, report)
        else:
            candidate_in_firefox(appliance, report)
    print(json.dumps(report))
    common = (
        enough(report["firefox_received"])
        and enough(report["chromium_received"])
        and report["candidate_told_ended"]
        and report["recording"] == "complete"
    )
    if role == "panel":
        ok = (
            common
            and report["panel_sees_recording"]
            and report["scores"] == [3, 4]
            and report["asked"] == 1
            and report["notes"] == NOTE
            and report["notes_after_reload"] == NOTE
        )
    else:
        ok = (
            common
            and report["level_hint_shown"]
            and report["level_moves"]
            and report["level_hint_gone"]
            and report["preview_playing"]
            and report["candidate_sees_recording"]
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
