"""The storage commands as an operator and a compliance officer run them."""

import os
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from tests.test_cli import appliance, assert_clean_error

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert appliance("init", "--data-dir", str(data)).returncode == 0
    return data


def _recipient(tmp_path: Path, name: str = "officer.key") -> tuple[Path, str]:
    made = appliance("keys", "new-recipient", "--out", str(tmp_path / name))
    assert made.returncode == 0, made.stderr
    return tmp_path / name, made.stdout.strip()


def _import(box: Path, tmp_path: Path, email: str = "alex@example.com") -> tuple[str, bytes]:
    media = tmp_path / f"{email}.ogg"
    content = os.urandom(200_000)
    media.write_bytes(content)
    imported = appliance(
        "recordings", "import", str(media), "--candidate-email", email, "--data-dir", str(box)
    )
    assert imported.returncode == 0, imported.stderr
    return imported.stdout.strip(), content


def _export(box: Path, recording_id: str, recipient: str, out: Path) -> None:
    exported = appliance(
        "recordings",
        "export",
        recording_id,
        "--recipient",
        recipient,
        "--out",
        str(out),
        "--data-dir",
        str(box),
    )
    assert exported.returncode == 0, exported.stderr


def test_officer_export_verify_decrypt(box: Path, tmp_path: Path) -> None:
    identity, recipient = _recipient(tmp_path)
    assert identity.stat().st_mode & 0o777 == 0o600
    recording_id, content = _import(box, tmp_path)
    out = tmp_path / "case.bundle"
    _export(box, recording_id, recipient, out)
    signer = str(box / "keys" / "signing.pub")
    verified = appliance("recordings", "verify", str(out), "--signer", signer)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: recording")
    decrypted = appliance(
        "recordings", "decrypt", str(out), "--identity", str(identity), "--out", str(tmp_path / "p")
    )
    assert decrypted.returncode == 0, decrypted.stderr
    assert Path(decrypted.stdout.strip()).read_bytes() == content
    stranger, _ = _recipient(tmp_path, "stranger.key")
    refused = appliance(
        "recordings", "decrypt", str(out), "--identity", str(stranger), "--out", str(tmp_path / "q")
    )
    assert_clean_error(refused, "another recipient")
    damaged = tmp_path / "damaged.bundle"
    with tarfile.open(out) as archive:
        blob = next(m for m in archive.getmembers() if m.name.startswith("blobs/"))
    data = bytearray(out.read_bytes())
    data[blob.offset_data + 5000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert_clean_error(appliance("recordings", "verify", str(damaged)))


def test_keys_rotate_keeps_recordings_readable(box: Path, tmp_path: Path) -> None:
    identity, recipient = _recipient(tmp_path)
    recording_id, content = _import(box, tmp_path)
    rotated = appliance("keys", "rotate", "--data-dir", str(box))
    assert rotated.returncode == 0 and "re-wrapped 1 data keys" in rotated.stdout
    out = tmp_path / "after.bundle"
    _export(box, recording_id, recipient, out)
    decrypted = appliance(
        "recordings", "decrypt", str(out), "--identity", str(identity), "--out", str(tmp_path / "p")
    )
    assert Path(decrypted.stdout.strip()).read_bytes() == content


def test_erase_retention_and_audit(box: Path, tmp_path: Path) -> None:
    _import(box, tmp_path)
    dry = appliance("retention", "run", "--dry-run", "--data-dir", str(box))
    assert dry.returncode == 0 and "No candidate" in dry.stdout
    erased = appliance("candidates", "erase", "1", "--data-dir", str(box))
    assert erased.returncode == 0 and "1 recordings" in erased.stdout
    assert_clean_error(appliance("candidates", "erase", "1", "--data-dir", str(box)), "already")
    assert_clean_error(
        appliance("candidates", "erase", "99", "--data-dir", str(box)), "no candidate"
    )
    verified = appliance("audit", "verify", "--data-dir", str(box))
    assert verified.returncode == 0, verified.stderr


def test_bad_recipient_strings_and_files(box: Path, tmp_path: Path) -> None:
    assert_clean_error(
        appliance("keys", "add-recipient", "age1nope", "--data-dir", str(box)), "parley-recipient"
    )
    identity, _ = _recipient(tmp_path)
    assert_clean_error(appliance("keys", "new-recipient", "--out", str(identity)), "already exists")
    assert_clean_error(
        appliance(
            "recordings",
            "decrypt",
            str(tmp_path / "none.bundle"),
            "--identity",
            str(identity),
            "--out",
            str(tmp_path / "o"),
        ),
        "does not exist",
    )


def test_decrypt_needs_only_the_package_in_a_fresh_virtualenv(box: Path, tmp_path: Path) -> None:
    identity, recipient = _recipient(tmp_path)
    recording_id, content = _import(box, tmp_path)
    out = tmp_path / "case.bundle"
    _export(box, recording_id, recipient, out)
    env_dir = tmp_path / "officer-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    installed = subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "--quiet", str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [
            str(env_dir / "bin" / "appliance"),
            "recordings",
            "decrypt",
            str(out),
            "--identity",
            str(identity),
            "--out",
            str(elsewhere / "plain"),
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere)},
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).read_bytes() == content
    assert not (elsewhere / ".local" / "share" / "parley").exists()
    assert sys.prefix != str(env_dir)
