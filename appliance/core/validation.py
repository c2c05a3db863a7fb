"""Checks shared by every form and API body: trimmed text within limits, allowed choices.

A length limit counts the text as sent, before trimming, so it means what the API's schema
says (`maxLength`); "required" means something other than spaces is left after trimming."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, TypeVar

from annotated_types import MaxLen, MinLen

from appliance.core.errors import Invalid

# Limits, in characters, shared by the fields below and the checks that enforce them.
SHORT = 200  # a name or a title
TEXT = 5000  # a question, a comment, a reason
LONG = 20000  # a description, notes

# Input fields as the API's schema states them (MinLen(1): required, so something other than
# spaces). The checks below enforce the same limits for forms and API bodies alike.
ShortText = Annotated[str, MaxLen(SHORT)]
RequiredShortText = Annotated[str, MinLen(1), MaxLen(SHORT)]
Text = Annotated[str, MaxLen(TEXT)]
RequiredText = Annotated[str, MinLen(1), MaxLen(TEXT)]
LongText = Annotated[str, MaxLen(LONG)]

C = TypeVar("C", bound=str)


def text(label: str, value: str, max_length: int, required: bool = False) -> str:
    if len(value) > max_length:
        raise Invalid(f"{label} is too long ({len(value)} characters; at most {max_length})")
    value = value.strip()
    if required and not value:
        raise Invalid(f"{label} is required")
    return value


def choice(label: str, value: str, allowed: Iterable[C]) -> C:
    options = list(allowed)
    for option in options:
        if option == value:
            return option
    raise Invalid(f"{label} must be one of: {', '.join(options)}")
