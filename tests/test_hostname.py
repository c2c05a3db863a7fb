"""The host name set in the browser, applied by the root oneshot: files, and the kernel's name
inside a UTS namespace of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.box import settings
from appliance.box.hostname import apply_hostname
from appliance.runtime import Runtime

HOSTS = "127.0.0.1 localhost\n127.0.1.1 parley\n::1 localhost ip6-localhost\n"


def _uts_namespace_available() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-u", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _uts_namespace_available(), reason="needs root and unshare -u")
def test_the_saved_host_name_reaches_the_files_and_the_kernel(
    runtime: Runtime, tmp_path: Path
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "hostname").write_text("parley\n")
    (etc / "hosts").write_text(HOSTS)
    settings.save_settings(
        runtime.audit, "admin", runtime.config.data_dir, {"system": {"hostname": "hr.corp.test"}}
    )
    apply = [sys.executable, "-m", "appliance", "system", "apply-hostname"]
    apply += ["--data-dir", str(runtime.config.data_dir), "--etc", str(etc)]
    script = 'set -e; "$@"; "$@"; hostname'
    result = subprocess.run(
        ["unshare", "-u", "sh", "-c", script, "sh", *apply],
        capture_output=True,
        text=True,
        check=True,
    )
    first, second, kernel = result.stdout.splitlines()
    assert first == "The host name is now hr.corp.test."
    assert second == "The host name is unchanged."  # a second restart changes nothing
    assert kernel == "hr.corp.test"
    assert (etc / "hostname").read_text() == "hr.corp.test\n"
    assert (etc / "hosts").read_text() == (
        "127.0.0.1 localhost\n127.0.1.1 hr.corp.test hr\n::1 localhost ip6-localhost\n"
    )


def test_no_stored_name_leaves_the_machine_alone(tmp_path: Path) -> None:
    renamed: list[str] = []
    assert apply_hostname("", tmp_path, renamed.append) is None
    assert renamed == [] and not (tmp_path / "hostname").exists()


def test_a_hosts_file_without_the_machine_line_gets_one(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    renamed: list[str] = []
    assert apply_hostname("box", tmp_path, renamed.append) == "box"
    assert renamed == ["box"]
    assert (tmp_path / "hosts").read_text() == "127.0.0.1 localhost\n127.0.1.1 box\n"
