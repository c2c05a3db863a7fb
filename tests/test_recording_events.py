"""The spool events between the SFU and the worker: typed on both sides, and a malformed file is
refused with a reason, never half-read (docs/recording-events.md)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from appliance.contracts.recording_events import (
    MAX_EVENT_BYTES,
    BadEvent,
    BlobClosed,
    BlobOpened,
    RecordingEvent,
    RecordingFinished,
    RecordingStarted,
    SfuStarted,
    pending,
    read_event,
    to_json,
    write_event,
)

KEY = "0f" * 16
OBJECT = "a1" * 16
EVENTS: list[RecordingEvent] = [
    SfuStarted("node-1", 1700000000.5),
    RecordingStarted(KEY, 7, "interview-7", "node-1", "d3JhcHBlZA==", 1700000001.0),
    BlobOpened(KEY, OBJECT, "candidate", "media", "candidate.webm", "video/webm"),
    BlobClosed(KEY, OBJECT, 123456, "e3" * 32),
    RecordingFinished(KEY, 1700000099.25),
]


def test_every_event_survives_the_spool_in_order(tmp_path: Path) -> None:
    for event in EVENTS:
        write_event(tmp_path, event)
    assert [read_event(path) for path in pending(tmp_path)] == EVENTS


def test_the_json_keeps_the_documented_names(tmp_path: Path) -> None:
    path = write_event(tmp_path, EVENTS[3])
    assert json.loads(path.read_text()) == {
        "event": "blob-closed",
        "key_id": KEY,
        "object_id": OBJECT,
        "plaintext_bytes": 123456,
        "sealed_sha256": "e3" * 32,
    }


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.EVENT)
def test_each_missing_or_mistyped_field_is_named(event: RecordingEvent, tmp_path: Path) -> None:
    for field in dataclasses.fields(event):
        missing = to_json(event)
        del missing[field.name]
        with pytest.raises(BadEvent, match=f"{field.name} is missing"):
            read_event(_spooled(tmp_path, missing))
        for wrong in (None, True, [1], {"a": 1}, "x" if field.type != "str" else 5):
            mistyped = to_json(event) | {field.name: wrong}
            with pytest.raises(BadEvent, match=field.name):
                read_event(_spooled(tmp_path, mistyped))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "unreadable event"),
        (b"{not json", "unreadable event"),
        (b"\xff\xfe", "unreadable event"),
        (b"[1, 2]", "an event is a JSON object"),
        (b'{"event": "mystery"}', "unknown recording event 'mystery'"),
        (b'{"event": 5}', "unknown recording event 5"),
        (b" " * (MAX_EVENT_BYTES + 1), "larger than"),
    ],
)
def test_unreadable_files_are_refused(content: bytes, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(content)
    with pytest.raises(BadEvent, match=reason):
        read_event(path)


def test_a_truncated_event_file_is_refused_at_every_length(tmp_path: Path) -> None:
    whole = write_event(tmp_path, EVENTS[1]).read_bytes()
    for length in range(len(whole)):
        with pytest.raises(BadEvent):
            read_event(_spooled_bytes(tmp_path, whole[:length]))


def _spooled(directory: Path, data: object) -> Path:
    return _spooled_bytes(directory, json.dumps(data).encode())


def _spooled_bytes(directory: Path, data: bytes) -> Path:
    path = directory / "probe.json"
    path.write_bytes(data)
    return path
