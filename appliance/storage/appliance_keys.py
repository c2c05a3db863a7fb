"""The appliance's own keys, made once by `appliance init` and kept as 0600 files.

- `keys/kek.key`: 32 random bytes, the key-encryption key that wraps every data key.
- `keys/signing.key`: the Ed25519 key that signs audit checkpoints and exports (PEM, PKCS#8).
- `keys/signing.pub`: its public half, for verifying on another machine.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.errors import ApplianceError

KEK_BYTES = 32


@dataclass(frozen=True)
class ApplianceKeys:
    kek: bytes
    signing_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose (e.g. signing web cookies), independent of the KEK."""
        return HKDF(
            algorithm=SHA256(), length=32, salt=None, info=f"parley {purpose}".encode()
        ).derive(self.kek)


def key_dir(data_dir: Path) -> Path:
    return data_dir / "keys"


def create_keys(data_dir: Path) -> bool:
    """Create the key files that are missing; returns True when any was created."""
    directory = key_dir(data_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    created = False
    kek_path = directory / "kek.key"
    if not kek_path.exists():
        _write_secret(kek_path, secrets.token_bytes(KEK_BYTES))
        created = True
    signing_path = directory / "signing.key"
    if not signing_path.exists():
        private = Ed25519PrivateKey.generate()
        _write_secret(
            signing_path,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        created = True
    private_key = _load_signing_key(signing_path)
    public_path = directory / "signing.pub"
    public_path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return created


def load_keys(data_dir: Path) -> ApplianceKeys:
    """Read the appliance's keys; a clear error when they are missing or damaged."""
    directory = key_dir(data_dir)
    kek_path = directory / "kek.key"
    try:
        kek = kek_path.read_bytes()
    except FileNotFoundError:
        raise ApplianceError(
            f"{kek_path} is missing; run 'appliance init --data-dir {data_dir}'"
        ) from None
    except OSError as exc:
        raise ApplianceError(f"cannot read {kek_path}: {exc.strerror}") from None
    if len(kek) != KEK_BYTES:
        raise ApplianceError(f"{kek_path} is damaged: expected {KEK_BYTES} bytes, found {len(kek)}")
    return ApplianceKeys(kek=kek, signing_key=_load_signing_key(directory / "signing.key"))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a `signing.pub` file (PEM) for offline verification."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise ApplianceError(f"public key file {path} does not exist") from None
    except ValueError as exc:
        raise ApplianceError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ApplianceError(f"{path} is not an Ed25519 public key")
    return key


def _load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ApplianceError(f"{path} is missing; run 'appliance init'") from None
    except OSError as exc:
        raise ApplianceError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ApplianceError(f"{path} is damaged: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ApplianceError(f"{path} does not hold an Ed25519 key")
    return key


def _write_secret(path: Path, data: bytes) -> None:
    """Write a 0600 file atomically, so a crash never leaves half a key."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
