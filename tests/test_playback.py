"""Playing a sealed recording back over HTTP: byte ranges decrypted in memory, every answer
authenticated before it is sent, bad ranges answered as RFC 9110 says, each viewing audited
once, and only for those who may review the interview."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.db.models import AuditEntry, InterviewParticipant, Recording, RecordingBlob
from appliance.recordings import playback
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.playback import ByteRange, RangeNotSatisfiable, parse_range
from appliance.recordings.store import blob_store, import_files
from appliance.runtime import Runtime
from appliance.storage.sealed import HEADER_BYTES
from tests.conftest import make_user, sign_in

CHUNK = 4096
SIZE = 100_000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 100)),
        ("bytes=100-", ByteRange(100, SIZE)),
        ("bytes=-500", ByteRange(SIZE - 500, SIZE)),
        ("bytes=-999999", ByteRange(0, SIZE)),
        ("bytes=99990-200000", ByteRange(99990, SIZE)),
        ("BYTES = 5 - 9", ByteRange(5, 10)),
        (None, None),
        ("", None),
        ("bytes=", None),
        ("bytes=-", None),
        ("bytes=abc-def", None),
        ("bytes=10-5", None),  # last before first: invalid, ignored
        ("bytes=0-10,5-20", None),  # several (here overlapping) ranges: the whole object
        ("bytes=0-1,3-4", None),
        ("items=0-10", None),
        ("bytes=0-1" + "0" * 300, None),  # absurdly long
        ("bytes=1-2-3", None),
    ],
)
def test_range_headers_are_read_or_ignored(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=100000-", "bytes=100000-100005", "bytes=-0"])
def test_a_range_past_the_end_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, SIZE)


@pytest.fixture
def recruiter(runtime: Runtime, client: TestClient[Litestar]) -> TestClient[Litestar]:
    """The test client, signed in as a recruiter (who may review every interview)."""
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    return client


@pytest.fixture
def recorded(runtime: Runtime, tmp_path: Path) -> tuple[Recording, RecordingBlob, bytes]:
    runtime.config.storage.chunk_size = CHUNK
    content = os.urandom(SIZE)
    media = tmp_path / "answer.webm"
    media.write_bytes(content)
    recording = import_files(runtime, "test", [media], "alex@example.com", None)
    return recording, RecordingBlob.get(RecordingBlob.recording == recording), content


def _url(recording: Recording, blob: RecordingBlob) -> str:
    return f"/recordings/{recording.id}/media/{blob.object_id}"


def _views(recording: Recording) -> int:
    return int(
        AuditEntry.select()
        .where(
            (AuditEntry.action == "recording.view")
            & (AuditEntry.subject == f"recording:{recording.id}")
        )
        .count()
    )


def test_a_reviewer_gets_exactly_the_bytes_asked_for_at_any_offset(
    recruiter: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
) -> None:
    recording, blob, content = recorded
    url = _url(recording, blob)
    rng = random.Random(7)
    starts = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, SIZE - 1, *rng.sample(range(SIZE), 20)]
    for start in starts:
        stop = min(SIZE, start + rng.randint(1, 3 * CHUNK))
        answer = recruiter.get(url, headers={"range": f"bytes={start}-{stop - 1}"})
        assert answer.status_code == 206
        assert answer.headers["content-range"] == f"bytes {start}-{stop - 1}/{SIZE}"
        assert answer.headers["content-length"] == str(stop - start)
        assert answer.headers["accept-ranges"] == "bytes"
        assert "no-store" in answer.headers["cache-control"]
        assert answer.content == content[start:stop]
    tail = recruiter.get(url, headers={"range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == content[-10:]
    whole = recruiter.get(url)
    assert whole.status_code == 200 and whole.content == content
    ignored = recruiter.get(url, headers={"range": "bytes=0-10,5-20"})
    assert ignored.status_code == 200 and ignored.content == content
    assert _views(recording) == 1  # one viewing, however many requests


def test_an_open_range_gets_at_most_one_answers_worth_and_the_player_asks_on(
    runtime: Runtime,
    client: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording, blob, content = recorded
    monkeypatch.setattr(playback, "MAX_ANSWER_BYTES", 30_000)
    make_user(runtime, "admin", "boss@example.com")
    assert sign_in(client, "boss@example.com") == 303
    got, start = b"", 0
    while start < SIZE:
        answer = client.get(_url(recording, blob), headers={"range": f"bytes={start}-"})
        assert answer.status_code == 206 and len(answer.content) <= 30_000
        got += answer.content
        start += len(answer.content)
    assert got == content


def test_a_range_past_the_end_gets_416_with_the_size(
    recruiter: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
) -> None:
    recording, blob, _ = recorded
    answer = recruiter.get(_url(recording, blob), headers={"range": f"bytes={SIZE}-"})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{SIZE}"


def test_a_damaged_chunk_is_refused_and_the_rest_still_plays(
    runtime: Runtime,
    recruiter: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
) -> None:
    recording, blob, content = recorded
    path = blob_store(runtime).path(bytes.fromhex(blob.object_id))
    damaged = bytearray(path.read_bytes())
    damaged[HEADER_BYTES + 5 * (CHUNK + 16) + 100] ^= 0x01  # inside chunk 5
    path.write_bytes(bytes(damaged))
    url = _url(recording, blob)
    for start in (5 * CHUNK, 5 * CHUNK + 10, 4 * CHUNK + 100):
        refused = recruiter.get(
            url, headers={"range": f"bytes={start}-{start + CHUNK}", "accept": "application/json"}
        )
        assert refused.status_code == 500
        assert "damaged" in refused.json()["detail"]
    fine = recruiter.get(url, headers={"range": f"bytes={7 * CHUNK}-{8 * CHUNK - 1}"})
    assert fine.status_code == 206 and fine.content == content[7 * CHUNK : 8 * CHUNK]


def test_only_those_who_may_review_the_interview_stream_it(
    runtime: Runtime,
    client: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
) -> None:
    recording, blob, content = recorded
    url = _url(recording, blob)
    assert client.get(url, headers={"accept": "application/json"}).status_code == 401
    outsider = make_user(runtime, "interviewer", "otto@example.com")
    make_user(runtime, "compliance", "cleo@example.com")
    assert sign_in(client, "cleo@example.com") == 303
    assert client.get(url, headers={"range": "bytes=0-9"}).status_code == 403
    client.cookies.clear()
    assert sign_in(client, "otto@example.com") == 303
    assert client.get(url, headers={"range": "bytes=0-9"}).status_code == 403
    InterviewParticipant.create(interview=recording.interview, user=outsider)
    answer = client.get(url, headers={"range": "bytes=0-9"})
    assert answer.status_code == 206 and answer.content == content[:10]
    viewers = [e.actor for e in AuditEntry.select().where(AuditEntry.action == "recording.view")]
    assert viewers == ["otto@example.com"]


def test_an_erased_recording_is_gone_and_one_still_written_waits(
    runtime: Runtime,
    recruiter: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
) -> None:
    recording, blob, _ = recorded
    url = _url(recording, blob)
    blob.status = "writing"
    blob.save()
    waiting = recruiter.get(url, headers={"range": "bytes=0-9", "accept": "application/json"})
    assert waiting.status_code == 409 and "still being written" in waiting.json()["detail"]
    blob.status = "complete"
    blob.save()
    erase_candidate(runtime, "recruiter@example.com", recording.interview.candidate_id, "request")
    gone = recruiter.get(url, headers={"range": "bytes=0-9"})
    assert gone.status_code == 410 and "erased" in gone.text
    unknown = recruiter.get(f"/recordings/{recording.id}/media/{'ab' * 16}")
    assert unknown.status_code in (404, 410)


def test_an_interrupted_recording_plays_what_was_saved(
    runtime: Runtime,
    recruiter: TestClient[Litestar],
    recorded: tuple[Recording, RecordingBlob, bytes],
) -> None:
    """A blob the SFU never finished (cut at a chunk boundary) plays its authenticated chunks."""
    recording, blob, content = recorded
    path = blob_store(runtime).path(bytes.fromhex(blob.object_id))
    path.write_bytes(path.read_bytes()[: HEADER_BYTES + 10 * (CHUNK + 16)])
    blob.status = "truncated"
    blob.save()
    url = _url(recording, blob)
    whole = recruiter.get(url)
    assert whole.status_code == 200 and whole.content == content[: 10 * CHUNK]
    part = recruiter.get(url, headers={"range": f"bytes={9 * CHUNK}-"})
    assert part.headers["content-range"] == f"bytes {9 * CHUNK}-{10 * CHUNK - 1}/{10 * CHUNK}"
    assert part.content == content[9 * CHUNK : 10 * CHUNK]
