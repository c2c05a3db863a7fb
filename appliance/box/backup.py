"""Backups of a whole appliance, sealed for a recipient whose private key stays off the box.

A backup holds what a fresh box needs to become this one: a consistent snapshot of the
database (taken with SQLite's online backup, so the appliance keeps running), the keys, the
configuration and, unless left out, the sealed blobs exactly as stored. Because it holds the
key-encryption key, the whole archive is sealed (docs/recording-format.md's sealed format) under
a fresh data key wrapped for the backup recipient, like an export bundle.

File layout: the line "parley-backup-v1", one line of JSON (created_at, schema version, key id,
object id, wrapped key), then the sealed object: a tar stream of the members above.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from appliance import __version__
from appliance.box.datadir import ensure_writable_dir, initialize
from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.migrations import LATEST
from appliance.runtime import Runtime, open_runtime
from appliance.storage.audit_anchor import FILE_NAME, anchor_path
from appliance.storage.recipients import (
    Identity,
    UnwrapFailed,
    parse_recipient,
    unwrap_with_identity,
    wrap_for_recipient,
)
from appliance.storage.sealed import SealedReader, SealError, SealWriter, new_object_id

MAGIC = b"parley-backup-v1\n"
MAX_HEADER = 16 * 1024
CHUNK = 1024 * 1024
DATABASE = "appliance.db"
CONFIG = "appliance.toml"
AUDIT_NOTE = FILE_NAME
# What a backup may hold, relative to the data dir; restore refuses anything else.
KEY_FILES = (
    "keys/kek.key",
    "keys/signing.key",
    "keys/signing.pub",
    "keys/intake.key",
    "keys/intake.pub",
)


class BackupInvalid(ApplianceError):
    """The file is not a backup, was altered or cut short, or is for another key."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    members: int
    blobs: int
    bytes_written: int


class _Sink(io.RawIOBase):
    """Hands tarfile's stream to the sealing writer."""

    def __init__(self, writer: SealWriter) -> None:
        super().__init__()
        self.writer = writer

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self.writer.write(bytes(data))


class _Window(io.RawIOBase):
    """The part of a file after the backup's header, seen as a file of its own."""

    def __init__(self, file: IO[bytes], start: int) -> None:
        super().__init__()
        self.file, self.start = file, start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            offset += self.start
        return self.file.seek(offset, whence) - self.start

    def tell(self) -> int:
        return self.file.tell() - self.start

    def readinto(self, buffer: Any) -> int:
        data = self.file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _snapshot(database: Path, into: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included)."""
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    target = sqlite3.connect(into)
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


def create(
    runtime: Runtime, actor: str, out: Path, recipient: str, blobs: bool = True
) -> BackupReport:
    """Write a backup of `runtime`'s appliance to `out` (a new file) for `recipient`."""
    parse_recipient(recipient)
    config = runtime.config
    if config.database.url:
        raise ApplianceError(
            "this appliance uses an external database: back it up with its own tools "
            "(pg_dump), and this command with the data dir's keys"
        )
    if out.exists():
        raise ApplianceError(f"{out} already exists; choose a new file name")
    key_id, object_id, data_key = secrets.token_bytes(16), new_object_id(), secrets.token_bytes(32)
    header = {
        "created_at": utcnow().isoformat(timespec="seconds") + "Z",
        "version": __version__,
        "schema": LATEST,
        "key_id": key_id.hex(),
        "object_id": object_id.hex(),
        "recipient": recipient.strip(),
        "wrapped": base64.b64encode(wrap_for_recipient(recipient, key_id, data_key)).decode(),
    }
    runtime.audit.record(actor, "backup.create", str(out), {"recipient": recipient.strip()})
    out.parent.mkdir(parents=True, exist_ok=True)
    members = blob_count = 0
    fd, partial = tempfile.mkstemp(dir=out.parent, prefix=".backup-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n")
            writer = SealWriter(file, data_key, key_id, object_id, config.storage.chunk_size)
            with (
                tempfile.TemporaryDirectory(dir=config.data_dir, prefix=".backup-") as scratch,
                tarfile.open(fileobj=_Sink(writer), mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                # The audit checkpoint note is copied before the database: it then names an
                # entry the snapshot holds, and the restored box verifies against it.
                note = Path(scratch) / AUDIT_NOTE
                if anchor_path(config.data_dir).is_file():
                    shutil.copyfile(anchor_path(config.data_dir), note)
                snapshot = Path(scratch) / DATABASE
                _snapshot(config.data_dir / DATABASE, snapshot)
                tar.add(snapshot, DATABASE)
                members += 1
                if note.is_file():
                    tar.add(note, AUDIT_NOTE)
                    members += 1
                for name in (CONFIG, *KEY_FILES):
                    if (config.data_dir / name).is_file():
                        tar.add(config.data_dir / name, name)
                        members += 1
                if blobs and config.blob_dir.is_dir():
                    for path in sorted(config.blob_dir.rglob("*")):
                        if path.is_file() and not path.name.startswith("."):
                            tar.add(path, f"blobs/{path.relative_to(config.blob_dir)}")
                            blob_count += 1
            writer.close()
            file.flush()
            os.fsync(file.fileno())
        os.link(partial, out)
        size = out.stat().st_size
    finally:
        os.unlink(partial)
    return BackupReport(out, members + blob_count, blob_count, size)


def _read_header(file: IO[bytes]) -> dict[str, Any]:
    if file.read(len(MAGIC)) != MAGIC:
        raise BackupInvalid("this is not a Parley backup")
    line = file.readline(MAX_HEADER)
    try:
        header: dict[str, Any] = json.loads(line)
        for field in ("key_id", "object_id", "wrapped"):
            str(header[field])
    except (ValueError, KeyError, TypeError):
        raise BackupInvalid("the backup's header is damaged") from None
    return header


@contextmanager
def _opened(path: Path, identity: Identity) -> Iterator[tuple[dict[str, Any], tarfile.TarFile]]:
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise ApplianceError(f"{path} does not exist") from None
    with file:
        header = _read_header(file)
        try:
            key_id = bytes.fromhex(header["key_id"])
            data_key = unwrap_with_identity(identity, key_id, base64.b64decode(header["wrapped"]))
            reader = SealedReader(
                cast(IO[bytes], _Window(file, file.tell())),
                data_key,
                key_id,
                bytes.fromhex(header["object_id"]),
            )
        except UnwrapFailed:
            raise BackupInvalid("this backup was made for another recipient's key") from None
        except (SealError, ValueError) as exc:
            raise BackupInvalid(f"the backup is damaged: {exc}") from None
        stream = _Chunks(reader.stream())
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            yield header, tar


class _Chunks(io.RawIOBase):
    """The backup's authenticated plaintext as a stream for tarfile."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
            except SealError as exc:
                raise BackupInvalid(f"the backup is damaged: {exc}") from None
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _allowed(name: str) -> bool:
    parts = Path(name).parts
    if not parts or name.startswith("/") or ".." in parts:
        return False
    return name in (DATABASE, CONFIG, AUDIT_NOTE, *KEY_FILES) or (
        parts[0] == "blobs" and len(parts) == 3
    )


def restore(config: Config, path: Path, identity: Identity) -> BackupReport:
    """Make the (fresh) data dir of `config` the appliance in the backup, then bring its
    database up to this release's schema. Nothing is left behind if the backup is bad."""
    data_dir = config.data_dir
    if (data_dir / DATABASE).exists() or (data_dir / "keys").exists():
        raise ApplianceError(
            f"{data_dir} already holds an appliance; restore into a new, empty data dir"
        )
    ensure_writable_dir(data_dir)
    staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".restore-"))
    members = blobs = 0
    try:
        with _opened(path, identity) as (header, tar):
            if int(header.get("schema", 0)) > LATEST:
                raise ApplianceError(
                    f"the backup is from a newer release (schema {header['schema']}); "
                    "install that release or newer to restore it"
                )
            for member in tar:
                if not member.isfile() or not _allowed(member.name):
                    raise BackupInvalid(f"the backup holds an unexpected entry {member.name!r}")
                target = staging / member.name
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while block := source.read(CHUNK):
                        out.write(block)
                members += 1
                blobs += member.name.startswith("blobs/")
        if not (staging / DATABASE).is_file() or not (staging / "keys" / "kek.key").is_file():
            raise BackupInvalid("the backup has no database or no keys")
        for file in sorted(p for p in staging.rglob("*") if p.is_file()):
            name = file.relative_to(staging)
            destination = (
                config.blob_dir / name.relative_to("blobs")
                if name.parts[0] == "blobs"
                else data_dir / name
            )
            destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(file, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    initialize(config)
    runtime = open_runtime(config)
    try:
        runtime.audit.record(
            "cli", "backup.restore", str(path), {"created_at": str(header.get("created_at"))}
        )
    finally:
        runtime.close()
    return BackupReport(path, members, blobs, path.stat().st_size)
