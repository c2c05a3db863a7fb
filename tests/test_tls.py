"""Replacing the box's TLS certificate: checked on upload, staged by the web process, installed
by the root side; anything wrong is refused with the reason and the served certificate stays."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient

from appliance.box import tls
from appliance.cli import main
from appliance.core.errors import ApplianceError
from appliance.db.models import AuditEntry
from appliance.runtime import Runtime
from appliance.web.app import create_app
from tests.conftest import make_user, post_form, sign_in

NOW = dt.datetime.now(dt.UTC)


def pair(
    name: str = "parley.example.com",
    days: tuple[int, int] = (-1, 90),
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> tuple[bytes, bytes]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: (b"not a certificate", pair()[1]), "not a PEM certificate"),
        (lambda: (pair()[0], b"-----BEGIN PRIVATE KEY-----\nxx\n"), "not an unencrypted PEM key"),
        (lambda: (pair()[0], pair()[1]), "does not belong"),
        (lambda: pair(days=(-90, -1)), "not now"),
        (lambda: pair(key=rsa.generate_private_key(65537, 1024)), "at least 2048 bits"),
        (lambda: (b"x" * 70000, pair()[1]), "too large"),
    ],
)
def test_a_certificate_that_cannot_be_served_is_refused(make: object, message: str) -> None:
    cert, key = make()  # type: ignore[operator]
    with pytest.raises(ApplianceError, match=message):
        tls.validate(cert, key)


def test_an_upload_is_staged_then_installed_by_the_root_side(
    runtime: Runtime, tmp_path: Path
) -> None:
    target = tmp_path / "etc-tls"
    old_cert, old_key = pair("old.example.com")
    target.mkdir()
    (target / "cert.pem").write_bytes(old_cert)
    (target / "key.pem").write_bytes(old_key)
    cert, key = pair()
    staged = tls.stage(runtime.audit, "ada@example.com", runtime.config.data_dir, cert, key)
    assert staged.names == ["parley.example.com"] and staged.self_signed is not False
    assert tls.current(target).subject == "CN=old.example.com"  # type: ignore[union-attr]
    entry = AuditEntry.get(AuditEntry.action == "tls.upload")
    assert staged.fingerprint in entry.details

    installed = tls.apply_pending(runtime.config.data_dir, target)
    assert installed is not None and installed.fingerprint == staged.fingerprint
    assert (target / "cert.pem").read_bytes() == cert and (target / "key.pem").read_bytes() == key
    assert (target / "key.pem").stat().st_mode & 0o777 == 0o600
    assert list(tls.pending_dir(runtime.config.data_dir).iterdir()) == []
    assert tls.apply_pending(runtime.config.data_dir, target) is None  # nothing waiting


def test_a_tampered_staged_pair_is_discarded_and_the_served_one_stays(
    runtime: Runtime, tmp_path: Path
) -> None:
    target = tmp_path / "etc-tls"
    target.mkdir()
    served, served_key = pair("served.example.com")
    (target / "cert.pem").write_bytes(served)
    (target / "key.pem").write_bytes(served_key)
    tls.stage(runtime.audit, "ada@example.com", runtime.config.data_dir, *pair())
    (tls.pending_dir(runtime.config.data_dir) / "key.pem").write_bytes(pair()[1])
    with pytest.raises(ApplianceError, match="does not belong"):
        tls.apply_pending(runtime.config.data_dir, target)
    assert (target / "cert.pem").read_bytes() == served
    assert list(tls.pending_dir(runtime.config.data_dir).iterdir()) == []


def test_administrators_upload_through_the_page_and_the_command_installs_it(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "etc-tls"
    config = dataclasses.replace(
        runtime.config, web=dataclasses.replace(runtime.config.web, tls_dir=str(target))
    )
    runtime.config = config
    make_user(runtime, "admin", "ada@example.com")
    with TestClient(app=create_app(runtime), base_url="http://127.0.0.1") as client:
        sign_in(client, "ada@example.com")
        refused = post_form(
            client, "/admin/tls", {"certificate": pair()[0].decode(), "key": pair()[1].decode()}
        )
        assert refused.status_code == 400 and "does not belong" in refused.text
        cert, key = pair()
        accepted = post_form(
            client, "/admin/tls", {"certificate": cert.decode(), "key": key.decode()}
        )
        assert accepted.status_code == 200 and "Accepted the certificate" in accepted.text
    data_dir = str(runtime.config.data_dir)
    assert main(["tls", "apply", "--data-dir", data_dir, "--target", str(target)]) == 0
    assert "Installed the certificate for CN=parley.example.com" in capsys.readouterr().out
    assert (target / "cert.pem").read_bytes() == cert
    with TestClient(app=create_app(runtime), base_url="http://127.0.0.1") as client:
        sign_in(client, "ada@example.com")
        assert tls.current(target).fingerprint in client.get("/admin/tls").text  # type: ignore[union-attr]


def test_without_a_managed_proxy_there_is_nothing_to_upload(runtime: Runtime) -> None:
    make_user(runtime, "admin", "ada@example.com")
    with TestClient(app=create_app(runtime), base_url="http://127.0.0.1") as client:
        sign_in(client, "ada@example.com")
        assert "a proxy that Parley does not manage" in client.get("/admin/tls").text
        refused = post_form(client, "/admin/tls", {"certificate": "x", "key": "y"})
        assert refused.status_code == 409
