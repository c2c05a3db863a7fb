"""The sealed object format: a streaming, chunked AEAD envelope (see docs/recording-format.md).

A sealed object is a 104-byte header followed by chunks that are all exactly
`chunk_size + 16` bytes. Each chunk is AES-256-GCM under a key derived from the object's data
key and the header's salt, with nonce = prefix (7) || chunk counter (4) || last-chunk flag (1)
and the header as associated data. Non-final chunks carry `chunk_size` bytes of data; the final
chunk carries the rest, padded with 0x80 then zeros. So:

- any chunk can be read alone (random access, HTTP Range);
- a file whose length is not header + whole chunks was cut mid-chunk (unfinished);
- a file whose last whole chunk is not marked final was cut at a chunk boundary (unfinished);
- a chunk that does not authenticate at its position was altered, moved or duplicated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.core.errors import ApplianceError

MAGIC = b"PRLYSEAL"
VERSION = 1
AEAD_AES_256_GCM = 1
TAG_BYTES = 16
KEY_BYTES = 32
ID_BYTES = 16
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
# magic, version, aead, reserved(2), chunk size, key id, object id, salt, nonce prefix, reserved
_FIELDS = struct.Struct(">8sBBHI16s16s16s7sB")
AUTHENTICATED_BYTES = _FIELDS.size  # 72
HEADER_BYTES = AUTHENTICATED_BYTES + 32  # + HMAC-SHA256
PADDING_MARK = 0x80


class SealError(ApplianceError):
    """A sealed object could not be read; the subclass says why."""


class NotSealed(SealError):
    """The bytes are not a sealed object of a version this release reads."""


class ForeignHeader(SealError):
    """The header names another key or object than the one asked for."""


class HeaderTampered(SealError):
    """The header does not authenticate with the data key: altered, or sealed under another key."""


class ChunkTampered(SealError):
    """A chunk does not authenticate at its position: altered, swapped or duplicated."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class Truncated(SealError):
    """The object ends before its final chunk: the writer stopped (or the file was cut)."""

    def __init__(self, complete_chunks: int, message: str) -> None:
        super().__init__(message)
        self.complete_chunks = complete_chunks


class Sink(Protocol):
    """Where a SealWriter writes: a file, or anything passing writes on to one."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def flush(self) -> None: ...

    def fileno(self) -> int: ...


@dataclass(frozen=True)
class Header:
    chunk_size: int
    key_id: bytes
    object_id: bytes
    salt: bytes
    nonce_prefix: bytes
    raw: bytes  # all HEADER_BYTES, MAC included

    @property
    def authenticated(self) -> bytes:
        return self.raw[:AUTHENTICATED_BYTES]

    @property
    def sealed_chunk_bytes(self) -> int:
        return self.chunk_size + TAG_BYTES


def _derive(data_key: bytes, salt: bytes, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=SHA256(), length=KEY_BYTES, salt=salt, info=b"parley-seal-v1 " + purpose
    ).derive(data_key)


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if final else 0)


def encode_header(
    data_key: bytes,
    key_id: bytes,
    object_id: bytes,
    chunk_size: int,
    salt: bytes,
    nonce_prefix: bytes,
) -> Header:
    """The header bytes for an object; salt and prefix are random except in test vectors."""
    if len(data_key) != KEY_BYTES:
        raise ValueError("a data key is 32 bytes")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE} bytes")
    fields = _FIELDS.pack(
        MAGIC, VERSION, AEAD_AES_256_GCM, 0, chunk_size, key_id, object_id, salt, nonce_prefix, 0
    )
    mac = hmac.new(_derive(data_key, salt, b"header"), fields, hashlib.sha256).digest()
    return Header(chunk_size, key_id, object_id, salt, nonce_prefix, fields + mac)


def parse_header(raw: bytes) -> Header:
    """Read the header's fields without checking its MAC (that needs the data key)."""
    if len(raw) < HEADER_BYTES:
        raise NotSealed(f"not a sealed object: {len(raw)} bytes is shorter than a header")
    magic, version, aead, _, chunk_size, key_id, object_id, salt, prefix, _ = _FIELDS.unpack(
        raw[:AUTHENTICATED_BYTES]
    )
    if magic != MAGIC:
        raise NotSealed("not a sealed object (the file does not start with PRLYSEAL)")
    if version != VERSION or aead != AEAD_AES_256_GCM:
        raise NotSealed(f"sealed object version {version}/aead {aead} is not supported")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise NotSealed(f"sealed object declares an invalid chunk size {chunk_size}")
    return Header(chunk_size, key_id, object_id, salt, prefix, bytes(raw[:HEADER_BYTES]))


def new_object_id() -> bytes:
    return secrets.token_bytes(ID_BYTES)


class SealWriter:
    """Seal a stream chunk by chunk as it arrives.

    With `durable`, every completed chunk is flushed and fsynced, so a writer killed at any
    moment leaves a file whose complete chunks all decrypt (the reader reports it unfinished).
    """

    def __init__(
        self,
        out: Sink,
        data_key: bytes,
        key_id: bytes,
        object_id: bytes,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        durable: bool = True,
        salt: bytes | None = None,
        nonce_prefix: bytes | None = None,
    ) -> None:
        self.header = encode_header(
            data_key,
            key_id,
            object_id,
            chunk_size,
            salt if salt is not None else secrets.token_bytes(16),
            nonce_prefix if nonce_prefix is not None else secrets.token_bytes(7),
        )
        self._out = out
        self._durable = durable
        self._aead = AESGCM(_derive(data_key, self.header.salt, b"payload"))
        self._buffer = bytearray()
        self._sealed = bytearray(self.header.sealed_chunk_bytes)
        self._index = 0
        self._closed = False
        self.plaintext_bytes = 0
        out.write(self.header.raw)
        self._sync()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Take `data` (any length); complete chunks are sealed at once. Returns len(data)."""
        if self._closed:
            raise ValueError("write to a closed SealWriter")
        view = memoryview(data).cast("B")
        self.plaintext_bytes += len(view)
        size = self.header.chunk_size
        start = 0
        if self._buffer:
            take = min(size - len(self._buffer), len(view))
            self._buffer += view[:take]
            start = take
            if len(self._buffer) < size:
                return len(view)
            self._emit(self._buffer, final=False)
            self._buffer = bytearray()
        while len(view) - start >= size:
            self._emit(view[start : start + size], final=False)
            start += size
        self._buffer += view[start:]
        return len(view)

    def flush(self) -> None:
        """Complete chunks are already written; a partial chunk waits for more data or close."""
        self._out.flush()

    def close(self) -> None:
        """Seal the final chunk (the rest, padded) and make the whole object durable."""
        if self._closed:
            return
        pad = self.header.chunk_size - len(self._buffer)
        self._buffer += bytes([PADDING_MARK]) + bytes(pad - 1)
        self._emit(self._buffer, final=True)
        self._closed = True
        self._out.flush()
        os.fsync(self._out.fileno())

    def _emit(self, chunk: bytes | bytearray | memoryview, final: bool) -> None:
        nonce = _nonce(self.header.nonce_prefix, self._index, final)
        self._aead.encrypt_into(nonce, chunk, self.header.authenticated, self._sealed)
        self._out.write(self._sealed)
        self._index += 1
        if self._durable:
            self._sync()

    def _sync(self) -> None:
        if self._durable:
            self._out.flush()
            os.fsync(self._out.fileno())

    def __enter__(self) -> SealWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


class SealedReader:
    """Random access to a sealed object: any chunk, any byte range, or the whole stream."""

    def __init__(
        self,
        source: IO[bytes],
        data_key: bytes,
        expected_key_id: bytes | None = None,
        expected_object_id: bytes | None = None,
    ) -> None:
        self._source = source
        source.seek(0)
        header = parse_header(source.read(HEADER_BYTES))
        if expected_key_id is not None and header.key_id != expected_key_id:
            raise ForeignHeader(
                f"the header names key {header.key_id.hex()}, not {expected_key_id.hex()}: "
                "it belongs to another object"
            )
        if expected_object_id is not None and header.object_id != expected_object_id:
            raise ForeignHeader(
                f"the header names object {header.object_id.hex()}, not "
                f"{expected_object_id.hex()}: it belongs to another object"
            )
        mac = hmac.new(_derive(data_key, header.salt, b"header"), header.authenticated, "sha256")
        if not hmac.compare_digest(mac.digest(), header.raw[AUTHENTICATED_BYTES:]):
            raise HeaderTampered(
                "the header does not authenticate: it was altered, or this is not its key"
            )
        self.header = header
        self._aead = AESGCM(_derive(data_key, header.salt, b"payload"))
        self.chunk_count = 0
        self._cut_mid_chunk = False
        self._final_length: int | None = None
        self._count_chunks()

    def _count_chunks(self) -> None:
        size = self._source.seek(0, os.SEEK_END)
        whole, rest = divmod(size - HEADER_BYTES, self.header.sealed_chunk_bytes)
        self.chunk_count = whole
        self._cut_mid_chunk = rest != 0
        self._final_length = None

    def refresh(self) -> int:
        """Count the chunks again, for an object still being written (whose readers follow it
        as it grows); returns `prefix_size()`."""
        self._count_chunks()
        return self.prefix_size()

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> SealedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunk(self, index: int) -> bytes:
        """The plaintext of chunk `index`, authenticated at that position (padding removed)."""
        plain, final = self._read(index)
        if final:
            return plain
        if index == self.chunk_count - 1 and not self._cut_mid_chunk:
            raise self._unfinished()
        return plain

    def size(self) -> int:
        """Plaintext length; raises Truncated for an unfinished object."""
        if self._cut_mid_chunk or self.chunk_count == 0:
            raise self._unfinished()
        if self._final_length is None:
            self._final_length = len(self.chunk(self.chunk_count - 1))
        return (self.chunk_count - 1) * self.header.chunk_size + self._final_length

    @property
    def complete(self) -> bool:
        """Whether the object ends with its final chunk."""
        try:
            self.size()
        except Truncated:
            return False
        return True

    def prefix_size(self) -> int:
        """Plaintext bytes readable with `prefix=True`: all of a finished object, the whole
        chunks of an unfinished one (each still authenticated when read)."""
        try:
            return self.size()
        except Truncated:
            return self.chunk_count * self.header.chunk_size

    def read_range(self, offset: int, length: int, *, prefix: bool = False) -> bytes:
        """`length` bytes from `offset`, decrypting only the chunks that hold them.

        An unfinished object raises Truncated, unless `prefix` asks for what was written.
        """
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        end = min(offset + length, self.prefix_size() if prefix else self.size())
        if offset >= end:
            return b""
        size = self.header.chunk_size
        first = offset // size
        read = (lambda i: self._read(i)[0]) if prefix else self.chunk
        parts = [read(i) for i in range(first, (end - 1) // size + 1)]
        start = offset - first * size
        return b"".join(parts)[start : start + end - offset]

    def stream(self) -> Iterator[bytes]:
        """Every chunk's plaintext in order, each authenticated.

        An unfinished object yields its readable prefix, then raises Truncated.
        """
        for index in range(self.chunk_count):
            plain, final = self._read(index)
            yield plain
            if final:
                return
        raise self._unfinished()

    def _read(self, index: int) -> tuple[bytes, bool]:
        """Authenticate chunk `index` as final or not; padding is removed from a final one."""
        if not 0 <= index < self.chunk_count:
            raise IndexError(f"chunk {index} is outside 0..{self.chunk_count - 1}")
        self._source.seek(HEADER_BYTES + index * self.header.sealed_chunk_bytes)
        sealed = self._source.read(self.header.sealed_chunk_bytes)
        last = index == self.chunk_count - 1 and not self._cut_mid_chunk
        for final in (last, not last):
            try:
                plain = self._aead.decrypt(
                    _nonce(self.header.nonce_prefix, index, final),
                    sealed,
                    self.header.authenticated,
                )
            except InvalidTag:
                continue
            if final and not last:
                raise ChunkTampered(index, f"chunk {index} is a final chunk followed by more data")
            return (_unpad(plain, index), True) if final else (plain, False)
        raise ChunkTampered(
            index, f"chunk {index} does not authenticate: altered, swapped or duplicated"
        )

    def _unfinished(self) -> Truncated:
        tail = "part of a chunk" if self._cut_mid_chunk else "no final chunk"
        return Truncated(
            self.chunk_count,
            f"the object is unfinished: {self.chunk_count} complete chunks, then {tail} "
            "(the writer stopped, or the file was cut)",
        )


def _unpad(plain: bytes, index: int) -> bytes:
    end = plain.rstrip(b"\x00")
    if not end or end[-1] != PADDING_MARK:
        raise ChunkTampered(index, f"final chunk {index} has invalid padding")
    return end[:-1]
