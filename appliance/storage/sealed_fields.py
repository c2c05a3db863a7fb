"""Short texts sealed under a recording's data key, for database columns (transcript lines).

AES-256-GCM with a key derived for this purpose, a random nonce, and the recording's key id
plus the row's context as associated data, so a sealed value moved to another row or another
recording does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.core.errors import ApplianceError

VERSION = b"\x01"
NONCE_BYTES = 12


class FieldTampered(ApplianceError):
    """A sealed field does not open: altered, moved from another row, or the wrong key."""


def _key(data_key: bytes) -> AESGCM:
    derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"parley-field-v1").derive(
        data_key
    )
    return AESGCM(derived)


def seal_text(data_key: bytes, key_id: bytes, context: str, text: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _key(data_key).encrypt(nonce, text.encode("utf-8"), key_id + context.encode())
    return VERSION + nonce + sealed


def open_text(data_key: bytes, key_id: bytes, context: str, sealed: bytes) -> str:
    if not sealed.startswith(VERSION) or len(sealed) < 1 + NONCE_BYTES + 16:
        raise FieldTampered("not a sealed field")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return _key(data_key).decrypt(nonce, body, key_id + context.encode()).decode("utf-8")
    except InvalidTag:
        raise FieldTampered(f"sealed field {context!r} does not open") from None
