"""The `appliance` command as an operator runs it: real processes, real files."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from appliance.box import firstrun
from appliance.box.datadir import initialize
from appliance.core.config import load_config
from appliance.db.models import AuditEntry
from appliance.runtime import open_runtime
from tests.conftest import PASSWORD, free_port
from tests.support.waiting import wait_for_http


def appliance(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **(env or {})},
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("appliance: error:"), result.stderr
    for word in words:
        assert word in lines[0]


def test_help_lists_the_commands() -> None:
    result = appliance("--help")
    for command in ("init", "serve", "user", "audit"):
        assert command in result.stdout


def _setup_link(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return next(line.strip() for line in result.stdout.splitlines() if "/setup/" in line)


def test_the_setup_link_stays_the_same_until_it_is_renewed_or_used(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = load_config(data, environ={})
    first = _setup_link(appliance("init", "--data-dir", str(data)))
    assert initialize(config).setup_url == first  # as `init` and `serve` print it
    assert _setup_link(appliance("setup-link", "--data-dir", str(data))) == first
    assert (data / "setup-token").stat().st_mode & 0o777 == 0o600
    renewed = _setup_link(appliance("setup-link", "--renew", "--data-dir", str(data)))
    assert renewed != first and initialize(config).setup_url == renewed

    runtime = open_runtime(config)
    try:
        assert not firstrun.token_is_valid(first.rsplit("/", 1)[1])
        token = renewed.rsplit("/", 1)[1]
        assert firstrun.token_is_valid(token)
        firstrun.complete_setup(runtime.audit, data, token, "ada@example.com", "Ada", PASSWORD)
        assert [e.action for e in AuditEntry.select().where(AuditEntry.action ** "setup.%")] == [
            "setup.link_renewed",
            "setup.complete",
        ]
    finally:
        runtime.close()
    assert not (data / "setup-token").exists()
    assert_clean_error(appliance("setup-link", "--data-dir", str(data)), "setup is complete")
    assert initialize(config).setup_url is None


def test_init_creates_private_files_and_prints_a_setup_link(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = appliance("init", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert "/setup/" in result.stdout
    assert data.stat().st_mode & 0o777 == 0o700
    for key in ("kek.key", "signing.key"):
        assert (data / "keys" / key).stat().st_mode & 0o777 == 0o600
    assert len((data / "keys" / "kek.key").read_bytes()) == 32
    again = appliance("init", "--data-dir", str(data))
    assert "up to date" in again.stdout


def test_init_reports_an_unusable_data_dir_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_clean_error(appliance("init", "--data-dir", str(blocker / "data")), "not usable")
    assert blocker.read_text() == "not a directory"


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert appliance("init", "--data-dir", str(data)).returncode == 0
    (data / "appliance.toml").write_text("[web]\nprot = 1\n")
    assert_clean_error(appliance("serve", "web", "--data-dir", str(data)), "prot")
    (data / "appliance.toml").unlink()
    assert_clean_error(
        appliance("init", "--data-dir", str(data), env={"APPLIANCE_AUTH_LOCKOUT": "3"}),
        "APPLIANCE_AUTH_LOCKOUT",
    )


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("[web]\nport = 99999\n", ("[web] port", "1 to 65535")),
        ("[storage]\nchunk_size = 10\n", ("[storage] chunk_size",)),
        ("[queue]\nworkers = 0\n", ("[queue] workers",)),
        ('[asr]\ndevice = "tpu"\n', ("[asr] device", "cuda")),
        ("x = " + "[" * 50_000 + "\n", ("too deeply",)),
    ],
)
def test_a_setting_out_of_range_stops_serve_with_one_line_naming_it(
    tmp_path: Path, toml: str, words: tuple[str, ...]
) -> None:
    data = tmp_path / "data"
    assert appliance("init", "--data-dir", str(data)).returncode == 0
    (data / "appliance.toml").write_text(toml)
    assert_clean_error(appliance("serve", "web", "--data-dir", str(data)), *words)


def test_user_add_reads_the_password_from_stdin_and_audits(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    appliance("init", "--data-dir", data)
    added = appliance(
        "user",
        "add",
        "Rae@Example.com",
        "--role",
        "recruiter",
        "--password-stdin",
        "--data-dir",
        data,
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "rae@example.com (recruiter)" in added.stdout
    duplicate = appliance(
        "user",
        "add",
        "rae@example.com",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        data,
        stdin=PASSWORD + "\n",
    )
    assert_clean_error(duplicate, "already exists")
    short = appliance(
        "user",
        "add",
        "sam@example.com",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        data,
        stdin="short\n",
    )
    assert_clean_error(short, "at least 10")
    verified = appliance("audit", "verify", "--data-dir", data)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: ")


def test_commands_on_a_missing_data_dir_say_so(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    assert_clean_error(
        appliance(
            "user",
            "add",
            "a@example.com",
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
            missing,
            stdin=PASSWORD + "\n",
        ),
        "does not exist",
    )
    assert_clean_error(appliance("audit", "verify", "--data-dir", missing))


def test_serve_runs_web_sfu_and_worker_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    web_port, sfu_port = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "APPLIANCE_SFU_PORT": str(sfu_port),
        "APPLIANCE_WEB_REPORT_SERVICES": "true",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appliance",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(web_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        sfu = json.loads(wait_for_http(f"http://127.0.0.1:{sfu_port}/healthz", deadline))
        assert sfu["status"] == "ok"
        # Run by hand, nothing hides the data dir's secrets from the SFU, and health says so
        # (the appliance's units hide them: the image's boot test checks the list is empty).
        assert sfu["readable_secrets"] == [
            "keys/kek.key",
            "keys/signing.key",
            "keys/intake.key",
            "appliance.db",
        ]
        # 503 until the SFU and the worker are up too: _wait_for retries until a 200.
        health = json.loads(wait_for_http(f"http://127.0.0.1:{web_port}/healthz", deadline))
        components = {c["name"]: c["ok"] for c in health["components"]}
        assert health["status"] == "ok" and components["sfu"] and components["worker"]
        sfu_detail = next(c["detail"] for c in health["components"] if c["name"] == "sfu")
        assert sfu_detail == "0 rooms; can read secrets"
        # Without a token, metrics answer the box itself, not a client behind its proxy.
        local = f"http://127.0.0.1:{web_port}/metrics"
        assert b"parley_audit_entries" in wait_for_http(local, deadline)
        forwarded = urllib.request.Request(local, headers={"X-Forwarded-For": "192.0.2.8"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forwarded, timeout=10)
        assert refused.value.code == 403
        validate(json.loads(wait_for_http(f"http://127.0.0.1:{web_port}/schema", deadline)))
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
        assert len(children.stdout.split()) == 3
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "/setup/" in out
    assert "Traceback" not in err
    verified = appliance("audit", "verify", "--data-dir", str(data))
    assert verified.returncode == 0, verified.stderr


@pytest.mark.parametrize("kept", [b"", b"\xff\xfe not a token", b"x" * 10_000, b"A" * 43])
def test_a_damaged_or_foreign_setup_token_file_is_replaced_by_a_working_link(
    tmp_path: Path, kept: bytes
) -> None:
    """Whatever the kept file holds (empty, not text, oversized, a token that was never
    issued), the link printed next works and nothing fails."""
    config = load_config(tmp_path / "data", environ={})
    initialize(config)
    (config.data_dir / firstrun.TOKEN_FILE).write_bytes(kept)
    url = initialize(config).setup_url
    assert url is not None
    runtime = open_runtime(config)
    try:
        assert firstrun.token_is_valid(url.rsplit("/", 1)[1])
    finally:
        runtime.close()
