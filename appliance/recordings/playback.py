"""Playing a recording back: one blob's plaintext as HTTP byte ranges, decrypted in memory over
the sealed format's random access, nothing decrypted written to disk.

A range answer is decrypted and authenticated whole before any of it is sent, so a damaged
chunk is refused with an error instead of cutting a stream that was already passed off as good.
It is at most MAX_ANSWER_BYTES: a player asking for "the rest" gets that much and asks again
from where it ended, as players do (RFC 9110 lets a server send less than the range). A request
without a Range header (a download, not a player) gets the whole blob, streamed one
authenticated chunk at a time with its length declared up front: a damaged chunk ends the
connection short of that length, which every client reports as a failed transfer.

A player asks for many ranges per viewing; the audit log gets one `recording.view` entry per
viewer and blob within VIEWING_SECONDS, not one per request.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from appliance.core.errors import Conflict, Damaged, Gone, NotFound
from appliance.db.models import RecordingBlob
from appliance.recordings.store import READABLE_BLOBS, get_recording, unaudited_reader
from appliance.runtime import Runtime
from appliance.storage.sealed import SealedReader, SealError

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 4 * 1024 * 1024
VIEWING_SECONDS = 3600.0
MAX_RANGE_HEADER = 200
_ONE_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ByteRange:
    start: int
    stop: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


class RangeNotSatisfiable(Exception):
    """The one range asked for starts at or past the end; answer 416 with the size."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range starts past the end of the {size} bytes")
        self.size = size


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range a Range header asks for, or None for the whole object.

    None also for a header this server ignores, as RFC 9110 allows: another unit, a syntax
    error, a last byte before the first, or several ranges (players ask for one). Raises
    RangeNotSatisfiable when the one range lies wholly past the end.
    """
    if header is None or len(header) > MAX_RANGE_HEADER:
        return None
    unit, _, ranges = header.partition("=")
    match = _ONE_RANGE.match(ranges) if unit.strip().lower() == "bytes" else None
    if match is None or not (match[1] or match[2]):
        return None
    first, last = match[1], match[2]
    if first:
        start = int(first)
        if last and int(last) < start:
            return None
        if start >= size:
            raise RangeNotSatisfiable(size)
        return ByteRange(start, min(int(last) + 1, size) if last else size)
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise RangeNotSatisfiable(size)
    return ByteRange(max(0, size - suffix), size)


class Viewings:
    """Which viewer opened which blob lately, so each viewing is audited once. Thread-safe;
    forgets the oldest pairs past `limit`."""

    def __init__(self, seconds: float = VIEWING_SECONDS, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def first(self, viewer: str, object_id: str, now: float) -> bool:
        """True when this is a new viewing: never seen, or not for `seconds`."""
        key = (viewer, object_id)
        with self._lock:
            last = self._seen.pop(key, None)
            self._seen[key] = now
            if len(self._seen) > self.limit:
                del self._seen[next(iter(self._seen))]
        return last is None or now - last > self.seconds


@dataclass(frozen=True)
class Answer:
    """What to send: `body` yields `range` of the blob's `size` bytes (all of them when range
    is None), each piece authenticated before it is yielded."""

    body: Iterator[bytes]
    size: int
    range: ByteRange | None
    media_type: str
    filename: str

    @property
    def length(self) -> int:
        return self.size if self.range is None else self.range.stop - self.range.start


def _readable_blob(recording_id: int, object_id: str) -> RecordingBlob:
    recording = get_recording(recording_id)
    if recording.status == "erased":
        raise Gone(f"recording {recording_id} was erased with its candidate's data")
    blob: RecordingBlob | None = RecordingBlob.get_or_none(
        (RecordingBlob.recording == recording) & (RecordingBlob.object_id == object_id)
    )
    if blob is None:
        raise NotFound(f"recording {recording_id} has no blob {object_id}")
    if blob.status == "lost":
        raise Conflict(
            f"nothing of this part of recording {recording_id} was saved: its recording stopped "
            "(the SFU or its disk failed) before a first whole chunk was written"
        )
    if blob.status not in READABLE_BLOBS:
        raise Conflict(
            f"this part of recording {recording_id} is still being written; it can be played "
            "once the interview has ended"
        )
    return blob


def _read(reader: SealedReader, wanted: ByteRange, blob: RecordingBlob) -> bytes:
    try:
        return reader.read_range(wanted.start, wanted.stop - wanted.start, prefix=True)
    except SealError as exc:
        raise Damaged(
            f"recording {blob.recording_id} is damaged on disk ({exc}); restore it from a backup"
        ) from None


def _stream(reader: SealedReader, blob: RecordingBlob, size: int) -> Iterator[bytes]:
    step = reader.header.chunk_size
    with reader:
        try:
            for offset in range(0, size, step):
                yield reader.read_range(offset, step, prefix=True)
        except SealError as exc:
            logger.error("recording %s stopped streaming: %s", blob.recording_id, exc)
            raise Damaged(f"recording {blob.recording_id} is damaged on disk ({exc})") from None


def answer(
    runtime: Runtime,
    viewings: Viewings,
    viewer: str,
    recording_id: int,
    object_id: str,
    range_header: str | None,
    now: float | None = None,
    action: str = "recording.view",
    every_request: bool = False,
) -> Answer:
    """The bytes of one recording blob a player asked for; audited once per viewing (or, with
    `every_request`, each time: a download)."""
    blob = _readable_blob(recording_id, object_id)
    reader = unaudited_reader(runtime, blob)
    try:
        size = reader.prefix_size()  # an interrupted recording plays what was saved
        wanted = parse_range(range_header, size)
        if wanted is None:
            body = _stream(reader, blob, size)
        else:
            wanted = ByteRange(wanted.start, min(wanted.stop, wanted.start + MAX_ANSWER_BYTES))
            with reader:
                body = iter([_read(reader, wanted, blob)])
    except BaseException:
        reader.close()
        raise
    if every_request or viewings.first(
        viewer, blob.object_id, time.monotonic() if now is None else now
    ):
        runtime.audit.record(
            viewer,
            action,
            f"recording:{recording_id}",
            {"object": blob.object_id, "participant": blob.participant_identity},
        )
    filename = _UNSAFE_NAME.sub("_", blob.filename) or f"{blob.object_id}.bin"
    return Answer(body, size, wanted, blob.media_type, filename)
