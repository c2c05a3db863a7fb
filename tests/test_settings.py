"""Settings administrators make in the browser: checked, kept in settings.toml over the config
file, the relay's password never shown again, and a restart requested."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.box import settings
from appliance.core.config import load_config
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    Candidate,
    ComplianceRecipient,
    Interview,
)
from appliance.hiring import scheduling
from appliance.hiring.scheduling_rules import rules
from appliance.interview import window
from appliance.runtime import Runtime
from appliance.storage.recipients import generate_identity
from tests.conftest import make_user, post_form, sign_in


def test_saved_settings_override_the_config_file_and_ask_for_a_restart(runtime: Runtime) -> None:
    data_dir = runtime.config.data_dir
    (data_dir / "appliance.toml").write_text('[smtp]\nhost = "old.example.com"\nport = 25\n')
    changed = settings.save_settings(
        runtime.audit,
        "ada@example.com",
        data_dir,
        {
            "web": {"public_url": "https://interviews.example.com/"},
            "smtp": {"host": "relay.example.com", "password": 's3cret "quoted" \\ pass'},
        },
    )
    assert changed == ["web.public_url", "smtp.host", "smtp.password"]
    config = load_config(data_dir, environ={})
    assert config.public_url == "https://interviews.example.com"
    assert (config.smtp.host, config.smtp.port) == ("relay.example.com", 25)
    assert config.smtp.password == 's3cret "quoted" \\ pass'
    assert settings.settings_path(data_dir).stat().st_mode & 0o777 == 0o600
    assert settings.restart_marker(data_dir).exists()
    entry = AuditEntry.get(AuditEntry.action == "settings.change")
    assert "s3cret" not in entry.details and "smtp.password" in entry.details
    # An empty password keeps the saved one; the same values again change nothing.
    assert settings.save_settings(runtime.audit, "a", data_dir, {"smtp": {"password": ""}}) == []
    assert load_config(data_dir, environ={}).smtp.password.startswith("s3cret")


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"web": {"public_url": "interviews.example.com"}}, "URL like"),
        ({"web": {"public_url": "https://box.example.com/parley"}}, "without a path"),
        ({"smtp": {"port": 70000}}, "1 to 65535"),
        ({"smtp": {"port": "25"}}, "must be an integer"),
        ({"smtp": {"security": "ssl"}}, "one of"),
        ({"smtp": {"host": "smtp://relay:25"}}, "without a port"),
        ({"sfu": {"ice_servers": "stun:x"}}, "cannot be set here"),
        ({"system": {"hostname": "-parley"}}, "host name"),
        ({"system": {"hostname": "hr_interviews"}}, "host name"),
        ({"system": {"hostname": "a" * 65}}, "64 characters"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    runtime: Runtime, updates: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ApplianceError, match=message):
        settings.save_settings(runtime.audit, "a", runtime.config.data_dir, updates)
    assert not settings.settings_path(runtime.config.data_dir).exists()
    assert not settings.restart_marker(runtime.config.data_dir).exists()


def test_the_settings_page_saves_and_never_shows_the_password(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    make_user(runtime, "admin", "ada@example.com")
    sign_in(client, "ada@example.com")
    form = {
        "public_url": "https://interviews.example.com",
        "smtp_host": "relay.example.com",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_username": "parley",
        "smtp_password": "hunter2-relay",
        "smtp_sender": "Parley <hr@example.com>",
        "hostname": "Interviews-HR.corp.example.com",
    }
    saved = post_form(client, "/admin/settings", form)
    assert saved.status_code == 200 and "Saved." in saved.text
    stored = settings.read_settings(runtime.config.data_dir)
    assert stored["system"]["hostname"] == "interviews-hr.corp.example.com"
    page = client.get("/admin/settings").text
    assert "https://interviews.example.com" in page and "hunter2-relay" not in page
    assert 'value="relay.example.com"' in page  # what was saved, not the running config
    assert 'placeholder="unchanged"' in page
    bad = post_form(client, "/admin/settings", {**form, "smtp_port": "many"})
    assert bad.status_code == 400 and "not a valid choice" in bad.text

    officer = generate_identity()
    added = post_form(
        client, "/admin/settings/recipients", {"recipient": officer.recipient, "label": "J. Smith"}
    )
    assert added.status_code == 200 and officer.recipient in added.text
    assert ComplianceRecipient.get().label == "J. Smith"
    again = post_form(client, "/admin/settings/recipients", {"recipient": officer.recipient})
    assert again.status_code == 400 and "already configured" in again.text
    assert (
        post_form(client, "/admin/settings/recipients", {"recipient": "nonsense"}).status_code
        == 400
    )


def test_a_damaged_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("[smtp\nhost=")
    with pytest.raises(ApplianceError, match="not valid TOML"):
        load_config(tmp_path, environ={})


def test_scheduling_rules_set_on_the_page_apply_at_once(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    """The running web process, started with 12 hours' notice, offers a slot within the hour and
    opens a room an hour early as soon as an administrator says so; no restart."""
    ada = make_user(runtime, "admin", "ada@example.com")
    ivy = make_user(runtime, "interviewer", "ivy@example.com")
    every_day = [scheduling.WeeklyWindow(d, "00:00", "00:00") for d in range(7)]
    scheduling.set_availability(runtime.audit, "t", ivy, "UTC", every_day)
    kind = scheduling.create_interview_type(runtime.audit, "t", "Chat", 30, [ivy.id])
    soon = utcnow().replace(tzinfo=dt.UTC) + dt.timedelta(hours=1)
    assert min(scheduling.free_slots(kind, rules(runtime.config))) > soon + dt.timedelta(hours=10)
    starts = utcnow() + dt.timedelta(minutes=40)
    interview = Interview.create(
        candidate=Candidate.create(name="Cara", email="cara@example.com"),
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=30),
    )
    assert not window.is_open(runtime.config, interview)

    sign_in(client, ada.email)
    page = client.get("/admin/settings").text
    assert 'name="minimum_notice_hours" min="0" max="720" value="12"' in page
    form = {"minimum_notice_hours": "0", "join_early_minutes": "60", "slot_step_minutes": "15"}
    saved = post_form(client, "/admin/settings/scheduling", form)
    assert saved.status_code == 200 and "apply now" in saved.text
    assert min(scheduling.free_slots(kind, rules(runtime.config))) < soon
    assert window.is_open(runtime.config, interview)
    entry = AuditEntry.get(AuditEntry.action == "settings.scheduling")
    assert json.loads(entry.details) == {
        "minimum_notice_hours": {"from": 12, "to": 0},
        "join_early_minutes": {"from": 15, "to": 60},
    }
    assert not settings.restart_marker(runtime.config.data_dir).exists()

    for bad, message in (
        ({**form, "buffer_minutes": "241"}, "give 0 to 240 minutes"),
        ({**form, "slot_step_minutes": "1"}, "give 5 to 120 minutes"),
        ({**form, "horizon_days": ""}, "give a number of days"),
        ({**form, "minimum_notice_hours": "soon"}, "not a valid"),
    ):
        refused = post_form(client, "/admin/settings/scheduling", bad)
        assert refused.status_code == 400 and refused.text.count(message) == 1, bad
    assert rules(runtime.config).buffer_minutes == 10  # nothing of a refused form is kept
    assert AuditEntry.select().where(AuditEntry.action == "settings.scheduling").count() == 1
