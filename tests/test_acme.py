"""Certificates from an ACME authority: a real one (pebble, Let's Encrypt's test CA, from Debian)
on loopback validates the HTTP-01 challenge against a real web process."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar import Litestar
from litestar.testing import TestClient

from appliance.box import acme_certificates, settings, tls
from appliance.db.models import AuditEntry
from appliance.runtime import Runtime
from tests.conftest import free_port, make_user, post_form, sign_in
from tests.support.waiting import wait_for_http

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/pebble"), reason="needs Debian's pebble (apt-get install pebble)"
)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _loopback_tls(directory: Path) -> Path:
    """A CA and a certificate for 127.0.0.1 for pebble's own HTTPS; returns the CA's file."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test directory CA"))
        .issuer_name(_name("test directory CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return directory / "ca.pem"


@dataclass
class Pebble:
    directory_url: str
    management_url: str
    ca_bundle: Path

    def root(self) -> x509.Certificate:
        """The root pebble issues under (it makes a new one each start)."""
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(f"{self.management_url}/roots/0", context=context) as r:
            return x509.load_pem_x509_certificate(r.read())


@pytest.fixture
def start_pebble(tmp_path: Path) -> Iterator[Callable[[int], Pebble]]:
    """Starts pebble, validating HTTP-01 on the given port; every name resolves to 127.0.0.1
    through pebble's companion DNS server."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(http_port: int) -> Pebble:
        directory = tmp_path / "pebble"
        directory.mkdir()
        ca_bundle = _loopback_tls(directory)
        listen, management, dns = free_port(), free_port(), free_port()
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{listen}",
                "managementListenAddress": f"127.0.0.1:{management}",
                "certificate": str(directory / "cert.pem"),
                "privateKey": str(directory / "key.pem"),
                "httpPort": http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        (directory / "config.json").write_text(json.dumps(config))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        resolver = [
            *("pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns}", "-defaultIPv6", ""),
            *("-http01", "", "-https01", "", "-tlsalpn01", ""),
            *("-management", f"127.0.0.1:{free_port()}"),
        ]
        processes.append(subprocess.Popen(resolver, stdout=subprocess.DEVNULL))
        ca = ["pebble", "-config", str(directory / "config.json"), "-dnsserver", f"127.0.0.1:{dns}"]
        processes.append(subprocess.Popen(ca, env=env, stdout=subprocess.DEVNULL))
        pebble = Pebble(
            f"https://127.0.0.1:{listen}/dir", f"https://127.0.0.1:{management}", ca_bundle
        )
        trusting = ssl.create_default_context(cafile=str(ca_bundle))
        wait_for_http(pebble.directory_url, time.monotonic() + 30, trusting)
        return pebble

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def web_port(runtime: Runtime, tmp_path: Path) -> Iterator[int]:
    """A real web process on the runtime's data dir, answering challenges on plain HTTP."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APPLIANCE_WEB_PORT": str(port)}
    data_dir = str(runtime.config.data_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "web", "--data-dir", data_dir], env=env
    )
    wait_for_http(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 30)
    yield port
    process.terminate()
    process.wait(timeout=30)


def _use(runtime: Runtime, pebble: Pebble, domains: str) -> None:
    acme = runtime.config.acme
    acme.directory_url, acme.domains = pebble.directory_url, domains
    acme.ca_bundle, acme.email = str(pebble.ca_bundle), "it@example.com"


def _actions(prefix: str) -> list[str]:
    query = AuditEntry.select().where(AuditEntry.action.startswith(prefix))
    return [e.action for e in query.order_by(AuditEntry.seq)]


def test_the_ca_validates_the_box_and_its_certificate_is_staged_then_renewed(
    runtime: Runtime, web_port: int, start_pebble: Callable[[int], Pebble], tmp_path: Path
) -> None:
    pebble = start_pebble(web_port)
    _use(runtime, pebble, "parley.test, www.parley.test")
    data_dir = runtime.config.data_dir

    outcome = acme_certificates.maintain(runtime.audit, runtime.config)

    assert outcome is not None and outcome.state == "issued", outcome
    assert outcome.names == ["parley.test", "www.parley.test"]
    served = tmp_path / "served"
    served.mkdir()
    installed = tls.apply_pending(data_dir, served)
    assert installed is not None and installed.fingerprint == outcome.fingerprint
    chain = x509.load_pem_x509_certificates((served / tls.CERT).read_bytes())
    verifier = (
        x509.verification.PolicyBuilder()
        .store(x509.verification.Store([pebble.root()]))
        .build_server_verifier(x509.DNSName("www.parley.test"))
    )
    verifier.verify(chain[0], chain[1:])  # raises unless the CA's root signs the chain
    assert sorted(installed.names) == ["parley.test", "www.parley.test"]
    assert not any(acme_certificates.challenge_dir(data_dir).iterdir()), "challenges left"
    assert _actions("tls.") == ["tls.upload", "tls.acme.issued"]

    # Nothing is due while the certificate is fresh; near its end it is renewed.
    assert acme_certificates.maintain(runtime.audit, runtime.config) is None
    near_end = installed.not_after - dt.timedelta(days=runtime.config.acme.renew_days - 1)
    renewed = acme_certificates.maintain(runtime.audit, runtime.config, now=near_end)
    assert renewed is not None and renewed.state == "issued"
    assert renewed.fingerprint != outcome.fingerprint
    # The same account key signs every order.
    account = acme_certificates.acme_dir(data_dir) / "account-key.pem"
    assert account.stat().st_mode & 0o777 == 0o600


def test_a_name_the_box_cannot_answer_for_fails_with_the_reason_and_stages_nothing(
    runtime: Runtime, start_pebble: Callable[[int], Pebble]
) -> None:
    pebble = start_pebble(free_port())  # nothing listens where the CA looks
    _use(runtime, pebble, "parley.test")
    data_dir = runtime.config.data_dir

    failed = acme_certificates.maintain(runtime.audit, runtime.config)

    assert failed is not None and failed.state == "failed"
    assert "could not validate" in failed.message and "parley.test" in failed.message
    assert not (tls.pending_dir(data_dir) / tls.READY).exists()
    assert acme_certificates.read_status(data_dir) == failed
    # Tried again an hour later, or at once when an administrator asks.
    assert acme_certificates.maintain(runtime.audit, runtime.config) is None
    acme_certificates.request_now(data_dir)
    again = acme_certificates.maintain(runtime.audit, runtime.config)
    assert again is not None and again.state == "failed"
    assert _actions("tls.") == ["tls.acme.failed", "tls.acme.failed"]


def test_a_box_without_names_says_so_once_an_hour(runtime: Runtime) -> None:
    runtime.config.acme.directory_url = "https://ca.example.com/directory"
    runtime.config.web.public_url = ""  # no address, no [acme] domains

    failed = acme_certificates.maintain(runtime.audit, runtime.config)

    assert failed is not None and failed.state == "failed" and "no names" in failed.message
    assert acme_certificates.maintain(runtime.audit, runtime.config) is None
    later = dt.datetime.now(dt.UTC) + acme_certificates.RETRY_AFTER
    assert acme_certificates.maintain(runtime.audit, runtime.config, now=later) is not None
    assert _actions("tls.") == ["tls.acme.failed", "tls.acme.failed"]


def test_a_directory_whose_certificate_is_not_trusted_is_refused(
    runtime: Runtime, start_pebble: Callable[[int], Pebble]
) -> None:
    pebble = start_pebble(free_port())
    _use(runtime, pebble, "parley.test")
    runtime.config.acme.ca_bundle = ""  # the system's trust store does not know the test CA

    failed = acme_certificates.maintain(runtime.audit, runtime.config)

    assert failed is not None and failed.state == "failed"
    assert "cannot reach the ACME directory" in failed.message
    assert "CERTIFICATE_VERIFY_FAILED" in failed.message


def test_challenge_answers_are_served_only_for_well_formed_tokens(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    directory = runtime.config.data_dir / "tls" / "acme" / "challenges"
    directory.mkdir(parents=True)
    token = "A" * 43
    (directory / token).write_text(f"{token}.thumbprint")
    (runtime.config.data_dir / "secret").write_text("not for the CA")

    answer = client.get(f"/.well-known/acme-challenge/{token}")
    assert answer.status_code == 200 and answer.text == f"{token}.thumbprint"
    for wrong in ("B" * 43, "short", "..%2F..%2Fsecret", "%2E%2E"):
        assert client.get(f"/.well-known/acme-challenge/{wrong}").status_code == 404


def test_administrators_turn_acme_on_and_off_from_the_tls_page(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    runtime.config.web.tls_dir = str(runtime.config.data_dir / "served")
    make_user(runtime, "admin")
    sign_in(client, "admin@example.com")
    form = {"directory_url": "https://ca.example.com/dir", "domains": "*.example.com"}

    assert post_form(client, "/admin/tls/acme", form).status_code == 400  # terms not agreed
    refused = post_form(client, "/admin/tls/acme", {**form, "terms": "yes"})
    assert refused.status_code == 400 and "wildcard" in refused.text
    plain = {**form, "domains": "parley.example.com", "directory_url": "http://ca.example.com/d"}
    assert post_form(client, "/admin/tls/acme", {**plain, "terms": "yes"}).status_code == 400
    assert not settings.read_settings(runtime.config.data_dir).get("acme")

    saved = post_form(
        client, "/admin/tls/acme", {**form, "domains": "Parley.Example.com", "terms": "yes"}
    )
    assert saved.status_code in (200, 201)
    stored = settings.read_settings(runtime.config.data_dir)["acme"]
    assert stored["directory_url"] == "https://ca.example.com/dir"
    assert stored["domains"] == "parley.example.com"
    assert acme_certificates.request_marker(runtime.config.data_dir).exists()
    assert "Stop using ACME" in client.get("/admin/tls").text

    post_form(client, "/admin/tls/acme", {"directory_url": ""})
    assert settings.read_settings(runtime.config.data_dir)["acme"]["directory_url"] == ""
    assert "Get a certificate" in client.get("/admin/tls").text
