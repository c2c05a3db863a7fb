"""The recording event spool: how the SFU reports live recordings without touching the database.

The SFU writes one JSON file per event (atomically: temp file, fsync, rename) into
`<data-dir>/spool/recordings/`; the worker files them in name order and deletes each once its
effect is committed. A file it cannot file is moved to `rejected/` with the reason beside it,
never dropped. Each event is one dataclass below; docs/recording-events.md is the reference.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

_sequence = count()
# Names sort by when this process started, then by a counter: a wall-clock step backwards
# cannot reorder one process's events (a room's events all come from one SFU process).
_PROCESS_STARTED = time.time_ns()
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_EVENT_BYTES = 64 * 1024


class BadEvent(ValueError):
    """A spooled file that is not a well-formed recording event; the message says what."""


@dataclass(frozen=True)
class SfuStarted:
    """An SFU node (re)started: whatever it was recording before is interrupted."""

    EVENT: ClassVar[str] = "sfu-started"
    node: str
    at: float


@dataclass(frozen=True)
class RecordingStarted:
    """A recorded room wrote its first blob; `wrapped_key` is the room's data key wrapped for
    the appliance's intake key (base64), `started_at` seconds since the epoch."""

    EVENT: ClassVar[str] = "recording-started"
    key_id: str
    interview_id: int
    room: str
    node: str
    wrapped_key: str
    started_at: float


@dataclass(frozen=True)
class BlobOpened:
    """A sealed blob is being written for a participant (`kind` media) or the room (manifest)."""

    EVENT: ClassVar[str] = "blob-opened"
    key_id: str
    object_id: str
    participant: str
    kind: str
    filename: str
    media_type: str


@dataclass(frozen=True)
class BlobClosed:
    """A blob was sealed to its end: its plaintext length and the SHA-256 of its sealed bytes."""

    EVENT: ClassVar[str] = "blob-closed"
    key_id: str
    object_id: str
    plaintext_bytes: int
    sealed_sha256: str


@dataclass(frozen=True)
class RecordingFinished:
    """The room closed and its manifest is sealed; `ended_at` seconds since the epoch."""

    EVENT: ClassVar[str] = "recording-finished"
    key_id: str
    ended_at: float


RecordingEvent = SfuStarted | RecordingStarted | BlobOpened | BlobClosed | RecordingFinished
EVENTS: dict[str, type[RecordingEvent]] = {
    kind.EVENT: kind
    for kind in (SfuStarted, RecordingStarted, BlobOpened, BlobClosed, RecordingFinished)
}


def to_json(event: RecordingEvent) -> dict[str, Any]:
    return {"event": event.EVENT, **dataclasses.asdict(event)}


def _field_value(kind: str, name: str, annotation: str, value: Any) -> Any:
    if annotation == "str" and isinstance(value, str):
        if name in ("key_id", "object_id") and not _HEX_ID.match(value):
            raise BadEvent(f"{kind}: {name} is not 32 hexadecimal digits")
        return value
    if annotation == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if annotation == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise BadEvent(f"{kind}: {name} must be {annotation}, not {type(value).__name__}")


def from_json(data: Any) -> RecordingEvent:
    """The event a decoded JSON document describes; BadEvent names what is missing or wrong."""
    if not isinstance(data, dict):
        raise BadEvent("an event is a JSON object")
    kind = data.get("event")
    cls = EVENTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadEvent(f"unknown recording event {kind!r}")
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            raise BadEvent(f"{cls.EVENT}: {field.name} is missing")
        values[field.name] = _field_value(cls.EVENT, field.name, str(field.type), data[field.name])
    return cls(**values)


def spool_dir(data_dir: Path) -> Path:
    return data_dir / "spool" / "recordings"


def write_event(directory: Path, event: RecordingEvent) -> Path:
    """Durably add an event; its name sorts after every earlier event of this process."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{_PROCESS_STARTED:020d}-{os.getpid():08d}-{next(_sequence):012d}.json"
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(to_json(event), out)
        out.flush()
        os.fsync(out.fileno())
    final = directory / name
    os.replace(tmp, final)
    return final


def read_event(path: Path) -> RecordingEvent:
    """The event a spool file holds; BadEvent when it is unreadable or malformed."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_EVENT_BYTES + 1)
        if len(raw) > MAX_EVENT_BYTES:
            raise BadEvent(f"larger than {MAX_EVENT_BYTES} bytes")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvent(f"unreadable event: {exc}") from None
    return from_json(data)


def pending(directory: Path) -> list[Path]:
    """The spooled events not filed yet, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())


def reject(path: Path, reason: str) -> None:
    """Set an event aside in `rejected/`, with the reason in a `.reason` file beside it."""
    rejected = path.parent / "rejected"
    rejected.mkdir(mode=0o700, exist_ok=True)
    os.replace(path, rejected / path.name)
    (rejected / (path.name + ".reason")).write_text(reason + "\n", encoding="utf-8")
