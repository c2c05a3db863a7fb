"""Decoding one 30-second window: Whisper's token rules, greedy, sampling and beam search,
with the temperature fallback that rescues repetitive or unlikely output."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from appliance.asr_onnx.engine import AudioContext, DecoderState, WhisperEngine
from appliance.asr_onnx.tokens import WhisperTokens

TIME_PRECISION = 0.02  # seconds per timestamp token


@dataclass
class DecodeOptions:
    language: str | None = None  # None: detect per window
    task: str = "transcribe"
    beam_size: int = 5
    best_of: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    suppress_blank: bool = True
    without_timestamps: bool = False
    max_initial_timestamp: float = 1.0
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    prompt_reset_on_temperature: float = 0.5
    word_timestamps: bool = False
    seed: int = 0


@dataclass
class WindowResult:
    tokens: list[int]
    token_logprobs: list[float]
    sum_logprob: float
    avg_logprob: float
    no_speech_prob: float
    temperature: float
    compression_ratio: float
    language: str
    language_probability: float = 1.0


@dataclass
class _Hypothesis:
    tokens: list[int]
    logprobs: list[float] = field(default_factory=list)
    finished: bool = False

    @property
    def sum_logprob(self) -> float:
        return float(sum(self.logprobs))


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        result: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return result


class LogitRules:
    """Suppression and timestamp rules, as Whisper applies them before each choice."""

    def __init__(
        self,
        tokens: WhisperTokens,
        suppress: list[int],
        options: DecodeOptions,
        sample_begin: int,
    ) -> None:
        self.t = tokens
        self.suppress = np.array(sorted(set(suppress)), dtype=np.int64)
        self.options = options
        self.sample_begin = sample_begin
        self.max_initial = round(options.max_initial_timestamp / TIME_PRECISION)

    def apply(self, logits: np.ndarray, sequences: list[list[int]]) -> np.ndarray:
        logits = logits.copy()
        length = len(sequences[0])
        if self.options.suppress_blank and length == self.sample_begin:
            logits[:, [*self.t.blank, self.t.eot]] = -np.inf
        logits[:, self.suppress] = -np.inf
        if not self.options.without_timestamps:
            self._timestamps(logits, sequences, length)
        return logits

    def _timestamps(self, logits: np.ndarray, sequences: list[list[int]], length: int) -> None:
        begin = self.t.timestamp_begin
        logits[:, self.t.no_timestamps] = -np.inf
        for row, sequence in enumerate(sequences):
            sampled = sequence[self.sample_begin :]
            last_ts = len(sampled) >= 1 and sampled[-1] >= begin
            penultimate_ts = len(sampled) < 2 or sampled[-2] >= begin
            if last_ts:
                if penultimate_ts:  # a pair is closed: text must follow
                    logits[row, begin:] = -np.inf
                else:  # an open timestamp must be closed, or the window ended
                    logits[row, : self.t.eot] = -np.inf
            stamps = [t for t in sampled if t >= begin]
            if stamps:
                floor = stamps[-1] if last_ts and not penultimate_ts else stamps[-1] + 1
                logits[row, begin:floor] = -np.inf
        if length == self.sample_begin:
            logits[:, :begin] = -np.inf
            if self.max_initial:
                logits[:, begin + self.max_initial + 1 :] = -np.inf
        logprobs = log_softmax(logits)
        for row in range(logits.shape[0]):
            with np.errstate(invalid="ignore"):
                timestamp_mass = np.logaddexp.reduce(logprobs[row, begin:])
                best_text = logprobs[row, :begin].max()
            if timestamp_mass > best_text:
                logits[row, :begin] = -np.inf


class WindowDecoder:
    def __init__(self, engine: WhisperEngine, tokens: WhisperTokens, suppress: list[int]) -> None:
        self.engine = engine
        self.t = tokens
        self.suppress = [
            *suppress,
            tokens.transcribe,
            tokens.translate,
            tokens.sot,
            tokens.sot_prev,
            tokens.sot_lm,
            tokens.no_speech,
        ]
        self.max_sample = 224

    def _context(self, previous: list[int]) -> list[int]:
        """The prompt up to and including sot: the previous text, when there is any."""
        context = [self.t.sot_prev, *previous[-(self.max_sample - 1) :]] if previous else []
        return [*context, self.t.sot]

    def _rest(self, language: str, options: DecodeOptions) -> list[int]:
        """The prompt after sot: language, task, and whether timestamps are off."""
        rest = self.t.sot_sequence(language, options.task)[1:]
        if options.without_timestamps:
            rest.append(self.t.no_timestamps)
        return rest

    def detect_language(self, sot_logits: np.ndarray) -> tuple[str, float]:
        codes = list(self.t.languages)
        ids = np.array([self.t.languages[c] for c in codes])
        scores = sot_logits[0, ids]
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        best = int(np.argmax(probs))
        return codes[best], float(probs[best])

    def decode(
        self,
        audio: AudioContext,
        previous: list[int],
        options: DecodeOptions,
        rng: np.random.Generator,
    ) -> WindowResult:
        state = self.engine.empty_state(1)
        context = self._context(previous)
        sot_logits, state, _ = self.engine.step(audio, state, np.array([context]))
        no_speech = float(np.exp(log_softmax(sot_logits)[0, self.t.no_speech]))
        language, probability = options.language or "", 1.0
        if not language:
            language, probability = self.detect_language(sot_logits)
        rest = self._rest(language, options)
        logits, state, _ = self.engine.step(audio, state, np.array([rest]))
        prompt = [*context, *rest]
        rules = LogitRules(self.t, self.suppress, options, len(prompt))

        results: list[WindowResult] = []
        for temperature in options.temperatures:
            if temperature > 0:
                best = self._sample(
                    audio, state, logits, prompt, rules, options.best_of, temperature, rng
                )
            else:
                best = self._beam(audio, state, logits, prompt, rules, options)
            text = self.t.decode(best.tokens).strip()
            ratio = compression_ratio(text)
            result = self._result(best, no_speech, temperature, ratio, language, probability)
            results.append(result)
            if not self._needs_fallback(result, options):
                return result
        # Every temperature failed: keep the likeliest non-repetitive attempt.
        return max(
            results,
            key=lambda r: (
                options.compression_ratio_threshold is None
                or r.compression_ratio <= options.compression_ratio_threshold,
                r.avg_logprob,
            ),
        )

    def _result(
        self,
        best: _Hypothesis,
        no_speech: float,
        temperature: float,
        ratio: float,
        language: str,
        probability: float,
    ) -> WindowResult:
        total = best.sum_logprob
        return WindowResult(
            tokens=best.tokens,
            token_logprobs=best.logprobs[: len(best.tokens)],
            sum_logprob=total,
            avg_logprob=total / (len(best.tokens) + 1),
            no_speech_prob=no_speech,
            temperature=temperature,
            compression_ratio=ratio,
            language=language,
            language_probability=probability,
        )

    @staticmethod
    def _needs_fallback(result: WindowResult, options: DecodeOptions) -> bool:
        too_repetitive = (
            options.compression_ratio_threshold is not None
            and result.compression_ratio > options.compression_ratio_threshold
        )
        too_unlikely = (
            options.log_prob_threshold is not None
            and result.avg_logprob < options.log_prob_threshold
        )
        silent = (
            options.no_speech_threshold is not None
            and result.no_speech_prob > options.no_speech_threshold
            and too_unlikely
        )
        return (too_repetitive or too_unlikely) and not silent

    def _limit(self, prompt: list[int]) -> int:
        return min(len(prompt) + self.max_sample, 448)

    def _sample(
        self,
        audio: AudioContext,
        state: DecoderState,
        logits: np.ndarray,
        prompt: list[int],
        rules: LogitRules,
        count: int,
        temperature: float,
        rng: np.random.Generator,
    ) -> _Hypothesis:
        """Greedy when temperature is 0 (one row), else `count` sampled rows; best by average."""
        rows = 1 if temperature == 0 else count
        hyps = [_Hypothesis([]) for _ in range(rows)]
        logits = np.repeat(logits, rows, axis=0)
        reorder = np.zeros(rows, dtype=np.int64)
        limit = self._limit(prompt)
        while True:
            filtered = rules.apply(logits, [prompt + h.tokens for h in hyps])
            logprobs = log_softmax(filtered)
            if temperature == 0:
                chosen = filtered.argmax(axis=-1)
            else:  # Gumbel-max: a sample from softmax(filtered / temperature) per row
                noise = rng.gumbel(size=filtered.shape)
                chosen = (filtered / temperature + noise).argmax(axis=-1)
            for row, hyp in enumerate(hyps):
                if hyp.finished:
                    continue
                token = int(chosen[row])
                hyp.logprobs.append(float(logprobs[row, token]))
                if token == self.t.eot:
                    hyp.finished = True
                else:
                    hyp.tokens.append(token)
            longest = max(len(h.tokens) for h in hyps)
            if all(h.finished for h in hyps) or len(prompt) + longest >= limit:
                break
            feed = np.array([[h.tokens[-1] if not h.finished else self.t.eot] for h in hyps])
            logits, state, _ = self.engine.step(audio, state, feed, reorder)
            reorder = np.arange(rows, dtype=np.int64)
        return max(hyps, key=lambda h: h.sum_logprob / (len(h.tokens) + 1))

    def _beam(
        self,
        audio: AudioContext,
        state: DecoderState,
        logits: np.ndarray,
        prompt: list[int],
        rules: LogitRules,
        options: DecodeOptions,
    ) -> _Hypothesis:
        if options.beam_size <= 1:
            return self._sample(
                audio, state, logits, prompt, rules, 1, 0.0, np.random.default_rng(0)
            )
        size = options.beam_size
        beams = [_Hypothesis([])]
        finished: list[_Hypothesis] = []
        limit = self._limit(prompt)
        while True:
            logprobs = log_softmax(rules.apply(logits, [prompt + b.tokens for b in beams]))
            totals = logprobs + np.array([[b.sum_logprob] for b in beams])
            scores = totals.reshape(-1)
            top = np.argpartition(-scores, 2 * size)[: 2 * size]
            flat = top[np.lexsort((top, -scores[top]))]  # best first; ties by position
            next_beams: list[_Hypothesis] = []
            sources: list[int] = []
            top_finished = False
            for rank, index in enumerate(flat):
                row, token = divmod(int(index), totals.shape[1])
                parent = beams[row]
                step = [*parent.logprobs, float(logprobs[row, token])]
                if token == self.t.eot:
                    # Only a candidate within the best `size` may end a hypothesis.
                    if rank < size:
                        finished.append(_Hypothesis(parent.tokens, step, True))
                        top_finished = top_finished or rank == 0
                elif len(next_beams) < size:
                    next_beams.append(_Hypothesis([*parent.tokens, token], step))
                    sources.append(row)
            if top_finished or not next_beams:
                break
            beams = next_beams
            if len(prompt) + len(beams[0].tokens) >= limit:
                break
            feed = np.array([[b.tokens[-1]] for b in beams])
            logits, state, _ = self.engine.step(
                audio, state, feed, np.array(sources, dtype=np.int64)
            )
        pool = finished or beams
        return max(pool, key=lambda h: h.sum_logprob / max(1, len(h.logprobs)))
