"""The signaling protocol's shared pieces (docs/signaling.md): how a message goes out, and the
refusals a client is told about with a stable code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


class SignalingError(Exception):
    """A request the SFU refuses; `code` is stable for clients, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_message(code: str, message: str, request: str | None = None) -> dict[str, str]:
    """An `error` for the client; `request` is the type of the client message it refuses."""
    error = {"type": "error", "code": code, "message": message}
    if request is not None:
        error["request"] = request
    return error
