"""Reading the evidence command's inputs: a kit in the product's kit document form and a
transcript in the product's transcript JSON, each checked field by field so a malformed file is
refused with one message naming what is wrong, never a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from appliance.core.errors import Invalid
from appliance.evidence.ranking import KitCompetency, KitQuestion, Utterance

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def read_json(path: Path, what: str) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise Invalid(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise Invalid(f"the {what} {path} is over {MAX_DOCUMENT_BYTES >> 20} MiB")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"the {what} {path} is not JSON: {exc}") from None


def _field(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise Invalid(f"{where} is not an object")
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise Invalid(f"{where}: '{key}' is missing or not {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "text",
        int: "a whole number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _optional_text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{where}: '{key}' is not text")
    return value


def kit_competencies(document: Any) -> list[KitCompetency]:
    """The competencies of a kit document (`kits.kit_document`); ids are numbered from 1
    where the document has none, as for a kit written by hand."""
    competencies = []
    for c, item in enumerate(_field(document, "competencies", list, "the kit"), start=1):
        where = f"the kit's competency {c}"
        name = _field(item, "name", str, where)
        guide = item.get("guide", [])
        if not isinstance(guide, list) or not all(isinstance(g, str) for g in guide):
            raise Invalid(f"{where}: 'guide' is not a list of texts")
        questions = []
        for q, question in enumerate(item.get("questions", []) or [], start=1):
            text = _field(question, "text", str, f"{where}, question {q}")
            questions.append(KitQuestion(_id(question, c * 1000 + q, where), text))
        competencies.append(
            KitCompetency(
                _id(item, c, where), name, _optional_text(item, "description", where), guide,
                questions,
            )
        )  # fmt: skip
    return competencies


def _id(obj: dict[str, Any], default: int, where: str) -> int:
    value = obj.get("id")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{where}: 'id' is not a whole number")
    return value


def transcript_utterances(document: Any) -> tuple[str, list[Utterance]]:
    """(language, segments) of a transcript JSON document."""
    language = _field(document, "language", str, "the transcript")
    utterances = []
    for i, segment in enumerate(_field(document, "segments", list, "the transcript")):
        where = f"the transcript's segment {i}"
        start = float(_field(segment, "start", (int, float), where))
        end = float(_field(segment, "end", (int, float), where))
        if not (math.isfinite(end) and 0 <= start <= end):
            raise Invalid(f"{where}: start {start} and end {end} are not a time span")
        speaker = _optional_text(segment, "speaker", where)
        utterances.append(Utterance(start, end, speaker, _field(segment, "text", str, where)))
    return language, utterances
