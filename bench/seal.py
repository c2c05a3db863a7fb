"""Throughput of sealing and opening against one-shot AES-256-GCM over the same bytes.

Run: .venv/bin/python bench/seal.py [--size-mib 1024]

Prints MB/s for sealing to a file and opening it back, beside one-shot AES-256-GCM (the whole
buffer in one call) and a chunked in-memory AES-256-GCM loop, all measured in this run, with the
ratios; then the time to read a 64 KiB range from the middle of a small and a large object.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.storage.sealed import DEFAULT_CHUNK_SIZE, SealedReader, SealWriter

MIB = 1024 * 1024
KEY = os.urandom(32)
KEY_ID, OBJECT_ID = os.urandom(16), os.urandom(16)


def rate(size: int, seconds: float) -> float:
    return size / MIB / seconds


def best_of(runs: int, action) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def seal_file(path: Path, data: memoryview, durable: bool) -> None:
    with path.open("wb") as out:
        writer = SealWriter(out, KEY, KEY_ID, OBJECT_ID, DEFAULT_CHUNK_SIZE, durable=durable)
        for start in range(0, len(data), 4 * MIB):
            writer.write(data[start : start + 4 * MIB])
        writer.close()


class DiscardingSink:
    """Counts what a writer emits and keeps none of it: the format's cost without storage."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.fd


def seal_discarding(data: memoryview, fd: int) -> None:
    writer = SealWriter(DiscardingSink(fd), KEY, KEY_ID, OBJECT_ID, DEFAULT_CHUNK_SIZE, False)
    for start in range(0, len(data), 4 * MIB):
        writer.write(data[start : start + 4 * MIB])
    writer.close()


def open_memory(sealed: bytes) -> int:
    return sum(len(block) for block in SealedReader(io.BytesIO(sealed), KEY).stream())


def open_file(path: Path) -> int:
    with path.open("rb") as source:
        return sum(len(block) for block in SealedReader(source, KEY).stream())


def middle_range_seconds(path: Path, size: int, reopen: bool) -> float:
    samples = []
    with path.open("rb") as source:
        reader = SealedReader(source, KEY)
        reader.size()
        for _ in range(200):
            start = time.perf_counter()
            if reopen:
                reader = SealedReader(source, KEY)
            reader.read_range(size // 2 + 12345, 64 * 1024)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    size = args.size_mib * MIB
    block = os.urandom(64 * MIB)
    data = memoryview(block * (size // len(block)) + block[: size % len(block)])
    aead = AESGCM(KEY)
    nonce = os.urandom(12)

    one_shot_enc = best_of(2, lambda: aead.encrypt(nonce, data, None))
    sealed_once = aead.encrypt(nonce, data, None)
    one_shot_dec = best_of(2, lambda: aead.decrypt(nonce, sealed_once, None))

    def chunked() -> None:
        out = bytearray(DEFAULT_CHUNK_SIZE + 16)
        for i, start in enumerate(range(0, size, DEFAULT_CHUNK_SIZE)):
            aead.encrypt_into(
                i.to_bytes(12, "big"), data[start : start + DEFAULT_CHUNK_SIZE], b"", out
            )

    chunked_enc = best_of(2, chunked)

    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        path = Path(directory) / "object.sealed"
        with (Path(directory) / "empty").open("wb") as empty:
            seal_memory = best_of(2, lambda: seal_discarding(data, empty.fileno()))
        seal_time = best_of(2, lambda: (path.unlink(missing_ok=True), seal_file(path, data, False)))
        open_time = best_of(2, lambda: open_file(path))
        assert open_file(path) == size
        sealed_bytes = path.read_bytes()
        open_memory_time = best_of(2, lambda: open_memory(sealed_bytes))
        durable_size = min(size, 64 * MIB)
        durable_path = Path(directory) / "durable.sealed"
        durable_time = best_of(1, lambda: seal_file(durable_path, data[:durable_size], True))
        small = Path(directory) / "small.sealed"
        seal_file(small, data[: 16 * MIB], False)
        small_read = middle_range_seconds(small, 16 * MIB, reopen=False)
        large_read = middle_range_seconds(path, size, reopen=False)
        small_cold = middle_range_seconds(small, 16 * MIB, reopen=True)
        large_cold = middle_range_seconds(path, size, reopen=True)

    print(f"object size: {args.size_mib} MiB, chunk {DEFAULT_CHUNK_SIZE // 1024} KiB")
    print(f"one-shot AES-256-GCM encrypt : {rate(size, one_shot_enc):9.1f} MB/s")
    print(f"one-shot AES-256-GCM decrypt : {rate(size, one_shot_dec):9.1f} MB/s")
    print(f"chunked AES-256-GCM in memory: {rate(size, chunked_enc):9.1f} MB/s")
    print(f"seal, in memory (no storage) : {rate(size, seal_memory):9.1f} MB/s")
    print(f"open, in memory (no storage) : {rate(size, open_memory_time):9.1f} MB/s")
    print(f"seal to file (fsync at close): {rate(size, seal_time):9.1f} MB/s")
    print(f"open from file, all chunks   : {rate(size, open_time):9.1f} MB/s")
    print(
        f"seal, fsync every chunk      : {rate(durable_size, durable_time):9.1f} MB/s "
        f"({durable_size // MIB} MiB)"
    )
    print(f"ratio seal / one-shot encrypt: {one_shot_enc / seal_memory:9.2f}  (goal >= 0.8)")
    print(f"ratio open / one-shot decrypt: {one_shot_dec / open_memory_time:9.2f}  (goal >= 0.8)")
    print(f"ratio seal to file / one-shot: {one_shot_enc / seal_time:9.2f}  (includes the disk)")
    print(f"ratio open file / one-shot   : {one_shot_dec / open_time:9.2f}  (includes the disk)")
    print(
        f"64 KiB from the middle, reader open: 16 MiB {small_read * 1e6:7.1f} us, "
        f"{args.size_mib} MiB {large_read * 1e6:7.1f} us, ratio {large_read / small_read:5.2f}"
    )
    print(
        f"64 KiB from the middle, incl. open : 16 MiB {small_cold * 1e6:7.1f} us, "
        f"{args.size_mib} MiB {large_cold * 1e6:7.1f} us, ratio {large_cold / small_cold:5.2f}"
    )


if __name__ == "__main__":
    main()
