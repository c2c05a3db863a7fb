"""Small files the processes share: replaced whole, so a reader (or a crash) sees the old
content or the new, never half; and read with a bound, so a planted huge file costs nothing."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` beside `path`, sync it, rename it over `path`, and sync the directory so
    the rename survives a crash. The file gets exactly `mode`, whatever the umask."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), mode)
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TooLarge(ValueError):
    """The file is larger than any the reader expects."""


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The file's bytes, None when it does not exist; TooLarge past `limit` bytes, OSError when
    it cannot be read."""
    try:
        with path.open("rb") as file:
            raw = file.read(limit + 1)
    except FileNotFoundError:
        return None
    if len(raw) > limit:
        raise TooLarge(f"{path} is larger than {limit} bytes")
    return raw
