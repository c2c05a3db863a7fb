"""Word timing: the alignment heads' cross-attention, normalized and median-filtered, then
dynamic time warping between text tokens and 20 ms audio frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from appliance.asr_onnx.engine import AudioContext, WhisperEngine
from appliance.asr_onnx.tokens import WhisperTokens

TOKENS_PER_SECOND = 50  # encoder positions per second of audio
MEDIAN_FILTER_WIDTH = 7
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"  # noqa: RUF001 (CJK punctuation on purpose)


@dataclass
class WordTiming:
    word: str
    tokens: list[int]
    start: float
    end: float
    probability: float


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Median over the last axis with reflected edges."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return np.asarray(np.median(windows, axis=-1), dtype=x.dtype)


def dtw(cost_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment path through `cost_matrix` [tokens, frames], computed one
    anti-diagonal at a time so numpy does the inner loop."""
    n, m = cost_matrix.shape
    cost = np.full((n + 1, m + 1), np.inf)
    trace = np.full((n + 1, m + 1), -1, dtype=np.int8)
    cost[0, 0] = 0.0
    for diagonal in range(2, n + m + 1):
        i = np.arange(max(1, diagonal - m), min(n, diagonal - 1) + 1)
        j = diagonal - i
        c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
        step = np.where((c0 < c1) & (c0 < c2), 0, np.where((c1 < c0) & (c1 < c2), 1, 2))
        best = np.choose(step, [c0, c1, c2])
        cost[i, j] = cost_matrix[i - 1, j - 1] + best
        trace[i, j] = step
    trace[0, :] = 2
    trace[:, 0] = 1
    i, j = n, m
    path: list[tuple[int, int]] = []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        move = trace[i, j]
        if move == 0:
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
    steps = np.array(path[::-1])
    return steps[:, 0], steps[:, 1]


def find_alignment(
    engine: WhisperEngine,
    tokens: WhisperTokens,
    audio: AudioContext,
    sot_sequence: list[int],
    text_tokens: list[int],
    token_logprobs: list[float],
    num_frames: int,
    language: str,
) -> list[WordTiming]:
    if not text_tokens:
        return []
    sequence = [*sot_sequence, tokens.no_timestamps, *text_tokens, tokens.eot]
    _, _, scores = engine.step(audio, engine.empty_state(1), np.array([sequence]), alignment=True)
    assert scores is not None
    weights = scores[0][:, :, : max(1, num_frames // 2)]
    weights = np.exp(weights - weights.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    mean = weights.mean(axis=-2, keepdims=True)
    std = weights.std(axis=-2, keepdims=True)
    weights = (weights - mean) / np.maximum(std, 1e-10)
    matrix = median_filter(weights, MEDIAN_FILTER_WIDTH).mean(axis=0)
    matrix = matrix[len(sot_sequence) : -1]
    text_indices, time_indices = dtw(-matrix.astype(np.float64))

    words, word_tokens = tokens.split_to_word_tokens([*text_tokens, tokens.eot], language)
    if len(word_tokens) <= 1:
        return []
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    starts = jump_times[boundaries[:-1]]
    ends = jump_times[boundaries[1:]]
    probs = np.exp(np.array(token_logprobs[: len(text_tokens)] or [0.0]))
    return [
        WordTiming(
            word, toks, float(start), float(end), float(np.mean(probs[a:b]) if b > a else 0.0)
        )
        for word, toks, start, end, a, b in zip(
            words, word_tokens, starts, ends, boundaries[:-1], boundaries[1:], strict=False
        )
    ]


def merge_punctuations(alignment: list[WordTiming]) -> None:
    """Attaches opening punctuation to the next word and closing punctuation to the last."""
    i, j = len(alignment) - 2, len(alignment) - 1
    while i >= 0:
        previous, following = alignment[i], alignment[j]
        if previous.word.startswith(" ") and previous.word.strip() in PREPEND_PUNCTUATIONS:
            following.word = previous.word + following.word
            following.tokens = previous.tokens + following.tokens
            previous.word, previous.tokens = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(alignment):
        previous, following = alignment[i], alignment[j]
        if not previous.word.endswith(" ") and following.word in APPEND_PUNCTUATIONS:
            previous.word += following.word
            previous.tokens = previous.tokens + following.tokens
            following.word, following.tokens = "", []
        else:
            i = j
        j += 1


def clamp_long_words(alignment: list[WordTiming]) -> tuple[float, float]:
    """Cuts words at sentence boundaries to twice the median word length; returns
    (median duration, max duration) for the segment-level clean-up that follows."""
    durations = np.array([w.end - w.start for w in alignment])
    durations = durations[durations.nonzero()]
    median = min(0.7, float(np.median(durations))) if len(durations) else 0.0
    longest = median * 2
    if len(durations):
        marks = ".。!！?？"  # noqa: RUF001
        for i in range(1, len(alignment)):
            if alignment[i].end - alignment[i].start > longest:
                if alignment[i].word in marks:
                    alignment[i].end = alignment[i].start + longest
                elif alignment[i - 1].word in marks:
                    alignment[i].start = alignment[i].end - longest
    return median, longest
