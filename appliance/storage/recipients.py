"""Wrapping a 32-byte data key: for the appliance's key-encryption key, or for an X25519 recipient.

The X25519 wrapping follows age's X25519 recipient: an ephemeral key pair per wrap, the shared
secret through HKDF-SHA256 salted with both public keys, and an AEAD over the data key. The byte
layouts are in docs/recording-format.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from appliance.core.errors import ApplianceError

RECIPIENT_PREFIX = "parley-recipient-v1:"
IDENTITY_PREFIX = "PARLEY-IDENTITY-V1:"
KEK_WRAP_VERSION = 1
KEK_AAD = b"parley-kek-wrap-v1"
X25519_INFO = b"parley-x25519-wrap-v1"
APPLIANCE_RECIPIENT_PREFIX = "appliance:"


class UnwrapFailed(ApplianceError):
    """A wrapped data key did not open with the key offered."""


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


# --- the appliance's key-encryption key -------------------------------------------------------


def kek_id(kek: bytes) -> str:
    """A short public name for a KEK (first 8 bytes of its SHA-256), so entries say which."""
    return hashlib.sha256(b"parley-kek-id" + kek).hexdigest()[:16]


def appliance_recipient(kek: bytes) -> str:
    return APPLIANCE_RECIPIENT_PREFIX + kek_id(kek)


def wrap_for_kek(kek: bytes, key_id: bytes, data_key: bytes) -> bytes:
    """version (1) || nonce (12) || AES-256-GCM(data key), with the key id bound as AAD."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(kek).encrypt(nonce, data_key, KEK_AAD + key_id)
    return bytes([KEK_WRAP_VERSION]) + nonce + sealed


def unwrap_with_kek(kek: bytes, key_id: bytes, wrapped: bytes) -> bytes:
    if len(wrapped) != 1 + 12 + 32 + 16 or wrapped[0] != KEK_WRAP_VERSION:
        raise UnwrapFailed("the appliance's key entry is malformed")
    try:
        return AESGCM(kek).decrypt(wrapped[1:13], wrapped[13:], KEK_AAD + key_id)
    except InvalidTag:
        raise UnwrapFailed(
            "the appliance's key entry does not open with this key-encryption key"
        ) from None


# --- X25519 recipients --------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """A compliance officer's private key, kept in a file off the appliance."""

    private_key: X25519PrivateKey

    @property
    def recipient(self) -> str:
        return recipient_string(self.private_key.public_key())

    def to_text(self) -> str:
        raw = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return IDENTITY_PREFIX + _b32(raw).upper()


def generate_identity() -> Identity:
    return Identity(X25519PrivateKey.generate())


def recipient_string(public_key: X25519PublicKey) -> str:
    return RECIPIENT_PREFIX + _b32(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def parse_recipient(text: str) -> X25519PublicKey:
    text = text.strip()
    if not text.startswith(RECIPIENT_PREFIX):
        raise ApplianceError(f"a recipient starts with '{RECIPIENT_PREFIX}'")
    try:
        raw = _unb32(text[len(RECIPIENT_PREFIX) :])
    except ValueError:
        raise ApplianceError("the recipient string is damaged (not base32)") from None
    if len(raw) != 32:
        raise ApplianceError("the recipient string is damaged (wrong length)")
    return X25519PublicKey.from_public_bytes(raw)


def parse_identity(text: str) -> Identity:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(IDENTITY_PREFIX):
            try:
                raw = _unb32(line[len(IDENTITY_PREFIX) :])
            except ValueError:
                break
            if len(raw) == 32:
                return Identity(X25519PrivateKey.from_private_bytes(raw))
            break
    raise ApplianceError(f"no valid identity line (starting '{IDENTITY_PREFIX}') in the file")


def load_identity(path: Path) -> Identity:
    try:
        return parse_identity(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ApplianceError(f"identity file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ApplianceError(f"cannot read identity file {path}: {exc}") from None


def write_identity(path: Path, identity: Identity, created: str) -> None:
    """Write a new identity file, 0600; never overwrites an existing one."""
    text = (
        f"# Parley compliance identity, created {created}\n"
        f"# recipient: {identity.recipient}\n"
        f"{identity.to_text()}\n"
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ApplianceError(f"{path} already exists; choose another file") from None
    except OSError as exc:
        raise ApplianceError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _x25519_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=ephemeral + recipient, info=X25519_INFO).derive(
        shared
    )


def wrap_for_recipient(recipient: str, key_id: bytes, data_key: bytes) -> bytes:
    """ephemeral public key (32) || ChaCha20-Poly1305(data key) (48), zero nonce, key id as AAD."""
    public_key = parse_recipient(recipient)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    recipient_raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    wrap_key = _x25519_key(ephemeral.exchange(public_key), ephemeral_public, recipient_raw)
    # The wrap key is used once, so a fixed nonce is safe (as in age).
    return ephemeral_public + ChaCha20Poly1305(wrap_key).encrypt(bytes(12), data_key, key_id)


def unwrap_with_identity(identity: Identity, key_id: bytes, wrapped: bytes) -> bytes:
    if len(wrapped) != 32 + 32 + 16:
        raise UnwrapFailed("the recipient's key entry is malformed")
    ephemeral_public = wrapped[:32]
    try:
        shared = identity.private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError:
        raise UnwrapFailed("the recipient's key entry is malformed") from None
    recipient_raw = identity.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    wrap_key = _x25519_key(shared, ephemeral_public, recipient_raw)
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(bytes(12), wrapped[32:], key_id)
    except InvalidTag:
        raise UnwrapFailed(
            "this identity cannot open the key: the export was made for another recipient"
        ) from None
