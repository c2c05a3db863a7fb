"""Long-form transcription: 30-second windows with seek, segment and word timestamps.

The loop is Whisper's: decode a window conditioned on the previous text, cut it into
segments at timestamp pairs, move the window to the last complete segment, and repeat. Voice
activity detection first drops long silences, so a speaker who listens for ten minutes costs
nothing and produces no hallucinated "Thank you."
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from appliance.asr_onnx.alignment import clamp_long_words, find_alignment, merge_punctuations
from appliance.asr_onnx.decoding import TIME_PRECISION, DecodeOptions, WindowDecoder, WindowResult
from appliance.asr_onnx.engine import AudioContext, WhisperEngine
from appliance.asr_onnx.mel import FRAME_SECONDS, N_FRAMES, SAMPLE_RATE, log_mel, pad_or_trim
from appliance.asr_onnx.tokens import WhisperTokens
from appliance.asr_onnx.transcript import Segment, Transcript, Word
from appliance.asr_onnx.vad import ChunkClock, SileroVad, VadOptions

INPUT_STRIDE = 2  # mel frames per encoder position
Progress = Callable[[float, float], None]


@dataclass
class _Piece:
    start: float
    end: float
    tokens: list[int]
    words: list[Word]


class Transcriber:
    def __init__(
        self,
        engine: WhisperEngine,
        tokens: WhisperTokens,
        suppress_ids: list[int],
        n_mels: int,
        vad: SileroVad | None = None,
        model_name: str = "",
    ) -> None:
        self.engine = engine
        self.t = tokens
        self.decoder = WindowDecoder(engine, tokens, suppress_ids)
        self.n_mels = n_mels
        self.vad = vad
        self.model_name = model_name

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodeOptions | None = None,
        *,
        vad: VadOptions | None = None,
        progress: Progress | None = None,
    ) -> Transcript:
        opts = options or DecodeOptions()
        duration = len(audio) / SAMPLE_RATE
        clock: ChunkClock | None = None
        if self.vad is not None and vad is not None:
            chunks = self.vad.speech_chunks(audio, vad)
            clock = ChunkClock(chunks)
            audio = (
                np.concatenate([audio[s:e] for s, e in chunks])
                if chunks
                else np.zeros(0, np.float32)
            )
        if len(audio) == 0:
            if progress:
                progress(duration, duration)
            return Transcript(opts.language or "", duration, [], self.model_name)
        transcript = self._transcribe_audio(log_mel(audio, self.n_mels), opts, progress, duration)
        transcript.duration = duration
        if clock is not None:
            for segment in transcript.segments:
                segment.start = round(clock.original(segment.start), 3)
                segment.end = round(clock.original(segment.end), 3)
                for word in segment.words:
                    word.start = round(clock.original(word.start), 3)
                    word.end = round(clock.original(word.end), 3)
        return transcript

    def transcribe_many(
        self, audios: list[np.ndarray], options: DecodeOptions | None = None
    ) -> list[Transcript]:
        """Several short clips (live captions' utterances, up to 30 s each) whose first windows
        go through the encoder as one batch; each is then decoded as `transcribe` would."""
        opts = options or DecodeOptions()
        spoken = [i for i, audio in enumerate(audios) if len(audio)]
        mels = {i: log_mel(audios[i], self.n_mels) for i in spoken}
        contexts: dict[int, AudioContext] = {}
        if spoken:
            firsts = [
                pad_or_trim(mels[i][:, : min(N_FRAMES, mels[i].shape[-1] - 1)]) for i in spoken
            ]
            batch = self.engine.split(self.engine.encode(np.stack(firsts)))
            contexts = dict(zip(spoken, batch, strict=True))
        transcripts = []
        for i, audio in enumerate(audios):
            duration = len(audio) / SAMPLE_RATE
            if i not in contexts:
                transcripts.append(Transcript(opts.language or "", duration, [], self.model_name))
                continue
            transcript = self._transcribe_audio(mels[i], opts, None, duration, contexts[i])
            transcript.duration = duration
            transcripts.append(transcript)
        return transcripts

    def _transcribe_audio(
        self,
        mel: np.ndarray,
        opts: DecodeOptions,
        progress: Progress | None,
        duration: float,
        first: AudioContext | None = None,
    ) -> Transcript:
        """`first`, when given, is the encoder's output for the window at the start."""
        content_frames = mel.shape[-1] - 1
        rng = np.random.default_rng(opts.seed)
        seek = 0
        all_tokens: list[int] = []
        prompt_reset_since = 0
        segments: list[Segment] = []
        language = opts.language
        last_speech = 0.0
        while seek < content_frames:
            time_offset = seek * FRAME_SECONDS
            size = min(N_FRAMES, content_frames - seek)
            if seek == 0 and first is not None:
                audio_ctx = first
            else:
                audio_ctx = self.engine.encode(pad_or_trim(mel[:, seek : seek + size])[None])
            window_opts = DecodeOptions(**{**opts.__dict__, "language": language})
            result = self.decoder.decode(
                audio_ctx, all_tokens[prompt_reset_since:], window_opts, rng
            )
            language = language or result.language
            previous_seek = seek
            if self._is_silence(result, opts):
                seek += size
            else:
                pieces, seek, single_ending = self._split(result.tokens, time_offset, size, seek)
                if opts.word_timestamps:
                    last_speech = self._add_words(
                        audio_ctx, pieces, result, size, time_offset, last_speech
                    )
                    if not single_ending:
                        last_end = next(
                            (p.words[-1].end for p in reversed(pieces) if p.words), None
                        )
                        if last_end is not None and last_end > time_offset:
                            seek = round(last_end / FRAME_SECONDS)
                for piece in pieces:
                    text = self.t.decode(piece.tokens)
                    if piece.start == piece.end or not text.strip():
                        continue
                    all_tokens.extend(piece.tokens)
                    segments.append(
                        Segment(
                            start=round(piece.start, 3),
                            end=round(piece.end, 3),
                            text=text.strip(),
                            words=piece.words,
                            avg_logprob=result.avg_logprob,
                            no_speech_prob=result.no_speech_prob,
                            temperature=result.temperature,
                            compression_ratio=result.compression_ratio,
                        )
                    )
                if (
                    not opts.condition_on_previous_text
                    or result.temperature > opts.prompt_reset_on_temperature
                ):
                    prompt_reset_since = len(all_tokens)
            seek = max(seek, previous_seek + 1)
            if progress:
                progress(min(content_frames, seek) / content_frames * duration, duration)
        return Transcript(language or "", duration, segments, self.model_name)

    @staticmethod
    def _is_silence(result: WindowResult, opts: DecodeOptions) -> bool:
        if opts.no_speech_threshold is None or result.no_speech_prob <= opts.no_speech_threshold:
            return False
        return opts.log_prob_threshold is None or result.avg_logprob <= opts.log_prob_threshold

    def _split(
        self, tokens: list[int], time_offset: float, size: int, seek: int
    ) -> tuple[list[_Piece], int, bool]:
        begin = self.t.timestamp_begin
        single_ending = len(tokens) >= 2 and tokens[-2] < begin <= tokens[-1]
        consecutive = [
            i for i in range(1, len(tokens)) if tokens[i] >= begin and tokens[i - 1] >= begin
        ]
        pieces: list[_Piece] = []
        if consecutive:
            slices = [*consecutive, len(tokens)] if single_ending else consecutive
            last = 0
            for current in slices:
                part = tokens[last:current]
                pieces.append(
                    _Piece(
                        time_offset + (part[0] - begin) * TIME_PRECISION,
                        time_offset + (part[-1] - begin) * TIME_PRECISION,
                        part,
                        [],
                    )
                )
                last = current
            if single_ending:
                seek += size
            else:
                seek += (tokens[last - 1] - begin) * INPUT_STRIDE
        else:
            length = size * FRAME_SECONDS
            stamps = [t for t in tokens if t >= begin]
            if stamps and stamps[-1] != begin:
                length = (stamps[-1] - begin) * TIME_PRECISION
            pieces.append(_Piece(time_offset, time_offset + length, tokens, []))
            seek += size
        return pieces, seek, single_ending

    def _add_words(
        self,
        audio_ctx: AudioContext,
        pieces: list[_Piece],
        result: WindowResult,
        num_frames: int,
        time_offset: float,
        last_speech: float,
    ) -> float:
        per_piece = [[t for t in p.tokens if t < self.t.eot] for p in pieces]
        text_tokens = [t for part in per_piece for t in part]
        text_logprobs = [
            logprob
            for token, logprob in zip(result.tokens, result.token_logprobs, strict=True)
            if token < self.t.eot
        ]
        sot = self.t.sot_sequence(result.language)
        timings = find_alignment(
            self.engine,
            self.t,
            audio_ctx,
            sot,
            text_tokens,
            text_logprobs,
            num_frames,
            result.language,
        )
        if not timings:
            return last_speech
        median, longest = clamp_long_words(timings)
        merge_punctuations(timings)
        index = 0
        for piece, part in zip(pieces, per_piece, strict=True):
            saved = 0
            words: list[Word] = []
            while index < len(timings) and saved < len(part):
                timing = timings[index]
                if timing.word:
                    words.append(
                        Word(
                            round(time_offset + timing.start, 2),
                            round(time_offset + timing.end, 2),
                            timing.word,
                            round(timing.probability, 4),
                        )
                    )
                saved += len(timing.tokens)
                index += 1
            if words:
                self._tidy_edges(piece, words, median, longest, last_speech)
                last_speech = piece.end
            piece.words = words
        return last_speech

    @staticmethod
    def _tidy_edges(
        piece: _Piece, words: list[Word], median: float, longest: float, last_speech: float
    ) -> None:
        """Whisper's clean-up: no word after a pause stretches back into the silence, and the
        segment's edges follow its first and last words."""
        first = words[0]
        if first.end - last_speech > median * 4 and (
            first.end - first.start > longest
            or (len(words) > 1 and words[1].end - first.start > longest * 2)
        ):
            if len(words) > 1 and words[1].end - words[1].start > longest:
                boundary = max(words[1].end / 2, words[1].end - longest)
                first.end = words[1].start = boundary
            first.start = max(0.0, first.end - longest)
        if piece.start < first.end and piece.start - 0.5 > first.start:
            first.start = max(0.0, min(first.end - median, piece.start))
        else:
            piece.start = first.start
        last = words[-1]
        if piece.end > last.start and piece.end + 0.5 < last.end:
            last.end = max(last.start + median, piece.end)
        else:
            piece.end = last.end
