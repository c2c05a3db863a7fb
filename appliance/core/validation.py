"""Checks shared by every form and API body: trimmed text within limits, allowed choices."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.core.errors import ApplianceError


def text(label: str, value: str, max_length: int, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise ApplianceError(f"{label} is required")
    if len(value) > max_length:
        raise ApplianceError(f"{label} is too long ({len(value)} characters; at most {max_length})")
    return value


def choice(label: str, value: str, allowed: Iterable[str]) -> str:
    options = list(allowed)
    if value not in options:
        raise ApplianceError(f"{label} must be one of: {', '.join(options)}")
    return value
