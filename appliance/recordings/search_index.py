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
from peewee import Field

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


def postings(texts: Iterable[str]) -> dict[str, list[int]]:
    """Each word and the ordinals of the texts (segments) it occurs in, ascending."""
    found: dict[str, list[int]] = {}
    for ordinal, text in enumerate(texts):
        for word in dict.fromkeys(words(text)):
            found.setdefault(word, []).append(ordinal)
    return found


def pack(ordinals: list[int]) -> bytes:
    return np.asarray(ordinals, dtype="<u4").tobytes()


def unpack(packed: bytes) -> list[int]:
    return [int(n) for n in np.frombuffer(packed, dtype="<u4")]


def replace_index(recording: Recording, data_key: bytes, texts: list[str]) -> int:
    """Index a recording's transcript segments (their texts in transcript order), replacing
    what was indexed before; returns the number of terms. Call inside the transaction that
    stores the segments."""
    drop_index(recording)
    key = TermKey(data_key)
    rows = [
        {"recording": recording.id, "term": key.term(word), "segments": pack(ordinals)}
        for word, ordinals in postings(texts).items()
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        SearchTerm.insert_many(rows[start : start + INSERT_BATCH]).execute()
    return len(rows)


def drop_index(recording: Recording) -> None:
    SearchTerm.delete().where(SearchTerm.recording == recording).execute()


def segment_order(recording: Recording, *columns: Field) -> list[TranscriptSegment]:
    """The recording's transcript segments (only `columns`, when named) in the order the index
    numbers them."""
    return list(
        TranscriptSegment.select(*columns)
        .where(TranscriptSegment.recording == recording)
        .order_by(TranscriptSegment.start_ms, TranscriptSegment.id)
    )
