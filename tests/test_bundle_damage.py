"""A damaged export bundle, at any offset, gets one clear `appliance: error:` line from
`recordings verify` and `recordings decrypt`, never a traceback, and decrypt writes nothing; an
export of a blob damaged on disk is refused instead of signed."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.db.models import RecordingBlob
from appliance.recordings import bundle
from appliance.recordings.store import blob_store, import_files
from appliance.runtime import Runtime
from appliance.storage.recipients import generate_identity

CHUNK = 4096  # small chunks: the blob spans many, so offsets land in every part of the format


@pytest.fixture
def exported(runtime: Runtime, tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A bundle of one recording (a 40 kB file), the officer's identity file, the plaintext."""
    runtime.config.storage.chunk_size = CHUNK
    content = os.urandom(40_000)
    media = tmp_path / "answer.ogg"
    media.write_bytes(content)
    recording = import_files(runtime, "test", [media], "alex@example.com", None)
    identity = generate_identity()
    identity_file = tmp_path / "officer.key"
    identity_file.write_text(identity.to_text())
    out = tmp_path / "case.bundle"
    bundle.export(runtime, "test", recording.id, identity.recipient, out)
    return out, identity_file, content


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _decrypt(
    capsys: pytest.CaptureFixture[str], source: Path, identity: Path, target: Path
) -> tuple[int, str, str]:
    return _run(
        capsys,
        "recordings",
        "decrypt",
        str(source),
        "--identity",
        str(identity),
        "--out",
        str(target),
    )


def _offsets(size: int, members: list[tarfile.TarInfo]) -> list[int]:
    """Evenly spread offsets, and every member's header and data boundaries."""
    spread = set(range(0, size, max(1, size // 48)))
    for member in members:
        for at in (member.offset, member.offset_data, member.offset_data + member.size):
            spread |= {at - 1, at, at + 1}
    return sorted(o for o in spread if 0 <= o < size)


def _assert_clean_refusal(code: int, out: str, err: str) -> None:
    assert code == 1, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("appliance: error:"), err


def test_a_truncated_bundle_is_refused_at_every_offset(
    exported: tuple[Path, Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, identity, _ = exported
    whole = source.read_bytes()
    with tarfile.open(source) as archive:
        members = archive.getmembers()
    blob_end = max(m.offset_data + m.size for m in members)
    damaged = tmp_path / "truncated.bundle"
    for length in _offsets(blob_end, members):
        damaged.write_bytes(whole[:length])
        _assert_clean_refusal(*_run(capsys, "recordings", "verify", str(damaged)))
        target = tmp_path / f"plain-{length}"
        _assert_clean_refusal(*_decrypt(capsys, damaged, identity, target))
        assert not target.exists() or not any(target.iterdir())


def test_a_flipped_byte_is_refused_or_changes_nothing(
    exported: tuple[Path, Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flip in tar padding or an unread header field is harmless; anywhere else it is caught."""
    source, identity, content = exported
    whole = source.read_bytes()
    with tarfile.open(source) as archive:
        members = archive.getmembers()
    damaged = tmp_path / "flipped.bundle"
    refused = 0
    offsets = _offsets(len(whole), members)
    for offset in offsets:
        data = bytearray(whole)
        data[offset] ^= 0x5A
        damaged.write_bytes(bytes(data))
        target = tmp_path / f"plain-{offset}"
        code, out, err = _decrypt(capsys, damaged, identity, target)
        verified = _run(capsys, "recordings", "verify", str(damaged))
        if code == 0:
            assert verified[0] == 0
            assert [p.read_bytes() for p in target.iterdir()] == [content]
        else:
            refused += 1
            _assert_clean_refusal(code, out, err)
            _assert_clean_refusal(*verified)
            assert not target.exists() or not any(target.iterdir())
    assert refused > len(offsets) // 2  # most of a bundle is signed or hashed


def test_an_export_of_a_blob_damaged_on_disk_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    runtime.config.storage.chunk_size = CHUNK
    media = tmp_path / "answer.ogg"
    media.write_bytes(os.urandom(40_000))
    recording = import_files(runtime, "test", [media], "alex@example.com", None)
    blob = RecordingBlob.get(RecordingBlob.recording == recording)
    path = blob_store(runtime).path(bytes.fromhex(blob.object_id))
    for offset in (0, 100, path.stat().st_size // 2, path.stat().st_size - 1):
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x01
        path.write_bytes(bytes(data))
        out = tmp_path / f"case-{offset}.bundle"
        with pytest.raises(bundle.BundleInvalid, match="does not match the SHA-256"):
            bundle.export(runtime, "test", recording.id, generate_identity().recipient, out)
        assert not out.exists()
        data[offset] ^= 0x01
        path.write_bytes(bytes(data))
    bundle.export(runtime, "test", recording.id, generate_identity().recipient, tmp_path / "ok")
    assert bundle.verify(tmp_path / "ok").blobs == 1


def test_a_bundle_carries_the_boxs_audit_checkpoint_for_the_officer_to_keep(
    runtime: Runtime,
    exported: tuple[Path, Path, bytes],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, _, _ = exported
    report = bundle.verify(source)
    with tarfile.open(source) as archive:
        member = archive.extractfile(bundle.NOTE_FILE)
        assert member is not None
        note = member.read()
    assert report.note_seq is not None and report.note_seq == int(note.split(b"\n")[1])
    code, out, _ = _run(capsys, "recordings", "verify", str(source))
    assert code == 0 and f"audit checkpoint at entry {report.note_seq}" in out
    kept = tmp_path / "kept.note"
    kept.write_bytes(note)
    data_dir = str(runtime.config.data_dir)
    code, out, err = _run(capsys, "audit", "verify", "--data-dir", data_dir, "--against", str(kept))
    assert code == 0, err

    # The note is bound by the signed manifest: one altered, even validly re-signed, is refused.
    with tarfile.open(source) as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]  # type: ignore[union-attr]
    altered = tmp_path / "altered.bundle"
    with tarfile.open(altered, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            if info.name == bundle.NOTE_FILE:
                data = data.replace(b"\n", b"\n\n", 1)
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    _assert_clean_refusal(*_run(capsys, "recordings", "verify", str(altered)))


def test_a_bundle_holds_exactly_what_its_manifest_names(
    runtime: Runtime, exported: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    """Even under a valid signature (a stolen key), a manifest that leaves a recording file
    out, or names none, is refused rather than decrypting to nothing."""
    source, _, _ = exported
    with tarfile.open(source) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    manifest = json.loads(members[bundle.MANIFEST])
    manifest["blobs"] = []
    body = json.dumps(manifest).encode()
    signature = runtime.keys.signing_key.sign(bundle.SIGNATURE_DOMAIN + body).hex().encode()
    forged = tmp_path / "forged.bundle"
    with tarfile.open(forged, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in {**members, bundle.MANIFEST: body, bundle.SIGNATURE: signature}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(bundle.BundleInvalid, match="names no recording files"):
        bundle.verify(forged)
    stray = tmp_path / "stray.bundle"
    with tarfile.open(stray, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in {**members, "blobs/stray.sealed": b"x" * 100}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(bundle.BundleInvalid, match="does not name"):
        bundle.verify(stray)
