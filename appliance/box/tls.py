"""The certificate the box's reverse proxy serves: inspecting it, and replacing it safely.

The web process runs without privileges, so an administrator's upload is only checked and
staged in the data dir (`tls/pending/`, with a `ready` marker written last). A root oneshot
started by a path unit (`appliance tls apply`, image/files/parley-tls-apply.*) checks it again,
installs it atomically next to the proxy's configuration and reloads the proxy. A bad upload is
refused with the reason and changes nothing; the certificate being served stays until a good
one replaces it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from appliance.core.atomic_file import write_atomically
from appliance.core.errors import ApplianceError
from appliance.storage.audit import AuditLog

MAX_PEM_BYTES = 64 * 1024
CERT, KEY, READY = "cert.pem", "key.pem", "ready"


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    names: list[str]
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  # SHA-256 of the leaf, as browsers show it: AA:BB:…

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer


def pending_dir(data_dir: Path) -> Path:
    return data_dir / "tls" / "pending"


def _chain(cert_pem: bytes) -> list[x509.Certificate]:
    if len(cert_pem) > MAX_PEM_BYTES:
        raise ApplianceError("the certificate file is too large")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ApplianceError(
            "the certificate is not a PEM certificate (BEGIN CERTIFICATE)"
        ) from None
    return chain


def info(cert: x509.Certificate) -> CertificateInfo:
    try:
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertificateInfo(
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        list(names),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    )


def validate(cert_pem: bytes, key_pem: bytes, now: dt.datetime | None = None) -> CertificateInfo:
    """The leaf's details, if the chain and key can be served: the key matches the leaf, the
    leaf is valid now, and the key is RSA of 2048 bits or more, or an elliptic curve key."""
    chain = _chain(cert_pem)
    if len(key_pem) > MAX_PEM_BYTES:
        raise ApplianceError("the key file is too large")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ApplianceError(
            "the private key is not an unencrypted PEM key (BEGIN PRIVATE KEY)"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ApplianceError("an RSA key must have at least 2048 bits")
    elif not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ApplianceError("the key must be RSA or an elliptic curve key")
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != leaf.public_key().public_bytes(
        encoding, public
    ):
        raise ApplianceError("the private key does not belong to the (first) certificate")
    details = info(leaf)
    current = now or dt.datetime.now(dt.UTC)
    if not details.not_before <= current <= details.not_after:
        raise ApplianceError(
            f"the certificate is valid from {details.not_before:%Y-%m-%d} to "
            f"{details.not_after:%Y-%m-%d}, not now"
        )
    return details


def stage(
    audit: AuditLog, actor: str, data_dir: Path, cert_pem: bytes, key_pem: bytes
) -> CertificateInfo:
    """Check an uploaded certificate and key and leave them for the root side to install."""
    details = validate(cert_pem, key_pem)
    pending = pending_dir(data_dir)
    pending.mkdir(mode=0o700, parents=True, exist_ok=True)
    (pending / READY).unlink(missing_ok=True)
    write_atomically(pending / CERT, cert_pem, 0o600)
    write_atomically(pending / KEY, key_pem, 0o600)
    write_atomically(pending / READY, details.fingerprint.encode(), 0o600)
    audit.record(actor, "tls.upload", details.subject, {"fingerprint": details.fingerprint})
    return details


def current(target: Path) -> CertificateInfo | None:
    """The certificate being served, or None when there is none to read."""
    try:
        return info(_chain((target / CERT).read_bytes())[0])
    except (OSError, ApplianceError):
        return None


def apply_pending(data_dir: Path, target: Path) -> CertificateInfo | None:
    """Install a staged certificate into `target` (as root), checked again; None if nothing is
    staged. A staged pair that does not check out is removed, and the served one stays."""
    pending = pending_dir(data_dir)
    if not (pending / READY).is_file():
        return None
    try:
        cert_pem, key_pem = (pending / CERT).read_bytes(), (pending / KEY).read_bytes()
        details = validate(cert_pem, key_pem)
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        write_atomically(target / KEY, key_pem, 0o600)
        write_atomically(target / CERT, cert_pem, 0o644)
    finally:
        for name in (READY, CERT, KEY):
            (pending / name).unlink(missing_ok=True)
    return details
