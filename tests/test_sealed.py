"""The sealed object format: round trips, random access, the test vector, and every fault."""

import hashlib
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.storage.sealed import (
    HEADER_BYTES,
    ChunkTampered,
    ForeignHeader,
    HeaderTampered,
    NotSealed,
    SealedReader,
    SealWriter,
    Truncated,
)

KEY = bytes(range(32))
KEY_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
OBJECT_ID = bytes.fromhex("ffeeddccbbaa99887766554433221100")
CHUNK = 1024
SEALED = CHUNK + 16

# The test vector in docs/recording-format.md.
VECTOR_PLAINTEXT = b"hello, parley\n" * 100
VECTOR_HEADER = (
    "50524c595345414c010100000000040000112233445566778899aabbccddeeffffeeddccbbaa9988776655"
    "44332211005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a01020304050607002a589cf8ad69cb9bb6d98ff3af47"
    "3d5676d258ec857f12aebe403c1da908eb1a"
)
VECTOR_SHA256 = "f01dacc5b82d5302c58b6a4d1258205af6e62df49882c98ca52a68796e79e022"


def seal(path: Path, data: bytes, chunk_size: int = CHUNK, **fixed: bytes) -> Path:
    with path.open("wb") as out:
        writer = SealWriter(out, KEY, KEY_ID, OBJECT_ID, chunk_size, durable=False, **fixed)
        writer.write(data)
        writer.close()
    return path


def reader(path: Path, key: bytes = KEY, **expected: bytes) -> SealedReader:
    return SealedReader(path.open("rb"), key, **expected)


def patched(path: Path, offset: int, value: bytes) -> Path:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_round_trip_and_fixed_chunk_sizes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = seal(tmp_path / "obj", data)
    assert (path.stat().st_size - HEADER_BYTES) % SEALED == 0
    opened = reader(path)
    assert opened.size() == size
    assert b"".join(opened.stream()) == data


def test_writes_in_odd_pieces_give_the_same_plaintext(tmp_path: Path) -> None:
    data = os.urandom(5 * CHUNK + 77)
    with (tmp_path / "obj").open("wb") as out:
        writer = SealWriter(out, KEY, KEY_ID, OBJECT_ID, CHUNK, durable=True)
        for start in range(0, len(data), 333):
            writer.write(data[start : start + 333])
        writer.close()
    assert b"".join(reader(tmp_path / "obj").stream()) == data


def test_random_access_reads_only_what_is_asked(tmp_path: Path) -> None:
    data = os.urandom(10 * CHUNK + 100)
    opened = reader(seal(tmp_path / "obj", data))
    for offset, length in [(0, 10), (CHUNK - 3, 10), (5 * CHUNK, CHUNK), (10 * CHUNK + 90, 50)]:
        assert opened.read_range(offset, length) == data[offset : offset + length]
    assert opened.read_range(len(data) + 5, 10) == b""


def test_vector_bytes_are_stable(tmp_path: Path) -> None:
    path = seal(
        tmp_path / "vector", VECTOR_PLAINTEXT, salt=b"\x5a" * 16, nonce_prefix=bytes(range(1, 8))
    )
    data = path.read_bytes()
    assert data[:HEADER_BYTES].hex() == VECTOR_HEADER
    assert hashlib.sha256(data).hexdigest() == VECTOR_SHA256


def test_vector_decrypts_by_the_written_spec_alone() -> None:
    """A second implementation following docs/recording-format.md, using only primitives."""
    header = bytes.fromhex(VECTOR_HEADER)
    salt, prefix = header[48:64], header[64:71]
    payload_key = HKDF(SHA256(), 32, salt, b"parley-seal-v1 payload").derive(KEY)
    path_bytes = seal_bytes_for_vector()
    chunks = [
        path_bytes[HEADER_BYTES + i * SEALED : HEADER_BYTES + (i + 1) * SEALED] for i in range(2)
    ]
    aad = header[:72]
    first = AESGCM(payload_key).decrypt(prefix + struct.pack(">IB", 0, 0), chunks[0], aad)
    last = AESGCM(payload_key).decrypt(prefix + struct.pack(">IB", 1, 1), chunks[1], aad)
    unpadded = last.rstrip(b"\x00")
    assert unpadded.endswith(b"\x80")
    assert first + unpadded[:-1] == VECTOR_PLAINTEXT


def seal_bytes_for_vector() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = seal(
            Path(directory) / "v",
            VECTOR_PLAINTEXT,
            salt=b"\x5a" * 16,
            nonce_prefix=bytes(range(1, 8)),
        )
        return path.read_bytes()


def test_flipped_header_byte_is_tampering(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(3000))
    patched(path, 50, b"\xff")
    with pytest.raises(HeaderTampered):
        reader(path)


def test_wrong_key_is_refused_at_the_header(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(3000))
    with pytest.raises(HeaderTampered):
        reader(path, key=bytes(32))


def test_flipped_chunk_byte_names_the_chunk(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(4 * CHUNK))
    patched(path, HEADER_BYTES + 2 * SEALED + 100, b"\x00\x01")
    opened = reader(path)
    assert opened.chunk(1)
    with pytest.raises(ChunkTampered) as fault:
        opened.chunk(2)
    assert fault.value.index == 2
    with pytest.raises(ChunkTampered):
        b"".join(opened.stream())


def test_flipped_byte_in_the_final_chunk_is_tampering_not_truncation(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(2 * CHUNK + 10))
    size = path.stat().st_size
    patched(path, size - 5, bytes([path.read_bytes()[size - 5] ^ 0x01]))
    with pytest.raises(ChunkTampered):
        reader(path).size()


def test_swapped_chunks_are_detected(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(4 * CHUNK))
    data = bytearray(path.read_bytes())
    one = slice(HEADER_BYTES + SEALED, HEADER_BYTES + 2 * SEALED)
    two = slice(HEADER_BYTES + 2 * SEALED, HEADER_BYTES + 3 * SEALED)
    data[one], data[two] = data[two], data[one]
    path.write_bytes(bytes(data))
    with pytest.raises(ChunkTampered) as fault:
        list(reader(path).stream())
    assert fault.value.index == 1


def test_duplicated_or_appended_chunks_are_detected(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(2 * CHUNK + 10))
    data = path.read_bytes()
    duplicated = tmp_path / "dup"
    second = data[HEADER_BYTES + SEALED : HEADER_BYTES + 2 * SEALED]
    duplicated.write_bytes(
        data[: HEADER_BYTES + 2 * SEALED] + second + data[HEADER_BYTES + 2 * SEALED :]
    )
    with pytest.raises(ChunkTampered):
        list(reader(duplicated).stream())
    appended = tmp_path / "appended"
    appended.write_bytes(data + data[HEADER_BYTES : HEADER_BYTES + SEALED])
    with pytest.raises(ChunkTampered, match="final chunk followed by more data"):
        list(reader(appended).stream())


def test_truncation_is_unfinished_not_tampered(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK + 10)
    path = seal(tmp_path / "obj", data)
    whole = path.read_bytes()
    for cut in (HEADER_BYTES + 2 * SEALED, HEADER_BYTES + 2 * SEALED + 500):
        cut_path = tmp_path / f"cut{cut}"
        cut_path.write_bytes(whole[:cut])
        opened = reader(cut_path)
        assert not opened.complete
        with pytest.raises(Truncated, match="unfinished"):
            opened.size()
        prefix = []
        with pytest.raises(Truncated):
            for block in opened.stream():
                prefix.append(block)
        assert b"".join(prefix) == data[: 2 * CHUNK]


def test_header_of_another_object_is_named(tmp_path: Path) -> None:
    path = seal(tmp_path / "obj", os.urandom(100))
    with pytest.raises(ForeignHeader, match="belongs to another object"):
        reader(path, expected_object_id=bytes(16))
    with pytest.raises(ForeignHeader):
        reader(path, expected_key_id=bytes(16))


def test_other_files_are_not_sealed_objects(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"RIFF" + bytes(200))
    with pytest.raises(NotSealed):
        reader(tmp_path / "plain")
    (tmp_path / "short").write_bytes(b"PRLY")
    with pytest.raises(NotSealed):
        reader(tmp_path / "short")


WRITER = """
import sys, time
from appliance.storage.sealed import SealWriter
key, key_id, object_id = bytes(range(32)), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
with open(sys.argv[1], "wb") as out:
    writer = SealWriter(out, key, key_id, object_id, 1024, durable=True)
    for i in range(10_000):
        writer.write(bytes([i % 251]) * 1024)
        print(i, flush=True)
        time.sleep(0.01)
"""


def test_a_writer_killed_mid_stream_leaves_a_readable_prefix(tmp_path: Path) -> None:
    path = tmp_path / "live"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), KEY_ID.hex(), OBJECT_ID.hex()],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for _ in range(20):
        written = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.1)
    opened = reader(path)
    blocks = []
    with pytest.raises(Truncated):
        for block in opened.stream():
            blocks.append(block)
    assert len(blocks) >= written + 1
    for i, block in enumerate(blocks):
        assert block == bytes([i % 251]) * 1024
