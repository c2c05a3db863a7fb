"""Bearer tokens (session cookies, setup and calendar-feed links): random, and stored only as
their SHA-256, so a copy of the database yields no working token."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
