"""The audit log's newest signed checkpoint, kept outside the database.

Whoever can write the database can delete entries and checkpoints together, and re-chain
what is left; only a checkpoint kept elsewhere shows that entries once existed. The appliance
writes its newest checkpoint to `<data-dir>/audit-checkpoint.note` (and puts it in every
backup and compliance bundle); an officer who keeps a copy can later check, offline, that the
log still holds that entry with that hash (`appliance audit verify --against FILE`).

The file is a signed note in the C2SP style (c2sp.org/signed-note): a text, a blank line, and
one signature line `— <name> <base64(key id ‖ Ed25519 signature over the text)>`, where the key
id is the first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key). The text is

    parley-audit
    <seq of the newest checkpointed entry>
    <base64 of that entry's SHA-256 hash>
    <when it was signed, UTC>
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.core.atomic_file import TooLarge, read_bounded, write_atomically
from appliance.core.errors import ApplianceError

ORIGIN = "parley-audit"
FILE_NAME = "audit-checkpoint.note"
MAX_NOTE_BYTES = 4096


class AnchorInvalid(ApplianceError):
    """The file is not a checkpoint note signed with this appliance's key."""


@dataclass(frozen=True)
class Anchor:
    seq: int
    entry_hash: str  # hex
    at: str


def anchor_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def _key_id(public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]


def _text(anchor: Anchor) -> str:
    digest = base64.b64encode(bytes.fromhex(anchor.entry_hash)).decode()
    return f"{ORIGIN}\n{anchor.seq}\n{digest}\n{anchor.at}\n"


def signed_note(anchor: Anchor, signing_key: Ed25519PrivateKey) -> str:
    text = _text(anchor)
    signature = _key_id(signing_key.public_key()) + signing_key.sign(text.encode())
    return f"{text}\n\u2014 {ORIGIN} {base64.b64encode(signature).decode()}\n"


def parse_note(note: str, public_key: Ed25519PublicKey) -> Anchor:
    """The checkpoint a note states, once its signature checks out with `public_key`."""
    text, _, signatures = note.partition("\n\n")
    lines = text.split("\n")
    try:
        if len(lines) != 4 or lines[0] != ORIGIN:
            raise ValueError("not a Parley audit checkpoint")
        anchor = Anchor(int(lines[1]), base64.b64decode(lines[2], validate=True).hex(), lines[3])
        prefix = f"\u2014 {ORIGIN} "
        for line in signatures.splitlines():
            if not line.startswith(prefix):
                continue
            signature = base64.b64decode(line.removeprefix(prefix), validate=True)
            if signature[:4] == _key_id(public_key):
                public_key.verify(signature[4:], (text + "\n").encode())
                return anchor
        raise ValueError("no signature by this appliance's key")
    except (ValueError, binascii.Error, InvalidSignature) as exc:
        raise AnchorInvalid(f"not a checkpoint signed by this appliance: {exc}") from None


def read_anchor(path: Path, public_key: Ed25519PublicKey) -> Anchor | None:
    """The checkpoint in `path`, None when there is no file; AnchorInvalid when it is bad."""
    try:
        raw = read_bounded(path, MAX_NOTE_BYTES)
    except TooLarge:
        raise AnchorInvalid(f"{path} is larger than any checkpoint note") from None
    except OSError as exc:
        raise AnchorInvalid(f"cannot read {path}: {exc.strerror}") from None
    if raw is None:
        return None
    try:
        return parse_note(raw.decode("utf-8"), public_key)
    except UnicodeDecodeError:
        raise AnchorInvalid(f"{path} is not a checkpoint note") from None


def keep_anchor(path: Path, anchor: Anchor, signing_key: Ed25519PrivateKey) -> None:
    """Replace the file with `anchor` unless it already holds a newer checkpoint (processes
    checkpoint concurrently; the file only ever moves forward)."""
    with (path.parent / f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = read_anchor(path, signing_key.public_key())
        except AnchorInvalid:
            current = None
        if current is not None and current.seq >= anchor.seq:
            return
        write_atomically(path, signed_note(anchor, signing_key).encode(), mode=0o644)
