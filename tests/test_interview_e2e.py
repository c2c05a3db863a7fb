"""A whole interview in real browsers: from self-scheduling to "End interview".

The scenario (tests/interview_e2e_scenario.py) runs in a network namespace of its own with only
loopback, so WebRTC traffic cannot leave 127.0.0.1.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import namespace_available

pytestmark = pytest.mark.browser
SCENARIO = Path(__file__).with_name("interview_e2e_scenario.py")


def _run(*args: str) -> dict[str, object]:
    result = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            f'ip link set lo up && exec "{sys.executable}" "{SCENARIO}" {" ".join(args)}',
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
    assert len(accessibility) == 7 and not any(accessibility.values()), accessibility


@pytest.mark.skipif(not namespace_available(), reason="needs root to make a network namespace")
def test_a_candidate_who_declines_recording_is_never_recorded() -> None:
    report = _run("decline")
    assert report["candidate_frames"] > 0 and report["panel_frames"] > 0  # type: ignore[operator]
    assert report["recording"] is None and report["blobs"] == []
    assert not report["panel_sees_recording"] and not report["candidate_sees_recording"]
