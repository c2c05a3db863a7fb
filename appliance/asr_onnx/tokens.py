"""Whisper's vocabulary: the special tokens decoding steers with, text, and word grouping."""

from __future__ import annotations

import string
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from appliance.asr_onnx.errors import ModelError

# Languages written without spaces: words are split on character boundaries instead.
UNSPACED_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue"}


class WhisperTokens:
    def __init__(self, path: Path) -> None:
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception for unreadable files
            raise ModelError(f"{path} is not a readable tokenizer: {exc}") from None
        self.eot = self._special("<|endoftext|>")
        self.sot = self._special("<|startoftranscript|>")
        self.translate = self._special("<|translate|>")
        self.transcribe = self._special("<|transcribe|>")
        self.sot_lm = self._special("<|startoflm|>")
        self.sot_prev = self._special("<|startofprev|>")
        self.no_timestamps = self._special("<|notimestamps|>")
        no_speech = self.tokenizer.token_to_id("<|nospeech|>")
        self.no_speech = no_speech if no_speech is not None else self._special("<|nocaptions|>")
        self.timestamp_begin = self.no_timestamps + 1
        self.blank = self.tokenizer.encode(" ", add_special_tokens=False).ids

    def _special(self, token: str) -> int:
        value = self.tokenizer.token_to_id(token)
        if value is None:
            raise ModelError(f"the tokenizer has no {token} token")
        return int(value)

    @cached_property
    def languages(self) -> dict[str, int]:
        """Language code → token id, for every <|xx|> between sot and translate."""
        found: dict[str, int] = {}
        for token_id in range(self.sot + 1, self.translate):
            token = self.tokenizer.id_to_token(token_id)
            if token and token.startswith("<|") and token.endswith("|>"):
                found[token[2:-2]] = token_id
        return found

    def language_token(self, code: str) -> int:
        try:
            return self.languages[code]
        except KeyError:
            raise ModelError(f"the model does not know the language {code!r}") from None

    def sot_sequence(self, language: str, task: str = "transcribe") -> list[int]:
        task_token = self.translate if task == "translate" else self.transcribe
        return [self.sot, self.language_token(language), task_token]

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode([t for t in tokens if t < self.eot]))

    def split_to_word_tokens(
        self, tokens: list[int], language: str
    ) -> tuple[list[str], list[list[int]]]:
        if language in UNSPACED_LANGUAGES:
            return self._split_on_unicode(tokens)
        return self._split_on_spaces(tokens)

    def _decode_all(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens, skip_special_tokens=False))

    def _split_on_unicode(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Groups tokens until they decode to whole characters (no U+FFFD halves)."""
        full = self._decode_all(tokens)
        words: list[str] = []
        word_tokens: list[list[int]] = []
        current: list[int] = []
        offset = 0
        for token in tokens:
            current.append(token)
            decoded = self._decode_all(current)
            index = decoded.find("\ufffd")
            if index < 0 or (offset + index < len(full) and full[offset + index] == "\ufffd"):
                words.append(decoded)
                word_tokens.append(current)
                current = []
                offset += len(decoded)
        return words, word_tokens

    def _split_on_spaces(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        words: list[str] = []
        word_tokens: list[list[int]] = []
        for subword, sub_tokens in zip(*self._split_on_unicode(tokens), strict=True):
            special = sub_tokens[0] >= self.eot
            starts_word = subword.startswith(" ") or subword.strip() in string.punctuation
            if special or starts_word or not words:
                words.append(subword)
                word_tokens.append(list(sub_tokens))
            else:
                words[-1] += subword
                word_tokens[-1].extend(sub_tokens)
        return words, word_tokens
