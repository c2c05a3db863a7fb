"""Certificates from an ACME certificate authority (RFC 8555), for a box the CA can reach.

The worker keeps the certificate current (`maintain`, every few minutes): when `[acme]` names
a directory and no certificate for the wanted names has been issued, or the one issued has
fewer than `renew_days` left, it orders one, answers the CA's HTTP-01 challenge through the
web process (`/.well-known/acme-challenge/`, which the proxy forwards from port 80), and
stages the result exactly like an administrator's upload (appliance/box/tls.py), so the same root
side checks and installs it. A failure is kept with its reason for the TLS page and tried again
an hour later, or at once when an administrator asks (`request_now`).

Files under `<data-dir>/tls/acme/` (0700): the account key, the last certificate issued, the
outcome of the last attempt, and the challenge responses while an order is open.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import josepy
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from appliance import __version__
from appliance.box import tls
from appliance.core.atomic_file import write_atomically
from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.storage.audit import AuditLog

ACTOR = "acme"
RETRY_AFTER = dt.timedelta(hours=1)
ORDER_SECONDS = 90
NETWORK_SECONDS = 30
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = re.compile(rf"(?:{LABEL}\.)+{LABEL}")


def acme_dir(data_dir: Path) -> Path:
    return data_dir / "tls" / "acme"


def challenge_dir(data_dir: Path) -> Path:
    return acme_dir(data_dir) / "challenges"


def request_marker(data_dir: Path) -> Path:
    return acme_dir(data_dir) / "requested"


def check_domains(text: str) -> list[str]:
    """Names for a certificate, comma- or space-separated; HTTP-01 cannot prove a wildcard."""
    names = [n.strip().lower().rstrip(".") for n in re.split(r"[,\s]+", text) if n.strip()]
    for name in names:
        if name.startswith("*."):
            raise ApplianceError(f"{name}: a wildcard needs DNS validation, which Parley lacks")
        if len(name) > 253 or not DOMAIN.fullmatch(name):
            raise ApplianceError(f"{name!r} is not a fully qualified host name")
    return list(dict.fromkeys(names))


def wanted_domains(config: Config) -> list[str]:
    if config.acme.domains:
        return check_domains(config.acme.domains)
    host = urlsplit(config.web.public_url).hostname if config.web.public_url else None
    return check_domains(host) if host else []


def challenge_response(data_dir: Path, token: str) -> str | None:
    """The key authorization the CA expects at /.well-known/acme-challenge/<token>."""
    if not TOKEN.fullmatch(token):
        return None
    try:
        return (challenge_dir(data_dir) / token).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class AcmeStatus:
    state: str  # "issued" or "failed"
    at: str  # ISO time of the attempt (UTC)
    message: str
    names: list[str]
    fingerprint: str = ""
    not_after: str = ""


def read_status(data_dir: Path) -> AcmeStatus | None:
    try:
        raw = json.loads((acme_dir(data_dir) / "status.json").read_text(encoding="utf-8"))
        return AcmeStatus(**raw)
    except (OSError, ValueError, TypeError):
        return None


def issued_certificate(data_dir: Path) -> tls.CertificateInfo | None:
    return tls.current(acme_dir(data_dir))


def request_now(data_dir: Path) -> None:
    """Ask the worker to try at its next check, even right after a failure."""
    _private_dir(acme_dir(data_dir))
    request_marker(data_dir).touch()


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _account_key(data_dir: Path) -> JWKEC:
    path = acme_dir(data_dir) / "account-key.pem"
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        write_atomically(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ApplianceError(f"{path} is not an elliptic curve key")
    return JWKEC(key=loaded)


def _client(config: Config, key: JWKEC) -> client.ClientV2:
    net = client.ClientNetwork(
        key, alg=ES256, user_agent=f"parley/{__version__}", timeout=NETWORK_SECONDS
    )
    if config.acme.ca_bundle:
        # requests takes a CA bundle's path where acme's annotation says bool.
        net.verify_ssl = cast(bool, config.acme.ca_bundle)
    directory = client.ClientV2.get_directory(config.acme.directory_url, net)
    acme = client.ClientV2(directory, net)
    registration = messages.NewRegistration.from_data(
        email=config.acme.email or None, terms_of_service_agreed=True
    )
    try:
        acme.new_account(registration)
    except errors.ConflictError as existing:
        acme.query_registration(
            messages.RegistrationResource(uri=existing.location, body=messages.Registration())
        )
    return acme


def _answer(acme: client.ClientV2, order: messages.OrderResource, data_dir: Path) -> list[Path]:
    key = acme.net.key
    written = []
    for authorization in order.authorizations:
        if authorization.body.status == messages.STATUS_VALID:
            continue
        http01 = next(
            (c for c in authorization.body.challenges if isinstance(c.chall, challenges.HTTP01)),
            None,
        )
        if http01 is None:
            name = authorization.body.identifier.value
            raise ApplianceError(f"the CA offers no HTTP-01 challenge for {name}")
        response, validation = http01.response_and_validation(key)
        path = _private_dir(challenge_dir(data_dir)) / http01.chall.encode("token")
        write_atomically(path, validation.encode("ascii"), 0o644)
        written.append(path)
        acme.answer_challenge(http01, response)
    return written


def issue(audit: AuditLog, config: Config, names: list[str]) -> tls.CertificateInfo:
    """Order a certificate for `names`, prove control of them, and stage it for the proxy."""
    data_dir = config.data_dir
    _private_dir(acme_dir(data_dir))
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    written: list[Path] = []
    try:
        acme = _client(config, _account_key(data_dir))
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        written = _answer(acme, order, data_dir)
        deadline = dt.datetime.now() + dt.timedelta(seconds=ORDER_SECONDS)
        chain = acme.poll_and_finalize(order, deadline).fullchain_pem.encode("ascii")
    except errors.ValidationError as failed:
        raise ApplianceError(f"the CA could not validate: {_problems(failed)}") from None
    except errors.TimeoutError:
        raise ApplianceError(f"the CA did not finish the order in {ORDER_SECONDS} s") from None
    except messages.Error as problem:
        raise ApplianceError(f"the CA refused: {problem.detail or problem.typ}") from None
    except (errors.Error, requests.RequestException, josepy.errors.Error, ValueError) as exc:
        raise ApplianceError(f"cannot reach the ACME directory: {exc}") from None
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    staged = tls.stage(audit, ACTOR, data_dir, chain, key_pem)
    write_atomically(acme_dir(data_dir) / tls.CERT, chain)
    return staged


def _problems(failed: errors.ValidationError) -> str:
    details = []
    for authorization in failed.failed_authzrs:
        for challenge in authorization.body.challenges:
            if challenge.error is not None:
                name = authorization.body.identifier.value
                details.append(f"{name}: {challenge.error.detail or challenge.error.typ}")
    return "; ".join(details) or "no reason given"


def _due(
    config: Config, names: list[str], now: dt.datetime, status: AcmeStatus | None, asked: bool
) -> bool:
    if status is not None and status.state == "failed" and status.names == names and not asked:
        return now - dt.datetime.fromisoformat(status.at) >= RETRY_AFTER
    current = issued_certificate(config.data_dir)
    if current is None or sorted(current.names) != sorted(names) or asked:
        return True
    return current.not_after - now < dt.timedelta(days=config.acme.renew_days)


def maintain(audit: AuditLog, config: Config, now: dt.datetime | None = None) -> AcmeStatus | None:
    """Issue or renew when due; the outcome of an attempt, or None when none was due."""
    if not config.acme.directory_url:
        return None
    data_dir = config.data_dir
    now = now or dt.datetime.now(dt.UTC)
    marker = request_marker(data_dir)
    asked = marker.exists()
    try:
        names, problem = wanted_domains(config), ""
    except ApplianceError as exc:
        names, problem = [], str(exc)
    if not _due(config, names, now, read_status(data_dir), asked):
        return None
    marker.unlink(missing_ok=True)
    if problem or not names:
        message = problem or "no names to certify: set [acme] domains or the appliance's address"
        return _record(audit, data_dir, AcmeStatus("failed", now.isoformat(), message, names))
    try:
        staged = issue(audit, config, names)
    except ApplianceError as exc:
        return _record(audit, data_dir, AcmeStatus("failed", now.isoformat(), str(exc), names))
    status = AcmeStatus(
        "issued",
        now.isoformat(),
        f"issued by {staged.issuer}",
        names,
        staged.fingerprint,
        staged.not_after.isoformat(),
    )
    return _record(audit, data_dir, status)


def _record(audit: AuditLog, data_dir: Path, status: AcmeStatus) -> AcmeStatus:
    status_file = _private_dir(acme_dir(data_dir)) / "status.json"
    write_atomically(status_file, json.dumps(asdict(status)).encode())
    details: dict[str, Any] = {"names": status.names, "message": status.message}
    if status.fingerprint:
        details["fingerprint"] = status.fingerprint
    audit.record(ACTOR, f"tls.acme.{status.state}", ",".join(status.names) or "-", details)
    return status
