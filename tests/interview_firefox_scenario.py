"""The candidate's whole path in Debian's Firefox, the panel in Chromium, inside a network
namespace wired for Firefox (tests/firefox.py): self-scheduling, the recording notice, the
device check (preview, level meter, test sound), the waiting room, admission, the call both
ways with the recording indicator, and "End interview". Prints one JSON report line; exits
non-zero when a step fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.models import Interview
from tests.chromium import CHROMIUM, MEDIA_FLAGS
from tests.firefox import page_promise, page_value, start_firefox, wait_until
from tests.interview_e2e_scenario import PASSWORD, Appliance, filed_recording, running_appliance

STATS = "window.parley ? window.parley.stats() : {}"


def click(firefox: Any, selector: str) -> None:
    firefox.find_element("css selector", selector).click()


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
            for _ in range(150):
                report["firefox_received"] = page_promise(firefox, STATS)
                report["chromium_received"] = panel.evaluate(STATS)
                if (
                    report["firefox_received"].get("framesDecoded", 0) > 30
                    and report["chromium_received"].get("framesDecoded", 0) > 30
                ):
                    break
                panel.wait_for_timeout(200)
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


def main() -> None:
    report: dict[str, Any] = {}
    with running_appliance({}) as appliance:
        candidate_in_firefox(appliance, report)
    print(json.dumps(report))
    ok = (
        report["level_hint_shown"]
        and report["level_moves"]
        and report["level_hint_gone"]
        and report["preview_playing"]
        and report["firefox_received"]["framesDecoded"] > 30
        and report["firefox_received"]["audioSamples"] > 0
        and report["chromium_received"]["framesDecoded"] > 30
        and report["chromium_received"]["audioSamples"] > 0
        and report["candidate_sees_recording"]
        and report["candidate_told_ended"]
        and report["recording"] == "complete"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
