"""Searching the transcripts a staff member may review: words and "quoted phrases", answered
from the keyed index (recordings/search_index.py) and shown as the matching passages, opened
from their sealed segments.

A segment matches when it holds every word of the query and each quoted phrase in order. Only
the newest recording of each interview is searched: it is the one the review page plays.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import peewee

from appliance.core.errors import ApplianceError
from appliance.db.models import (
    Candidate,
    Interview,
    Position,
    Recording,
    SearchTerm,
    TranscriptSegment,
    User,
)
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import visible_to
from appliance.interview import consent
from appliance.recordings import search_index
from appliance.recordings.search_index import TermKey, words
from appliance.recordings.transcription import open_segment
from appliance.runtime import Runtime
from appliance.storage import keystore

MAX_QUERY = 200
MAX_WORDS = 12
PAGE = 20  # interviews shown per search
PASSAGES = 3  # passages shown per interview
# Segments a search opens at most to check phrases and show passages (each is decrypted), and
# how many it opens at a time.
MAX_OPENED = 400
OPEN_BATCH = 8
SEARCHABLE = ("complete", "interrupted")
_PHRASE = re.compile(r'"([^"]*)"')


class BadQuery(ApplianceError):
    """A query search cannot run: empty, too long, or too many words."""


@dataclass(frozen=True)
class Query:
    words: list[str]  # every distinct word, phrases' included
    phrases: list[list[str]]  # quoted phrases of two words or more, in order

    @classmethod
    def parse(cls, text: str) -> Query:
        if len(text) > MAX_QUERY:
            raise BadQuery(f"a search is at most {MAX_QUERY} characters")
        phrases = [words(p) for p in _PHRASE.findall(text)]
        loose = words(_PHRASE.sub(" ", text))
        every = list(dict.fromkeys([w for p in phrases for w in p] + loose))
        if not every:
            raise BadQuery("type a word to search for")
        if len(every) > MAX_WORDS:
            raise BadQuery(f"a search has at most {MAX_WORDS} different words")
        return cls(every, [p for p in phrases if len(p) > 1])

    def matches(self, text: str) -> bool:
        said = words(text)
        return all(_contains(said, phrase) for phrase in self.phrases)


def _contains(said: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(said[i : i + n] == phrase for i in range(len(said) - n + 1))


@dataclass(frozen=True)
class Filters:
    position_id: int | None = None
    candidate: str = ""  # part of the candidate's name or e-mail
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive


@dataclass(frozen=True)
class Passage:
    start_ms: int
    speaker: str
    # The passage's text in pieces, each marked whether it is a word searched for.
    pieces: list[tuple[str, bool]]


@dataclass
class Hit:
    interview_id: int
    recording_id: int
    candidate: str
    position: str
    starts_at: dt.datetime
    passages: list[Passage] = field(default_factory=list)
    more: int = 0  # other segments that hold every word (and may hold the phrases)


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    searched: int  # recordings searched
    matched: int  # recordings with a segment holding every word (some may not be shown)
    # The search stopped opening segments before it had looked at every candidate: a phrase
    # that most segments holding its words do not say. More may match.
    cut_short: bool = False


def _recordings(user: User, filters: Filters) -> list[tuple[int, str]]:
    """(id, key id) of the newest searchable recording of each interview `user` may review,
    newest first."""
    newest = Recording.select(peewee.fn.MAX(Recording.id)).group_by(Recording.interview)
    query = (
        Recording.select(Recording.id, Recording.key_id)
        .join(Interview)
        .join(Candidate)
        .where(
            Recording.id.in_(newest)
            & Recording.status.in_(SEARCHABLE)
            & Recording.key_id.is_null(False)
            & Candidate.erased_at.is_null()
            & Interview.id.not_in(consent.search_declined())
        )
    )
    if filters.position_id is not None:
        query = query.where(Interview.position == filters.position_id)
    if filters.candidate.strip():
        part = filters.candidate.strip()
        query = query.where(Candidate.name.contains(part) | Candidate.email.contains(part))
    if filters.since is not None:
        query = query.where(Interview.starts_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until is not None:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time())
        query = query.where(Interview.starts_at < end)
    query = visible_to(user, query)
    ordered = query.order_by(Interview.starts_at.desc(), Recording.id.desc())
    cursor = Recording._meta.database.execute(ordered)  # plain rows: a thousand per search
    return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def _matching_segments(
    runtime: Runtime, recordings: list[tuple[int, str]], query: Query
) -> tuple[dict[int, list[int]], dict[int, bytes]]:
    """For each recording whose index holds every word in one segment, those segments' ids;
    and the data keys opened on the way."""
    keys = keystore.unwrap_many(
        runtime.config.data_dir, [bytes.fromhex(key_id) for _, key_id in recordings]
    )
    wanted: dict[bytes, tuple[int, str]] = {}
    data_keys: dict[int, bytes] = {}
    for recording_id, key_id in recordings:
        data_key = keys.get(bytes.fromhex(key_id))
        if data_key is None:
            continue
        data_keys[recording_id] = data_key
        term_key = TermKey(data_key)
        for word in query.words:
            wanted[term_key.term(word)] = (recording_id, word)
    found: dict[int, dict[str, set[int]]] = {}
    terms = list(wanted)
    for start in range(0, len(terms), keystore.QUERY_BATCH):
        rows = SearchTerm.select(SearchTerm.recording, SearchTerm.term, SearchTerm.segments).where(
            SearchTerm.term.in_(terms[start : start + keystore.QUERY_BATCH])
        )
        for row in rows:
            recording_id, word = wanted[bytes(row.term)]
            if row.recording_id == recording_id:
                found.setdefault(recording_id, {})[word] = set(
                    search_index.unpack(bytes(row.segments))
                )
    matches: dict[int, list[int]] = {}
    for recording_id, by_word in found.items():
        if len(by_word) == len(query.words):
            common = set.intersection(*by_word.values())
            if common:
                matches[recording_id] = sorted(common)
    return matches, data_keys


def _pieces(text: str, query: Query) -> list[tuple[str, bool]]:
    """`text` cut into the words searched for and what lies between them."""
    sought = set(query.words)
    pieces: list[tuple[str, bool]] = []
    last = 0
    for found in re.finditer(r"\w+(?:['\u2019]\w+)*", text):
        if any(word in sought for word in words(found.group())):
            if found.start() > last:
                pieces.append((text[last : found.start()], False))
            pieces.append((found.group(), True))
            last = found.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return pieces


def _passages(
    recording: tuple[int, str],
    data_key: bytes,
    segment_ids: list[int],
    query: Query,
    budget: list[int],
) -> tuple[list[Passage], int]:
    """The first passages of a recording that match, and how many more segments hold every
    word (and may say the phrases). Only the segments looked at are opened, at most
    `budget[0]` of them, which it spends."""
    recording_id, key_id = recording
    passages: list[Passage] = []
    checked = matched = 0
    while len(passages) < PASSAGES and checked < len(segment_ids) and budget[0] > 0:
        ids = segment_ids[checked : checked + min(OPEN_BATCH, budget[0])]
        checked += len(ids)
        budget[0] -= len(ids)
        rows = {
            r.id: r
            for r in TranscriptSegment.select().where(
                (TranscriptSegment.id.in_(ids)) & (TranscriptSegment.recording == recording_id)
            )
        }
        for row in (rows[i] for i in ids if i in rows):
            text = open_segment(recording_id, key_id, data_key, row)
            if query.matches(text):
                matched += 1
                if len(passages) < PASSAGES:
                    passages.append(Passage(row.start_ms, row.speaker, _pieces(text, query)))
    return passages, matched - len(passages) + len(segment_ids) - checked


def _hits(found: list[tuple[int, list[Passage], int]]) -> list[Hit]:
    """The interviews of the recordings found, each with its passages, in the order found."""
    ids = [recording_id for recording_id, _, _ in found]
    recordings = {
        r.id: r
        for r in Recording.select(Recording, Interview, Candidate, Position)
        .join(Interview)
        .join(Candidate)
        .switch(Interview)
        .join(Position, peewee.JOIN.LEFT_OUTER)
        .where(Recording.id.in_(ids))
    }
    hits = []
    for recording_id, passages, more in found:
        interview = recordings[recording_id].interview
        position = interview.position if interview.position_id is not None else None
        hits.append(
            Hit(
                interview.id,
                recording_id,
                display_name(interview.candidate),
                str(position.title) if position is not None else "",
                interview.starts_at,
                passages,
                more,
            )
        )
    return hits


def search(
    runtime: Runtime, user: User, actor: str, text: str, filters: Filters, page: int = PAGE
) -> Results:
    """The interviews `user` may review whose transcripts match `text`, newest first, at most
    `page` of them with their passages. Audited with the interviews shown, never the words
    searched for: the audit log outlives an erasure, and a query can quote a candidate."""
    query = Query.parse(text)
    if len(filters.candidate) > MAX_QUERY:
        raise BadQuery(f"a candidate's name to search by is at most {MAX_QUERY} characters")
    recordings = _recordings(user, filters)
    matches, data_keys = _matching_segments(runtime, recordings, query)
    found: list[tuple[int, list[Passage], int]] = []
    budget = [MAX_OPENED]
    for recording in recordings:
        if len(found) == page or budget[0] <= 0:
            break
        recording_id = recording[0]
        if recording_id in matches:
            passages, more = _passages(
                recording, data_keys[recording_id], matches[recording_id], query, budget
            )
            if passages:
                found.append((recording_id, passages, more))
    hits = _hits(found)
    runtime.audit.record(
        actor,
        "transcript.search",
        "transcripts",
        {"words": len(query.words), "shown": [h.interview_id for h in hits]},
    )
    return Results(hits, len(recordings), len(matches), budget[0] <= 0)
