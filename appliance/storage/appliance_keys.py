"""The appliance's own keys, made once by `appliance init` and kept as 0600 files.

- `keys/kek.key`: 32 random bytes, the key-encryption key that wraps every data key.
- `keys/kek.new.key`, `keys/kek.old.key`: only while `appliance keys rotate` runs (or after it
  was interrupted): the incoming and outgoing KEKs, loaded too so every entry stays readable.
- `keys/signing.key`: the Ed25519 key that signs audit checkpoints and exports (PEM, PKCS#8).
- `keys/signing.pub`: its public half, for verifying on another machine.
- `keys/intake.key` / `keys/intake.pub`: an X25519 pair. The SFU wraps each live recording's
  data key for `intake.pub`, so it never needs the KEK; the worker unwraps it with `intake.key`
  and files it in the keystore.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.core.atomic_file import sync_directory, write_atomically
from appliance.core.errors import ApplianceError
from appliance.storage.recipients import (
    Identity,
    generate_identity,
    kek_id,
    load_identity,
    parse_identity,
    parse_recipient,
)

KEK_BYTES = 32
ROTATION_FILES = ("kek.new.key", "kek.old.key")


@dataclass(frozen=True)
class ApplianceKeys:
    kek: bytes
    signing_key: Ed25519PrivateKey
    # Every KEK on disk by its id: the current one, and a new one while a rotation runs.
    kek_ring: dict[str, bytes] = field(default_factory=dict)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose (e.g. signing web cookies).

        Derived from the signing key, which rotation of the KEK leaves alone.
        """
        seed = self.signing_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return HKDF(
            algorithm=SHA256(), length=32, salt=None, info=f"parley {purpose}".encode()
        ).derive(seed)


def key_dir(data_dir: Path) -> Path:
    return data_dir / "keys"


def create_keys(data_dir: Path) -> bool:
    """Create the key files that are missing; returns True when any was created."""
    directory = key_dir(data_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    created = False
    kek_path = directory / "kek.key"
    if not kek_path.exists():
        write_atomically(kek_path, secrets.token_bytes(KEK_BYTES))
        created = True
    signing_path = directory / "signing.key"
    if not signing_path.exists():
        private = Ed25519PrivateKey.generate()
        write_atomically(
            signing_path,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        created = True
    intake_path = directory / "intake.key"
    if not intake_path.exists():
        identity = generate_identity()
        write_atomically(intake_path, identity.to_text().encode() + b"\n")
        created = True
    intake = parse_identity(intake_path.read_text(encoding="utf-8"))
    (directory / "intake.pub").write_text(intake.recipient + "\n", encoding="utf-8")
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
    ring = {kek_id(kek): kek}
    for name in ROTATION_FILES:
        other = directory / name
        if other.exists() and len(other.read_bytes()) == KEK_BYTES:
            ring[kek_id(other.read_bytes())] = other.read_bytes()
    return ApplianceKeys(
        kek=kek, signing_key=_load_signing_key(directory / "signing.key"), kek_ring=ring
    )


def stage_new_kek(data_dir: Path) -> bytes:
    """Write the KEK a rotation will switch to, beside the current one."""
    kek = secrets.token_bytes(KEK_BYTES)
    write_atomically(key_dir(data_dir) / "kek.new.key", kek)
    return kek


def switch_to_new_kek(data_dir: Path) -> None:
    """Make the staged KEK current, keeping the outgoing one as kek.old.key until dropped."""
    directory = key_dir(data_dir)
    # kek.key never goes missing: the old key gets a second name, then one atomic replace.
    (directory / "kek.old.key").unlink(missing_ok=True)
    os.link(directory / "kek.key", directory / "kek.old.key")
    os.replace(directory / "kek.new.key", directory / "kek.key")
    sync_directory(directory)


def drop_rotation_files(data_dir: Path) -> None:
    """Remove the incoming/outgoing KEK files once no entry needs them."""
    for name in ROTATION_FILES:
        (key_dir(data_dir) / name).unlink(missing_ok=True)
    sync_directory(key_dir(data_dir))


def load_intake_identity(data_dir: Path) -> Identity:
    """The private half of the intake pair (worker only)."""
    return load_identity(key_dir(data_dir) / "intake.key")


def load_intake_recipient(data_dir: Path) -> str:
    """The recipient string the SFU wraps live recordings' data keys for."""
    path = key_dir(data_dir) / "intake.pub"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ApplianceError(f"{path} is missing; run 'appliance init'") from None
    parse_recipient(text)
    return text


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
