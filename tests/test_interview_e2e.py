"""A whole interview in real browsers: from self-scheduling to "End interview".

The scenarios (tests/scenarios/interview_e2e.py, and tests/scenarios/interview_firefox.py with
the candidate or the interviewer in Firefox) run in network namespaces of their own, so WebRTC
traffic cannot leave the machine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import namespace_available
from tests.support.firefox import FIREFOX, NAMESPACE

pytestmark = pytest.mark.browser
SCENARIO = Path(__file__).parent / "scenarios" / "interview_e2e.py"
FIREFOX_SCENARIO = Path(__file__).parent / "scenarios" / "interview_firefox.py"


def _run(
    *args: str, scenario: Path = SCENARIO, namespace: str = "ip link set lo up"
) -> dict[str, object]:
    result = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            f'{namespace} && exec "{sys.executable}" "{scenario}" {" ".join(args)}',
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
def test_schedule_consent_lobby_admit_call_score_and_end() -> None:
    report = _run()
    assert report["ics"] == {"request": True, "join_link": True, "recording_notice": True}
    assert report["panel_invited"] and report["level_moves"] and report["preview_playing"]
    assert report["keyboard_join"] and report["keyboard_admit"] and report["keyboard_end"]
    assert report["candidate_frames"] > 0 and report["panel_frames"] > 0  # type: ignore[operator]
    assert report["panel_sees_recording"] and report["candidate_sees_recording"]
    assert report["notes_after_reload"] == report["notes"]
    assert report["candidate_told_ended"] and report["candidate_saw_kit"] == []
    assert report["recording"] == "complete" and ["media", "complete"] in report["blobs"]  # type: ignore[operator]
    assert report["scores"] == [3, 4] and report["interview_status"] == "completed"
    # Every page either side saw passes axe-core's WCAG A/AA rules (contrast, labels, names).
    accessibility: dict[str, list[str]] = report["accessibility"]  # type: ignore[assignment]
    assert len(accessibility) == 8 and not any(accessibility.values()), accessibility


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
def test_a_candidate_who_declines_recording_is_never_recorded() -> None:
    report = _run("decline")
    assert report["candidate_frames"] > 0 and report["panel_frames"] > 0  # type: ignore[operator]
    assert report["recording"] is None and report["blobs"] == []
    assert not report["panel_sees_recording"] and not report["candidate_sees_recording"]
    # Ended on the server alone (no word through the SFU): both pages still learned it.
    assert report["server_end"] and report["candidate_told_ended"]


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
@pytest.mark.skipif(not os.path.exists(FIREFOX), reason="needs firefox-esr")
def test_a_candidate_in_firefox_goes_from_scheduling_to_the_end() -> None:
    report = _run(scenario=FIREFOX_SCENARIO, namespace=NAMESPACE)
    assert report["level_hint_shown"] and report["level_moves"] and report["level_hint_gone"]
    assert report["preview_playing"] and report["speaker_note"]
    for side in ("firefox_received", "chromium_received"):
        received: dict[str, int] = report[side]  # type: ignore[assignment]
        assert received["framesDecoded"] > 30 and received["audioSamples"] > 0, report
    assert report["candidate_sees_recording"] and report["candidate_told_ended"]
    assert report["recording"] == "complete"


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
@pytest.mark.skipif(not os.path.exists(FIREFOX), reason="needs firefox-esr")
def test_an_interviewer_in_firefox_admits_scores_and_ends() -> None:
    report = _run("panel", scenario=FIREFOX_SCENARIO, namespace=NAMESPACE)
    for side in ("firefox_received", "chromium_received"):
        received: dict[str, int] = report[side]  # type: ignore[assignment]
        assert received["framesDecoded"] > 30 and received["audioSamples"] > 0, report
    assert report["panel_sees_recording"] and report["candidate_told_ended"]
    assert report["scores"] == [3, 4] and report["asked"] == 1
    assert report["notes"] == report["notes_after_reload"] != ""
    assert report["recording"] == "complete"
