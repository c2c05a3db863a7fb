"""Search across interviews: words and phrases in the transcripts a staff member may review,
answered from a keyed index that keeps no word readable in the database and outlives no
erasure."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.asr_onnx.transcript import Segment, Transcript
from appliance.db.models import (
    AuditEntry,
    Candidate,
    Consent,
    Interview,
    InterviewParticipant,
    OutboxMessage,
    Position,
    Recording,
    SearchTerm,
    User,
)
from appliance.hiring import agenda
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.hiring.hiring_team import add_member
from appliance.interview.consent import AI_ASSISTANCE, notice_for
from appliance.recordings import search, search_index, transcription
from appliance.recordings.erasure import erase_candidate
from appliance.recordings.store import start_recording
from appliance.runtime import Runtime
from tests.conftest import make_user, sign_in

Said = list[tuple[str, float, str]]  # speaker, start seconds, text


def interview_with(
    runtime: Runtime,
    name: str,
    said: Said,
    *,
    position: Position | None = None,
    when: dt.datetime = dt.datetime(2026, 11, 3, 10, 0),
    panel: list[User] | None = None,
) -> Recording:
    """A finished, transcribed interview with `name`, whose transcript says `said`."""
    candidate = create_candidate(
        runtime.audit, "t", CandidateFields(name, f"{name.lower().replace(' ', '.')}@example.com")
    )
    interview = Interview.create(
        candidate=candidate, position=position, starts_at=when, ends_at=when, status="completed"
    )
    for user in panel or []:
        InterviewParticipant.create(interview=interview, user=user)
    recording = start_recording(runtime, interview)
    recording.status = "complete"
    recording.save()
    segments = [Segment(start, start + 3.0, text, speaker=who) for who, start, text in said]
    transcription.store_transcript(runtime, recording, Transcript("en", 600.0, segments, "test"))
    return recording


def found(results: search.Results) -> dict[str, list[tuple[int, str, str]]]:
    """Each interview found, by candidate: its passages as (ms, speaker, text, marked)."""
    return {
        hit.candidate: [
            (p.start_ms, p.speaker, "".join(f"[{t}]" if m else t for t, m in p.pieces))
            for p in hit.passages
        ]
        for hit in results.hits
    }


def run(runtime: Runtime, user: User, text: str, **filters: object) -> search.Results:
    return search.search(runtime, user, str(user.email), text, search.Filters(**filters))  # type: ignore[arg-type]


# --- the query ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "phrases"),
    [
        ("Kubernetes", ["kubernetes"], []),
        ("  DON\u2019T  panic! ", ["don't", "panic"], []),
        ('"stock options" vesting', ["stock", "options", "vesting"], [["stock", "options"]]),
        ('"Straße" ÉCOLE', ["strasse", "école"], []),
        ('"one" "two three"', ["one", "two", "three"], [["two", "three"]]),
        ("$200,000", ["200", "000"], []),
    ],
)
def test_a_query_is_words_and_quoted_phrases_as_the_index_reads_them(
    text: str, words: list[str], phrases: list[list[str]]
) -> None:
    query = search.Query.parse(text)
    assert (query.words, query.phrases) == (words, phrases)


@pytest.mark.parametrize(
    "text", ["", "   ", '""', "?!", "x" * 201, " ".join(f"w{i}" for i in range(13))]
)
def test_a_query_with_nothing_to_find_or_too_much_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(search.BadQuery):
        search.Query.parse(text)


def test_the_index_holds_each_word_of_a_recording_once_with_its_segments(
    runtime: Runtime,
) -> None:
    recording = interview_with(
        runtime,
        "Ada Byron",
        [("Una", 1.0, "Tell me about Rust."), ("Ada", 5.0, "Rust, and rust again; then Go.")],
    )
    rows = list(SearchTerm.select().where(SearchTerm.recording == recording))
    assert len(rows) == len({"tell", "me", "about", "rust", "and", "again", "then", "go"})
    assert all(len(bytes(r.term)) == search_index.TERM_BYTES for r in rows)
    key = search_index.TermKey(
        transcription.keystore.unwrap(runtime.config.data_dir, bytes.fromhex(recording.key_id))
    )
    by_term = {bytes(r.term): search_index.unpack(bytes(r.segments)) for r in rows}
    first, second = (s.id for s in search_index.segment_order(recording))
    assert by_term[key.term("rust")] == [first, second]
    assert by_term[key.term("go")] == [second]


@pytest.mark.parametrize("ids", [[], [1], [5, 9, 2**32 - 1], [3, 2**32], [2**63]])
def test_segment_ids_pack_into_four_bytes_while_they_fit_and_eight_beyond(ids: list[int]) -> None:
    packed = search_index.pack(ids)
    assert search_index.unpack(packed) == ids
    assert len(packed) == 1 + len(ids) * (4 if all(i < 2**32 for i in ids) else 8)


# --- what a search finds --------------------------------------------------------------------


def test_a_search_finds_the_passages_with_every_word_and_the_phrase_in_order(
    runtime: Runtime,
) -> None:
    recruiter = make_user(runtime, "recruiter")
    interview_with(
        runtime,
        "Ada Byron",
        [
            ("Una Park", 1.0, "What about stock options?"),
            ("Ada Byron", 64.5, "I want options on stock, not cash."),
            ("Ada Byron", 130.0, "Stock options vest over four years."),
        ],
        when=dt.datetime(2026, 11, 1, 9),
    )
    interview_with(
        runtime,
        "Grace Hopper",
        [("Grace Hopper", 12.0, "My stock portfolio is private.")],
        when=dt.datetime(2026, 11, 2, 9),
    )

    loose = found(run(runtime, recruiter, "OPTIONS stock"))
    assert list(loose) == ["Ada Byron"]
    assert [ms for ms, *_ in loose["Ada Byron"]] == [1000, 64500, 130000]
    assert loose["Ada Byron"][1] == (
        64500,
        "Ada Byron",
        "I want [options] on [stock], not cash.",
    )

    phrase = found(run(runtime, recruiter, '"stock options"'))
    assert [ms for ms, *_ in phrase["Ada Byron"]] == [1000, 130000]

    newest_first = run(runtime, recruiter, "stock")
    assert [h.candidate for h in newest_first.hits] == ["Grace Hopper", "Ada Byron"]
    assert found(run(runtime, recruiter, "bitcoin")) == {}


def test_an_interview_shows_its_first_passages_and_counts_the_rest(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    interview_with(runtime, "Ada Byron", [("Ada", 10.0 * n, f"Budget item {n}.") for n in range(7)])
    (hit,) = run(runtime, admin, "budget").hits
    assert [p.start_ms for p in hit.passages] == [0, 10000, 20000]
    assert hit.more == 4


def test_a_phrase_most_segments_do_not_say_stops_the_search_early_and_says_so(
    runtime: Runtime,
) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    said: Said = [("Ada", float(n), "beta then alpha") for n in range(search.MAX_OPENED + 50)]
    interview_with(runtime, "Ada Byron", [*said, ("Ada", 9999.0, "alpha beta at last")])
    results = run(runtime, admin, '"alpha beta"')
    assert results.hits == [] and results.cut_short
    assert not run(runtime, admin, "alpha beta").cut_short


def test_search_shows_only_interviews_the_searcher_may_review(runtime: Runtime) -> None:
    panelist = make_user(runtime, "interviewer", "ivy@example.com")
    manager = make_user(runtime, "interviewer", "max@example.com")
    outsider = make_user(runtime, "interviewer", "oz@example.com")
    backend = Position.create(title="Backend engineer")
    interview_with(runtime, "Ada Byron", [("Ada", 1.0, "I led the migration.")], panel=[panelist])
    interview_with(
        runtime, "Grace Hopper", [("Grace", 1.0, "The migration took a year.")], position=backend
    )
    add_member(runtime.audit, "t", backend.id, manager.id)

    assert list(found(run(runtime, panelist, "migration"))) == ["Ada Byron"]
    assert list(found(run(runtime, manager, "migration"))) == ["Grace Hopper"]
    assert found(run(runtime, outsider, "migration")) == {}
    assert agenda.positions_for(manager) == [(backend.id, "Backend engineer")]
    assert agenda.positions_for(outsider) == []


def test_filters_narrow_by_position_candidate_and_date(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    backend = Position.create(title="Backend")
    said: Said = [("x", 1.0, "We talked about latency.")]
    interview_with(runtime, "Ada Byron", said, position=backend, when=dt.datetime(2026, 10, 1, 9))
    interview_with(runtime, "Grace Hopper", said, when=dt.datetime(2026, 11, 15, 23, 30))

    assert list(found(run(runtime, admin, "latency", position_id=backend.id))) == ["Ada Byron"]
    assert list(found(run(runtime, admin, "latency", candidate="hopper"))) == ["Grace Hopper"]
    assert list(found(run(runtime, admin, "latency", candidate="grace.hopper@"))) == [
        "Grace Hopper"
    ]
    day = dt.date(2026, 11, 15)
    assert list(found(run(runtime, admin, "latency", since=day, until=day))) == ["Grace Hopper"]
    assert list(found(run(runtime, admin, "latency", until=dt.date(2026, 10, 31)))) == ["Ada Byron"]


def test_only_the_newest_recording_of_an_interview_is_searched(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    first = interview_with(runtime, "Ada Byron", [("Ada", 1.0, "The old take.")])
    again = start_recording(runtime, first.interview)
    again.status = "complete"
    again.save()
    transcription.store_transcript(
        runtime, again, Transcript("en", 9.0, [Segment(2.0, 4.0, "The new take.", speaker="Ada")])
    )
    assert [h.recording_id for h in run(runtime, admin, "take").hits] == [again.id]
    assert run(runtime, admin, "old").hits == []


def test_a_candidate_who_declined_search_as_ai_assistance_is_left_out(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    asked_old = interview_with(runtime, "Ada Byron", [("Ada", 1.0, "Monads are burritos.")])
    asked_new = interview_with(runtime, "Grace Hopper", [("Grace", 1.0, "Monads again.")])
    config = runtime.config
    asking = dataclasses.replace(
        config, interviews=dataclasses.replace(config.interviews, ai_assistance=True)
    )
    for recording, shown in (
        (
            asked_old,
            "May the hiring team use AI assistance (summaries and search computed on "
            "the appliance) on the transcript of this interview?",
        ),
        (asked_new, notice_for(asking, recording_of(asked_new)).ai_assistance),
    ):
        Consent.create(
            interview=recording.interview, kind=AI_ASSISTANCE, granted=False, text_shown=shown
        )
    assert list(found(run(runtime, admin, "monads"))) == ["Grace Hopper"]


def recording_of(recording: Recording) -> Interview:
    return Interview.get_by_id(recording.interview_id)


def test_a_search_is_audited_with_what_it_showed_and_never_the_words(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    recording = interview_with(runtime, "Ada Byron", [("Ada", 1.0, "Quasicrystal lattices.")])
    run(runtime, admin, "quasicrystal")
    entry = AuditEntry.select().where(AuditEntry.action == "transcript.search").get()
    assert entry.actor == "root@example.com"
    assert json.loads(entry.details) == {"words": 1, "shown": [recording.interview_id]}
    assert "quasicrystal" not in entry.details.lower()


def test_transcripts_stored_before_the_index_are_indexed_by_the_worker(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    interview_with(runtime, "Ada Byron", [("Ada", 1.0, "Idempotent retries.")])
    SearchTerm.delete().execute()
    assert run(runtime, admin, "idempotent").hits == []
    assert transcription.index_unindexed(runtime) == 1
    assert transcription.index_unindexed(runtime) == 0
    assert list(found(run(runtime, admin, "idempotent"))) == ["Ada Byron"]


# --- erasure --------------------------------------------------------------------------------


def database_bytes(runtime: Runtime) -> bytes:
    """Every byte SQLite keeps for the database: the file, its write-ahead log and index."""
    path = Path(runtime.config.database_url.removeprefix("sqlite:///"))
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )


def test_no_word_of_an_erased_candidate_is_left_readable_in_the_database_file(
    runtime: Runtime,
) -> None:
    admin = make_user(runtime, "admin", "root@example.com")
    recording = interview_with(
        runtime,
        "Zebulon Quarrington",
        [("Zebulon Quarrington", 3.0, "I once built a xylophonic zeppelinarium in Oslo.")],
    )
    interview_with(runtime, "Ada Byron", [("Ada", 1.0, "A zeppelinarium? Never heard of it.")])
    email = recording.interview.candidate.email
    OutboxMessage.create(
        interview=recording.interview, recipient=email, subject="Reminder", body="Dear Zebulon"
    )
    OutboxMessage.create(recipient=email, subject="Pick a time", body="Zebulon Quarrington, hi")
    OutboxMessage.create(recipient="ada@example.com", subject="Hello", body="Dear Ada")

    before = database_bytes(runtime)
    assert b"zeppelinarium" not in before.lower()  # sealed text and keyed terms only
    assert b"Quarrington" in before  # the candidate's name is a plain column until erased
    assert set(found(run(runtime, admin, "zeppelinarium"))) == {"Zebulon Quarrington", "Ada Byron"}

    candidate = Candidate.get(Candidate.id == recording.interview.candidate_id)
    erase_candidate(runtime, admin.email, candidate.id, "request")

    assert set(found(run(runtime, admin, "zeppelinarium"))) == {"Ada Byron"}
    assert not SearchTerm.select().where(SearchTerm.recording == recording).exists()
    assert [m.recipient for m in OutboxMessage.select()] == ["ada@example.com"]
    after = database_bytes(runtime)
    for word in (b"zeppelinarium", b"xylophonic", b"Quarrington", b"Zebulon"):
        assert word not in after and word.lower() not in after.lower(), word


# --- the page -------------------------------------------------------------------------------


def test_the_search_page_shows_passages_that_link_to_the_moment(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    user = make_user(runtime, "interviewer", "ivy@example.com")
    recording = interview_with(
        runtime,
        "Ada <b>Byron</b>",
        [("Ada", 75.25, "I <script>alert(1)</script> shipped the compiler.")],
        panel=[user],
    )
    sign_in(client, "ivy@example.com")
    page = client.get("/search", params={"q": "compiler"})
    assert page.status_code == 200
    assert f'href="/interviews/{recording.interview_id}/review#t=75.25"' in page.text
    assert "1:15" in page.text and "<mark>compiler</mark>" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "<b>Byron" not in page.text

    empty = client.get("/search")
    assert empty.status_code == 200 and "<mark>" not in empty.text
    assert "No interview you may review" in client.get("/search", params={"q": "zzz"}).text


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 201},
        {"q": "compiler", "since": "2026-13-01"},
        {"q": "compiler", "until": "yesterday"},
        {"q": "compiler", "position": "1; drop table"},
        {"q": "compiler", "position": "9" * 40},
        {"q": "compiler", "candidate": "c" * 201},
    ],
)
def test_a_search_the_page_cannot_run_says_why(
    runtime: Runtime, client: TestClient[Litestar], params: dict[str, str]
) -> None:
    make_user(runtime, "recruiter", "rita@example.com")
    sign_in(client, "rita@example.com")
    page = client.get("/search", params=params)
    assert page.status_code == 400
    assert 'role="alert"' in page.text and "Traceback" not in page.text
