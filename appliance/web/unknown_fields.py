"""Refusing JSON fields a route does not know.

A misspelt field would otherwise be dropped without a word (`"titel"` leaves the title as it
was), and an integrator would never learn of it. The body is walked against the dataclass the
route declares, nested lists and maps included; types are left to the decoder.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Union


def first_unknown(value: Any, annotation: Any, where: str = "") -> str | None:
    """Where in `value` the first field that `annotation` does not declare is, or None."""
    annotation = _bare(annotation)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        shaped = [o for o in typing.get_args(annotation) if _shaped_like(value, _bare(o))]
        return first_unknown(value, shaped[0], where) if shaped else None
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        fields = _fields(annotation)  # type: ignore[arg-type]
        for name, inner in value.items():
            path = f"{where}.{name}" if where else str(name)
            if name not in fields:
                return path
            found = first_unknown(inner, fields[name], path)
            if found is not None:
                return found
    elif origin in (list, tuple) and isinstance(value, list):
        (item,) = typing.get_args(annotation)[:1]
        for index, inner in enumerate(value):
            found = first_unknown(inner, item, f"{where}[{index}]")
            if found is not None:
                return found
    elif origin is dict and isinstance(value, dict):
        item = typing.get_args(annotation)[1]
        for key, inner in value.items():
            found = first_unknown(inner, item, f"{where}[{key!r}]")
            if found is not None:
                return found
    return None


def _shaped_like(value: Any, annotation: Any) -> bool:
    """Whether `annotation` is the structured type a JSON `value` of its kind decodes to."""
    origin = typing.get_origin(annotation)
    if isinstance(value, dict):
        return dataclasses.is_dataclass(annotation) or origin is dict
    return isinstance(value, list) and origin in (list, tuple)


def _bare(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
