"""Rooms that have ended: how the web process keeps people out of a room on the SFU.

Ending an interview (or cancelling it) writes one file per room to `<data-dir>/ended-rooms/`,
signed with the appliance's Ed25519 key. The SFU checks the file on every join and, every
second, for each room it holds, with the public key alone: a join token issued before the end
no longer joins, people still in the room are sent `room-ended`, and neither survives an SFU
restart, because the record is on disk. A record lasts until every join token for the room has
expired (`MAX_TTL_SECONDS` after the end); the web process prunes older ones.

File: `<hex of the room name>.json`, JSON `{"body": <string>, "signature": <base64url>}`, the
signature over "parley-room-ended-v1." + body; body is JSON `{"room", "by", "ended_at",
"until"}` (Unix seconds).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.contracts.join_token import MAX_TTL_SECONDS
from appliance.core.atomic_file import TooLarge, read_bounded, write_atomically

logger = logging.getLogger(__name__)
# Records already reported as unusable, by path and modification time: the SFU checks every
# second, and a bad file is worth one warning, not one a second.
_reported: set[tuple[Path, int]] = set()

DOMAIN = b"parley-room-ended-v1."
MAX_RECORD_BYTES = 4096


@dataclass(frozen=True)
class RoomEnded:
    room: str
    by: str
    ended_at: float
    until: float


def ended_rooms_dir(data_dir: Path) -> Path:
    return data_dir / "ended-rooms"


def _path(directory: Path, room: str) -> Path:
    return directory / f"{room.encode().hex()}.json"


def record_end(
    directory: Path, signing_key: Ed25519PrivateKey, room: str, by: str, now: float | None = None
) -> None:
    """Sign and store that `room` has ended; older records whose tokens have expired go."""
    current = time.time() if now is None else now
    body = json.dumps(
        {"room": room, "by": by, "ended_at": current, "until": current + MAX_TTL_SECONDS},
        sort_keys=True,
    )
    signature = signing_key.sign(DOMAIN + body.encode())
    record = {"body": body, "signature": base64.urlsafe_b64encode(signature).decode()}
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(_path(directory, room), json.dumps(record).encode())
    _prune(directory, current)


def ended(
    directory: Path, public_key: Ed25519PublicKey, room: str, now: float | None = None
) -> RoomEnded | None:
    """The genuine, current record that `room` has ended, or None. A record that is damaged or
    not signed by the appliance is ignored and logged: it says nothing the web process said."""
    path = _path(directory, room)
    try:
        raw = read_bounded(path, MAX_RECORD_BYTES)
    except TooLarge:
        _warn_once(path, "larger than any ended-room record")
        return None
    except OSError as exc:
        _warn_once(path, f"cannot read it: {exc}")
        return None
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        body = record["body"]
        public_key.verify(base64.urlsafe_b64decode(record["signature"]), DOMAIN + body.encode())
        fields = json.loads(body)
        claim = RoomEnded(
            room=str(fields["room"]),
            by=str(fields["by"]),
            ended_at=float(fields["ended_at"]),
            until=float(fields["until"]),
        )
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,
        binascii.Error,
        InvalidSignature,
    ):
        _warn_once(path, "not an ended-room record signed by this appliance")
        return None
    if claim.room != room:
        _warn_once(path, f"not the record of room {room!r}")
        return None
    return claim if claim.until > (time.time() if now is None else now) else None


def _warn_once(path: Path, why: str) -> None:
    try:
        seen = (path, path.stat().st_mtime_ns)
    except OSError:
        seen = (path, 0)
    if seen not in _reported:
        _reported.add(seen)
        logger.warning("ignoring the ended-room record %s: %s", path, why)


def _prune(directory: Path, now: float) -> None:
    for path in directory.glob("*.json"):
        try:
            until = json.loads(json.loads(path.read_bytes())["body"])["until"]
            if float(until) <= now:
                path.unlink()
        except (OSError, ValueError, TypeError, KeyError):
            continue
