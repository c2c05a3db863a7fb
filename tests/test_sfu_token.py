"""Join tokens: signed by the appliance, checked by the SFU with the public key alone."""

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.contracts.join_token import TokenRejected, issue, verify
from appliance.core.errors import ApplianceError
from appliance.storage.appliance_keys import key_dir, load_public_key

KEY = Ed25519PrivateKey.generate()


def test_a_token_carries_its_claims() -> None:
    token = issue(KEY, "room-7", "ann", "candidate", 60, name="Ann Lee", consent_required=True)
    claims = verify(KEY.public_key(), token)
    assert (claims.room, claims.identity, claims.name, claims.role) == (
        "room-7",
        "ann",
        "Ann Lee",
        "candidate",
    )
    assert claims.consent_required and claims.permissions.publish and claims.record


def test_observers_cannot_publish() -> None:
    claims = verify(KEY.public_key(), issue(KEY, "r", "obs", "observer", 60))
    assert not claims.permissions.publish and claims.permissions.subscribe


def test_expired_forged_and_malformed_tokens_are_rejected() -> None:
    with pytest.raises(TokenRejected, match="expired"):
        verify(KEY.public_key(), issue(KEY, "r", "a", "interviewer", 60, now=1000.0))
    other = Ed25519PrivateKey.generate()
    with pytest.raises(TokenRejected, match="signature"):
        verify(KEY.public_key(), issue(other, "r", "a", "interviewer", 60))
    body, signature = issue(KEY, "r", "a", "interviewer", 60).split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    with pytest.raises(TokenRejected):
        verify(KEY.public_key(), tampered)
    for junk in ("", "nodot", "a.b.c", "x" * 10000, "!!.??"):
        with pytest.raises(TokenRejected):
            verify(KEY.public_key(), junk)


def test_bad_token_requests_are_refused() -> None:
    with pytest.raises(ApplianceError, match="unknown role"):
        issue(KEY, "r", "a", "boss", 60)
    with pytest.raises(ApplianceError, match="lifetime"):
        issue(KEY, "r", "a", "interviewer", 10**9)
    with pytest.raises(ApplianceError, match="room"):
        issue(KEY, "r/../x", "a", "interviewer", 60)


def test_cli_issues_a_token_the_sfu_accepts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--data-dir", str(data)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "sfu",
            "token",
            "--room",
            "r1",
            "--identity",
            "ivy",
            "--role",
            "interviewer",
            "--ttl",
            "120",
            "--interview",
            "7",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    claims = verify(load_public_key(key_dir(data) / "signing.pub"), result.stdout.strip())
    assert claims.identity == "ivy" and claims.room == "r1" and claims.interview_id == 7
    assert claims.permissions.record_visible and claims.record


def test_only_an_observer_may_be_left_untold_of_the_recording() -> None:
    claims = verify(KEY.public_key(), issue(KEY, "r", "otto", "observer", 60, record_visible=False))
    assert not claims.permissions.record_visible and not claims.permissions.publish
    for role in ("candidate", "interviewer"):
        with pytest.raises(ApplianceError, match="observer"):
            issue(KEY, "r", "x", role, 60, record_visible=False)
