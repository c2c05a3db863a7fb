"""Scorecard reminders and the "ready to review" e-mail follow the notification settings: each
panel member who has not submitted is reminded once after the delay and once more a day later,
nobody who has submitted, nothing for interviews that did not take place."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.box import settings
from appliance.core.config import Config, NotificationsConfig
from appliance.db.models import Interview, OutboxMessage
from appliance.evaluation.reminders import send_scorecard_reminders
from appliance.recordings import ready
from appliance.recordings.store import import_files
from appliance.runtime import Runtime
from tests.conftest import make_user, post_form, sign_in
from tests.support.scoring import Panel, signed_in_as, submit


@pytest.fixture
def panel(runtime: Runtime) -> Panel:
    return Panel(runtime)


def _due(config: Config, panel: Panel, hours: float) -> list[tuple[str, str]]:
    ended = panel.interview.ended_at
    before = {m.id for m in OutboxMessage.select()}
    send_scorecard_reminders(config, ended + dt.timedelta(hours=hours))
    return sorted(
        (m.recipient, m.subject)
        for m in OutboxMessage.select().where(OutboxMessage.id.not_in(before))
    )


def test_each_scorer_is_reminded_twice_until_they_submit(
    runtime: Runtime, client: TestClient[Litestar], panel: Panel
) -> None:
    config = runtime.config
    assert _due(config, panel, 1.9) == []
    first = _due(config, panel, 2.1)
    assert [who for who, _ in first] == ["ana@example.com", "ben@example.com"]
    assert all("Scorecard due" in subject and "Sam Lee" in subject for _, subject in first)
    assert _due(config, panel, 3) == []  # once, whatever restarts
    headers = signed_in_as(client, "ana@example.com")
    assert submit(client, panel, headers, panel.card(3, 3)).status_code == 201
    second = _due(config, panel, 26.5)
    assert second == [
        ("ben@example.com", "Scorecard due: the interview with Sam Lee (second reminder)")
    ]
    assert _due(config, panel, 40) == []
    assert _due(config, panel, 24 * 30) == []  # long past: no more mail


def test_no_reminder_when_off_or_for_an_interview_that_did_not_take_place(
    runtime: Runtime, panel: Panel
) -> None:
    off = dataclasses.replace(
        runtime.config, notifications=NotificationsConfig(scorecard_due_hours=0)
    )
    assert _due(off, panel, 5) == []
    Interview.update(ended_at=None, admitted_at=None).execute()  # a no-show: nobody let in
    end = panel.interview.ends_at
    send_scorecard_reminders(runtime.config, end + dt.timedelta(hours=5))
    assert OutboxMessage.select().count() == 0
    Interview.update(admitted_at=end, status="cancelled").execute()
    send_scorecard_reminders(runtime.config, end + dt.timedelta(hours=5))
    assert OutboxMessage.select().count() == 0


def test_ready_to_review_follows_its_setting(
    runtime: Runtime, panel: Panel, tmp_path: Path
) -> None:
    media = tmp_path / "ana.webm"
    media.write_bytes(os.urandom(4000))
    recording = import_files(runtime, "test", [media], "sam@example.com", panel.interview.id)
    off = dataclasses.replace(
        runtime.config, notifications=NotificationsConfig(transcript_ready=False)
    )
    assert ready.announce(off, recording) == 0
    assert ready.announce(runtime.config, recording) == 3  # Ana, Ben and Hana (the team)


def test_administrators_set_the_reminders(runtime: Runtime, client: TestClient[Litestar]) -> None:
    make_user(runtime, "admin", "root@example.com")
    assert sign_in(client, "root@example.com") == 303
    page = client.get("/admin/settings").text
    assert 'name="scorecard_due_hours"' in page and 'value="2"' in page
    form = {"scorecard_due_hours": "4", "scorecard_repeat_hours": "0", "smtp_port": "587"}
    saved = post_form(client, "/admin/settings", form)
    assert saved.status_code == 200 and "Saved." in saved.text
    stored = settings.read_settings(runtime.config.data_dir)["notifications"]
    assert stored == {
        "scorecard_due_hours": 4,
        "scorecard_repeat_hours": 0,
        "transcript_ready": False,
    }
    for bad in ("-1", "721", "soon"):
        refused = post_form(client, "/admin/settings", {**form, "scorecard_due_hours": bad})
        assert refused.status_code == 400, bad
    again = settings.read_settings(runtime.config.data_dir)["notifications"]
    assert again == stored
