"""The systemd units: they load cleanly (systemd-analyze verify) and their sandbox scores an
exposure of at most 3.0 (systemd-analyze security), with and without the GPU drop-in; their
commands are ones the appliance accepts; the SFU never sees the data dir's secrets."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import worker
from appliance.cli import build_parser

UNITS = Path(__file__).resolve().parents[1] / "systemd"
SERVICES = ["appliance-init", "appliance-web", "appliance-sfu", "appliance-worker"]
EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="needs systemd-analyze")


def _root(tmp_path: Path, gpu: bool = False) -> Path:
    """An offline root: the host's own system units, ours, and a stand-in for the venv."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(UNITS, root / "etc/systemd/system", ignore=shutil.ignore_patterns("gpu.conf"))
    if gpu:
        for unit in ("appliance-worker", "appliance-sfu"):
            dropins = root / f"etc/systemd/system/{unit}.service.d"
            dropins.mkdir()
            shutil.copy(UNITS / "gpu.conf", dropins / "gpu.conf")
    executable = root / "opt/parley/venv/bin/appliance"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    return root


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60)


def test_the_units_load_cleanly(tmp_path: Path) -> None:
    root = _root(tmp_path)
    result = _analyze(
        "verify", f"--root={root}", *[f"{s}.service" for s in SERVICES], "appliance.target"
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_every_service_is_sandboxed_to_an_exposure_of_at_most_3(tmp_path: Path, gpu: bool) -> None:
    root = _root(tmp_path, gpu)
    for service in SERVICES:
        result = _analyze(
            "security", "--offline=yes", f"--root={root}", "--threshold=30", f"{service}.service"
        )
        assert result.returncode == 0, result.stdout[-2000:]
        match = EXPOSURE.search(result.stdout)
        assert match and float(match.group(1)) <= 3.0, (service, match and match.group(0))


def test_the_services_run_commands_the_appliance_accepts() -> None:
    parser = build_parser()
    for service in SERVICES:
        text = (UNITS / f"{service}.service").read_text()
        [command] = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
        argv = shlex.split(command)
        assert argv[0] == "/opt/parley/venv/bin/appliance"
        args = parser.parse_args(argv[1:])
        assert args.data_dir == "/var/lib/parley"


def test_the_sfu_cannot_read_the_secrets_of_the_data_dir() -> None:
    text = (UNITS / "appliance-sfu.service").read_text()
    hidden = {
        p.lstrip("-")
        for line in re.findall(r"^InaccessiblePaths=(.+)$", text, re.MULTILINE)
        for p in line.split()
    }
    for secret in ("keys/kek.key", "keys/signing.key", "keys/intake.key", "appliance.db"):
        assert f"/var/lib/parley/{secret}" in hidden


def test_every_service_runs_with_onnxruntime_telemetry_off() -> None:
    """The shared drop-in (appliance-.service.d applies to every appliance-*.service) sets it."""
    dropin = (UNITS / "appliance-.service.d" / "10-sandbox.conf").read_text()
    assert re.search(r"^Environment=ORT_DISABLE_TELEMETRY=1$", dropin, re.MULTILINE)
    assert all(service.startswith("appliance-") for service in SERVICES)


def test_live_rooms_get_the_cpu_before_the_worker_does() -> None:
    def setting(service: str, key: str) -> int:
        text = (UNITS / f"{service}.service").read_text()
        found = re.search(rf"^{key}=(\d+)$", text, re.MULTILINE)
        return int(found[1]) if found else 100

    assert setting("appliance-sfu", "CPUWeight") >= 10 * setting("appliance-worker", "CPUWeight")
    assert setting("appliance-worker", "Nice") >= worker.WORKER_NICENESS


def test_the_worker_lowers_its_own_priority_when_nothing_else_did() -> None:
    code = "from appliance import worker; print(worker.lower_priority(), worker.lower_priority())"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.stdout.split() == [str(worker.WORKER_NICENESS)] * 2, ran.stderr


def test_a_worker_whose_sandbox_refuses_to_renice_it_starts_anyway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The units' seccomp filter (`~@resources`) refuses setpriority with EPERM; the unit's
    `Nice=` has done the work, and a worker started without it must still start."""

    def refused(*args: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(worker.os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(worker.os, "setpriority", refused)
    assert worker.lower_priority() == 0
    monkeypatch.setattr(worker.os, "getpriority", lambda which, who: 10)
    assert worker.lower_priority() == 10  # set by the unit: nothing to ask for


IMAGE_FILES = UNITS.parent / "image" / "files"


def test_the_images_own_units_load_cleanly(tmp_path: Path) -> None:
    root = _root(tmp_path)
    units = [*IMAGE_FILES.glob("parley-*.service"), *IMAGE_FILES.glob("parley-*.path")]
    for unit in units:
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    (root / "opt/parley/bin").mkdir(parents=True)
    shutil.copy(IMAGE_FILES / "console-banner", root / "opt/parley/bin/console-banner")
    for tool in ("usr/bin/openssl", "usr/bin/install", "bin/chmod", "bin/systemctl", "bin/rm"):
        (root / tool).parent.mkdir(parents=True, exist_ok=True)
        (root / tool).write_text("#!/bin/sh\n")
        (root / tool).chmod(0o755)
    names = sorted(unit.name for unit in units)
    result = _analyze("verify", f"--root={root}", *names)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_images_configuration_is_one_the_appliance_accepts(tmp_path: Path) -> None:
    from appliance.core.config import load_config
    from appliance.web.sfu_link import sfu_link

    config = load_config(tmp_path, IMAGE_FILES / "appliance.toml", environ={})
    assert config.web.report_services and (config.web.host, config.sfu.host) == (
        "127.0.0.1",
        "127.0.0.1",
    )
    nginx = (IMAGE_FILES / "nginx-parley.conf").read_text()
    assert f"proxy_pass http://127.0.0.1:{config.web.port};" in nginx
    assert f"proxy_pass http://127.0.0.1:{config.sfu.port};" in nginx
    assert sfu_link(config).url == "/sfu/ws" and "location /sfu/ {" in nginx
    assert f"ssl_certificate {config.web.tls_dir}/cert.pem;" in nginx
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in nginx
    # The SFU's own health report (which names the files it can read) stays on the box.
    assert "proxy_pass http://127.0.0.1:8081/healthz" not in nginx
    assert "location = /sfu/healthz {\n        return 404;" in nginx


def test_the_sfus_open_file_limit_holds_far_more_rooms_than_a_box_can_run() -> None:
    from appliance.core.config import SfuConfig
    from appliance.sfu.connections import connection_budget

    found = re.search(r"^LimitNOFILE=(\d+)$", (UNITS / "appliance-sfu.service").read_text(), re.M)
    assert found, "the SFU's unit sets no open-file limit"
    # bench/sfu.py measures 8 recorded rooms on 2 cores; 100 rooms of the most people is
    # far past any box this runs on.
    sfu = SfuConfig(max_rooms=100)
    assert connection_budget(sfu, int(found[1])) >= sfu.max_rooms * sfu.max_participants
