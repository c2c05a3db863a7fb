"""Evidence per competency: the candidate's turns that bear on each competency of the kit,
ranked, with how much of the candidate's speech they cover.

The method (docs/evidence.md has its measured precision):

1. The candidate's consecutive transcript segments are joined into turns (a turn is cut after
   MAX_TURN_WORDS so a quote stays readable).
2. Each competency is described by several texts: its name with its description, each of its
   questions, and each level of its scoring guide. A turn's text score is its best cosine
   similarity to any of them, blended with the same for the question that prompted it (the
   other speakers' words just before) and for the turns either side of it, since an answer is
   read in its context.
3. When each kit question was asked is known from the panel's "asked" ticks or, where nobody
   ticked, from the interviewers' turn that most resembles the question. A turn spoken while one
   of the competency's questions was the current one is raised (`in_segment`); a turn before
   the first question (introductions, small talk) is lowered (`before_questions`).
4. Turns scoring at least `relevant` count as evidence; the panel shows the best `shown`.

Text only: the method never sees audio, faces or tone, and infers nothing about emotion or
personality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from appliance.core.errors import Invalid

# A turn is cut after this many words: a quote a reader takes in at a glance (about 30 s).
MAX_TURN_WORDS = 90
# The most transcript segments read: a six-hour interview. Past it, the caller is told so.
MAX_SEGMENTS = 5000
SUPPORTED_LANGUAGES = ("en",)


@dataclass(frozen=True)
class Method:
    """The weights of the ranking (the module's docstring says what each does)."""

    own: float = 0.6  # a turn's own text in its text score...
    prompt: float = 0.25  # ...the question that prompted it...
    neighbours: float = 0.15  # ...and the candidate's turns either side of it
    in_segment: float = 0.15
    before_questions: float = 0.1
    # An interviewer's turn this similar to a kit question is taken as asking it (no tick).
    asked_match: float = 0.55
    relevant: float = 0.4
    shown: int = 5


METHOD = Method()
# The baseline the method is measured against (bench/evidence.py): text similarity alone.
EMBEDDINGS_ONLY = Method(
    own=1.0, prompt=0.0, neighbours=0.0, in_segment=0.0, before_questions=0.0,
    asked_match=float("inf"),
)  # fmt: skip


class TextEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Utterance:
    start: float
    end: float
    speaker: str
    text: str


@dataclass(frozen=True)
class KitQuestion:
    id: int
    text: str


@dataclass(frozen=True)
class KitCompetency:
    id: int
    name: str
    description: str
    guide: Sequence[str]
    questions: Sequence[KitQuestion]


@dataclass(frozen=True)
class Asked:
    question_id: int
    at: float


@dataclass(frozen=True)
class Quote:
    start: float
    end: float
    speaker: str
    quote: str
    score: float


@dataclass(frozen=True)
class CompetencyEvidence:
    id: int
    name: str
    quotes: list[Quote]  # the best `shown` relevant turns, best first
    relevant_turns: int  # distinct candidate turns scoring at least `relevant`
    relevant_seconds: float  # their speech
    candidate_seconds: float  # all the candidate's speech
    best_score: float = 0.0  # the best turn's score, over the threshold or not
    summary: str = ""  # written by an imported language model, where there is one


@dataclass(frozen=True)
class Evidence:
    competencies: list[CompetencyEvidence]
    note: str = ""  # why there is no evidence, when there is none
    asked: list[Asked] = field(default_factory=list)  # the question times the ranking used
    asked_inferred: bool = False  # True when they came from the transcript, not ticks
    summary_model: str = ""  # the language model that wrote the summaries


class EvidenceRefused(Invalid):
    """The input is beyond what the method reads (its size); nothing was computed."""


@dataclass(frozen=True)
class _Turn:
    start: float
    end: float
    speaker: str
    text: str
    index: int  # position among all turns, for prompts and neighbours
    seconds: float  # speech: the sum of its segments, not counting pauses between them


def _turns(utterances: Sequence[Utterance]) -> list[_Turn]:
    """Consecutive segments of one speaker joined, cut after MAX_TURN_WORDS."""
    turns: list[_Turn] = []
    words = 0
    for u in utterances:
        text = " ".join(u.text.split())
        if not text:
            continue
        last = turns[-1] if turns else None
        if last and last.speaker == u.speaker and words + len(text.split()) <= MAX_TURN_WORDS:
            turns[-1] = _Turn(
                last.start, u.end, u.speaker, f"{last.text} {text}", last.index,
                last.seconds + u.end - u.start,
            )  # fmt: skip
            words += len(text.split())
        else:
            turns.append(_Turn(u.start, u.end, u.speaker, text, len(turns), u.end - u.start))
            words = len(text.split())
    return turns


def _references(competency: KitCompetency) -> list[str]:
    texts = [f"{competency.name}. {competency.description}".strip()]
    texts += [q.text for q in competency.questions if q.text.strip()]
    texts += [level for level in competency.guide if level.strip()]
    return texts


def _inferred_asks(
    turns: Sequence[_Turn], vectors: np.ndarray, candidate: str, questions: list[KitQuestion],
    question_vectors: np.ndarray, threshold: float,
) -> list[Asked]:  # fmt: skip
    """Each kit question asked at the interviewers' turn most like it, where one is like it."""
    others = [i for i, t in enumerate(turns) if t.speaker != candidate]
    if not others or not questions:
        return []
    similarity = question_vectors @ vectors[others].T
    asks = []
    for q, row in enumerate(similarity):
        best = int(np.argmax(row))
        if row[best] >= threshold:
            asks.append(Asked(questions[q].id, turns[others[best]].start))
    return sorted(asks, key=lambda a: a.at)


def _current_question(asked: Sequence[Asked], at: float) -> int | None:
    current = None
    for ask in asked:
        if ask.at <= at:
            current = ask.question_id
    return current


def rank(
    embedder: TextEmbedder,
    kit: Sequence[KitCompetency],
    utterances: Sequence[Utterance],
    candidate: str,
    *,
    asked: Sequence[Asked] = (),
    language: str = "en",
    method: Method = METHOD,
) -> Evidence:
    if len(utterances) > MAX_SEGMENTS:
        raise EvidenceRefused(
            f"the transcript has {len(utterances)} segments; evidence reads at most {MAX_SEGMENTS}"
        )
    empty = [CompetencyEvidence(c.id, c.name, [], 0, 0.0, 0.0) for c in kit]
    if language not in SUPPORTED_LANGUAGES:
        return Evidence(
            empty,
            note=f"The transcript is in '{language}'; the evidence model reads English only, so "
            "there is no evidence rather than guessed evidence.",
        )
    turns = _turns(utterances)
    mine = [t for t in turns if t.speaker == candidate]
    if not mine:
        return Evidence(empty, note=f"No turns of {candidate!r} in the transcript.")
    if not kit:
        return Evidence([], note="The kit has no competencies.")

    questions = [q for c in kit for q in c.questions if q.text.strip()]
    references = [_references(c) for c in kit]
    flat = [text for texts in references for text in texts]
    vectors = embedder.embed([t.text for t in turns] + [q.text for q in questions] + flat)
    turn_vectors = vectors[: len(turns)]
    question_vectors = vectors[len(turns) : len(turns) + len(questions)]
    reference_vectors = vectors[len(turns) + len(questions) :]

    inferred = not asked
    if inferred:
        asked = _inferred_asks(
            turns, turn_vectors, candidate, questions, question_vectors, method.asked_match
        )
    owner = {q.id: c.id for c in kit for q in c.questions}
    first_ask = min((a.at for a in asked), default=None)
    candidate_seconds = sum(t.seconds for t in mine)

    # Best similarity of every turn to each competency's texts: [turns, competencies].
    bounds = np.cumsum([0] + [len(texts) for texts in references])
    all_scores = turn_vectors @ reference_vectors.T
    per_competency = np.stack(
        [all_scores[:, bounds[c] : bounds[c + 1]].max(axis=1) for c in range(len(kit))], axis=1
    )

    results = []
    for c, competency in enumerate(kit):
        scored: list[tuple[float, _Turn]] = []
        for turn in mine:
            own = per_competency[turn.index, c]
            prompt = _prompt_score(turns, per_competency[:, c], turn.index, candidate)
            neighbours = _neighbour_score(turns, per_competency[:, c], turn.index, candidate)
            score = method.own * own + method.prompt * prompt + method.neighbours * neighbours
            middle = (turn.start + turn.end) / 2
            if first_ask is None or middle < first_ask:
                score -= method.before_questions if first_ask is not None else 0.0
            elif owner.get(_current_question(asked, middle) or -1) == competency.id:
                score += method.in_segment
            scored.append((float(score), turn))
        scored.sort(key=lambda pair: (-pair[0], pair[1].start))
        relevant = [(s, t) for s, t in scored if s >= method.relevant]
        results.append(
            CompetencyEvidence(
                competency.id,
                competency.name,
                [
                    Quote(t.start, t.end, t.speaker, t.text, round(s, 4))
                    for s, t in relevant[: method.shown]
                ],
                len(relevant),
                round(sum(t.seconds for _, t in relevant), 3),
                round(candidate_seconds, 3),
                round(scored[0][0], 4),
            )
        )
    return Evidence(results, asked=list(asked), asked_inferred=inferred)


def _prompt_score(turns: Sequence[_Turn], scores: np.ndarray, index: int, candidate: str) -> float:
    """The score of the other speakers' turn just before this answer (0 when there is none)."""
    if index > 0 and turns[index - 1].speaker != candidate:
        return float(scores[index - 1])
    return 0.0


def _neighbour_score(
    turns: Sequence[_Turn], scores: np.ndarray, index: int, candidate: str
) -> float:
    """The mean score of the candidate's turns either side of this one within the same answer."""
    near = [
        float(scores[i])
        for i in (index - 1, index + 1)
        if 0 <= i < len(turns) and turns[i].speaker == candidate
    ]
    return sum(near) / len(near) if near else float(scores[index])
