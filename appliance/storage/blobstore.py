"""The local blob store: sealed objects as files under the data dir, named by object id."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from appliance.core.errors import ApplianceError

SUFFIX = ".sealed"


class BlobMissing(ApplianceError):
    """The blob store has no file for an object the database names."""


class HashingFile:
    """Passes writes to a file, or reads from it, while hashing the bytes: the sealed SHA-256
    of what was written or copied, without a second pass over the file."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.out.read(size)
        self.sha256.update(data)
        return data

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.sha256.update(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()

    def fileno(self) -> int:
        return self.out.fileno()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, object_id: bytes) -> Path:
        name = object_id.hex()
        return self.root / name[:2] / f"{name}{SUFFIX}"

    def create(self, object_id: bytes) -> BinaryIO:
        """A new, empty, private file for `object_id`; never replaces an existing one."""
        path = self.path(object_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb")

    def open(self, object_id: bytes) -> BinaryIO:
        try:
            return self.path(object_id).open("rb")
        except FileNotFoundError:
            raise BlobMissing(f"blob {object_id.hex()} is missing from the blob store") from None

    def delete(self, object_id: bytes) -> bool:
        try:
            self.path(object_id).unlink()
        except FileNotFoundError:
            return False
        return True
