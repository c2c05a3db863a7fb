"""Join tokens: short-lived, signed claims that let one person into one room.

The web process (or `appliance sfu token`) signs them with the appliance's Ed25519 key; the SFU
verifies them with the public key alone, so an SFU node never holds a secret that could mint
tokens. Format: base64url(JSON claims) "." base64url(signature over "parley-join-v1." + the
first part).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.core.errors import ApplianceError

DOMAIN = b"parley-join-v1."
ROLES = ("candidate", "interviewer", "observer")
MAX_TOKEN_BYTES = 4096
MAX_TTL_SECONDS = 24 * 3600
NAME_PATTERN = re.compile(r"^[\w .@'-]{1,100}$")


class TokenRejected(ApplianceError):
    """The token is malformed, forged, expired or for another room."""


@dataclass(frozen=True)
class Permissions:
    publish: bool = True
    subscribe: bool = True
    # Whether this participant is told that the room is recorded. Only an observer, who
    # publishes nothing and so is never recorded, may be left untold; everyone else is told.
    record_visible: bool = True
    # Whether this participant may end the room for everyone (the panel may; candidates not).
    end_room: bool = False


@dataclass(frozen=True)
class JoinClaims:
    room: str
    identity: str
    name: str
    role: str
    expires_at: int
    permissions: Permissions = field(default_factory=Permissions)
    # Set for a candidate who has not yet consented: they may join but not publish.
    consent_required: bool = False
    # Whether the room records: it starts recording with the first join that says so (the
    # web process says so for every token of an interview once its candidate has consented).
    record: bool = True
    # The interview this room is; recordings are filed under it (none: nothing is recorded).
    interview_id: int | None = None
    token_id: str = field(default_factory=lambda: secrets.token_hex(8))


def default_permissions(role: str, record_visible: bool = True) -> Permissions:
    return Permissions(
        publish=role != "observer",
        subscribe=True,
        record_visible=record_visible,
        end_room=role == "interviewer",
    )


def issue(
    signing_key: Ed25519PrivateKey,
    room: str,
    identity: str,
    role: str,
    ttl_seconds: int,
    name: str = "",
    consent_required: bool = False,
    record: bool = True,
    interview_id: int | None = None,
    record_visible: bool = True,
    now: float | None = None,
) -> str:
    """Sign a join token for `identity` in `room`."""
    if role not in ROLES:
        raise ApplianceError(f"unknown role '{role}'; choose one of: {', '.join(ROLES)}")
    if not record_visible and role != "observer":
        raise ApplianceError("only an observer, who is never recorded, may be left untold")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ApplianceError(f"the token lifetime must be 1..{MAX_TTL_SECONDS} seconds")
    for label, value in (("room", room), ("identity", identity)):
        if not NAME_PATTERN.match(value):
            raise ApplianceError(f"the {label} must be 1-100 letters, digits, spaces or .@'-")
    claims = JoinClaims(
        room=room,
        identity=identity,
        name=name or identity,
        role=role,
        expires_at=int((now if now is not None else time.time()) + ttl_seconds),
        permissions=default_permissions(role, record_visible),
        consent_required=consent_required,
        record=record,
        interview_id=interview_id,
    )
    body = _b64(json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode())
    signature = signing_key.sign(DOMAIN + body.encode())
    return f"{body}.{_b64(signature)}"


def verify(public_key: Ed25519PublicKey, token: str, now: float | None = None) -> JoinClaims:
    """The claims of a genuine, unexpired token; TokenRejected otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 1:
        raise TokenRejected("the join token is malformed")
    body, signature = token.split(".")
    try:
        public_key.verify(_unb64(signature), DOMAIN + body.encode())
    except (InvalidSignature, ValueError, binascii.Error):
        raise TokenRejected("the join token's signature is invalid") from None
    try:
        raw = json.loads(_unb64(body))
        permissions = Permissions(**raw.pop("permissions"))
        claims = JoinClaims(permissions=permissions, **raw)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise TokenRejected("the join token's claims are malformed") from None
    if claims.expires_at < (now if now is not None else time.time()):
        raise TokenRejected("the join token has expired; ask for a new link")
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
