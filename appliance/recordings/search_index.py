"""The search index of transcripts: which words each recording's transcript segments hold,
with no word stored readable.

Each distinct word of a recording becomes one `search_term` row whose term is
HMAC-SHA256(index key, word), cut to 16 bytes, where the index key is derived from the
recording's data key. Looking a word up needs that data key, so the index opens exactly where the
transcript opens, and once a candidate's erasure destroys the key, their terms match nothing and
read as random bytes; the rows are deleted as well (docs/threat-model.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.db.models import Recording, SearchTerm, TranscriptSegment

TERM_BYTES = 16
INSERT_BATCH = 500
_WORD = re.compile(r"\w+(?:'\w+)*")


def words(text: str) -> list[str]:
    """The words of `text` as search sees them: Unicode-normalized, case-folded, with
    apostrophes inside a word kept ("don't") and every other mark a separator."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return _WORD.findall(folded)


class TermKey:
    """The keyed hash that turns one recording's words into its index terms."""

    def __init__(self, data_key: bytes) -> None:
        index_key = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"parley-search-v1").derive(
            data_key
        )
        self._base = HMAC(index_key, SHA256())

    def term(self, word: str) -> bytes:
        mac = self._base.copy()
        mac.update(word.encode("utf-8"))
        return mac.finalize()[:TERM_BYTES]


def postings(segments: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """Each word and the ids of the segments (id, text) it occurs in, in the order given."""
    found: dict[str, list[int]] = {}
    for segment_id, text in segments:
        for word in dict.fromkeys(words(text)):
            found.setdefault(word, []).append(segment_id)
    return found


def pack(ids: list[int]) -> bytes:
    """Segment ids as little-endian integers, four bytes each while they fit, else eight; the
    first byte says which."""
    if not ids or max(ids) < 2**32:
        return b"\x04" + np.asarray(ids, dtype="<u4").tobytes()
    return b"\x08" + np.asarray(ids, dtype="<u8").tobytes()


def unpack(packed: bytes) -> list[int]:
    width = {4: "<u4", 8: "<u8"}[packed[0]]
    return [int(n) for n in np.frombuffer(packed[1:], dtype=width)]


def replace_index(recording: Recording, data_key: bytes, segments: list[tuple[int, str]]) -> int:
    """Index a recording's transcript segments, (id, text) in transcript order, replacing what
    was indexed before; returns the number of terms. Call inside the transaction that stores
    the segments."""
    drop_index(recording)
    key = TermKey(data_key)
    rows = [
        {"recording": recording.id, "term": key.term(word), "segments": pack(ids)}
        for word, ids in postings(segments).items()
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        SearchTerm.insert_many(rows[start : start + INSERT_BATCH]).execute()
    return len(rows)


def drop_index(recording: Recording) -> None:
    SearchTerm.delete().where(SearchTerm.recording == recording).execute()


def segment_order(recording: Recording) -> list[TranscriptSegment]:
    """The recording's transcript segments in transcript order."""
    return list(
        TranscriptSegment.select()
        .where(TranscriptSegment.recording == recording)
        .order_by(TranscriptSegment.start_ms, TranscriptSegment.id)
    )
