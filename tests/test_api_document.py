"""The OpenAPI document says exactly what the server does.

schemathesis runs every one of its checks (status codes, response bodies, content types,
schema-valid requests accepted, schema-invalid ones refused, auth not ignored, stateful
sequences) against a real web process, signed in as a recruiter and as an interviewer on a
panel, and with an API token holding every scope. Half the ids it draws name things that exist
(a finished interview with a kit, its recording, the candidate, the position), so the routes'
own rules are reached, not only 404.

`PARLEY_API_EXAMPLES` (default 15 per operation) and `PARLEY_API_SEED` run a longer or
different campaign (docs/operations.md, "Fuzzing").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from appliance.recordings.store import start_recording
from appliance.runtime import Runtime
from appliance.staff import api_tokens
from appliance.web.api_document import SPACE
from tests.conftest import PASSWORD, make_user
from tests.support.scoring import Panel

EXAMPLES = int(os.environ.get("PARLEY_API_EXAMPLES", "15"))
SEED = os.environ.get("PARLEY_API_SEED", "20261203")


def _signed_in(base: str, email: str) -> dict[str, str]:
    """The credentials a signed-in browser holds, by the document's security scheme."""
    with httpx.Client(base_url=base) as browser:
        page = browser.get("/login", headers={"accept": "text/html"})
        token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = browser.post(
            "/login", data={"_csrf_token": token, "email": email, "password": PASSWORD, "code": ""}
        )
        assert answer.status_code in (200, 303), answer.text
        csrf = browser.cookies["parley_csrf"]
        return {"session": browser.cookies["parley_session"], "csrf": csrf, "csrf_cookie": csrf}


def _config(path: Path, credentials: dict[str, str], ids: dict[str, list[int]]) -> Path:
    """A schemathesis config: half the drawn ids are ones that exist; 422 (a rule the schema
    cannot state, such as "this interview has not started") is an acceptable answer to a
    well-formed request, 400 is not."""
    lines = ["[checks.positive_data_acceptance]"]
    lines.append('expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "410", "422"]')
    for scheme, value in credentials.items():
        kind = "bearer" if scheme == "token" else "api_key"
        lines += [f"[auth.openapi.{scheme}]", f'{kind} = "{value}"']
    for name, values in ids.items():
        lines.append(f"[dictionaries.{name}]")
        lines.append(f"values = {json.dumps(values)}")
    lines.append("[parameters]")
    for name in ids:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _token(runtime: Runtime) -> dict[str, str]:
    """An API token with every scope, as an applicant tracking system would hold it."""
    admin = make_user(runtime, "admin")
    return {"token": api_tokens.create(runtime.audit, admin, "ATS", list(api_tokens.SCOPES), 1)[1]}


# The token's run makes more calls than the default rate allows; the rate is tested elsewhere.
UNLIMITED = {"APPLIANCE_AUTH_API_BURST": "100000"}


@pytest.mark.parametrize(
    ("who", "served_env"), [("recruiter", {}), ("ana", {}), ("token", UNLIMITED)]
)
def test_the_api_answers_as_its_document_says(
    runtime: Runtime, served: str, tmp_path: Path, who: str
) -> None:
    panel = Panel(runtime)
    recording = start_recording(runtime, panel.interview)
    recording.status = "complete"
    recording.save()
    document = httpx.get(f"{served}/schema/openapi.json").json()
    validate(document)
    operations = sum(len(methods) for methods in document["paths"].values())
    ids = {
        "position_id": [panel.position.id],
        "candidate_id": [panel.candidate.id],
        "interview_id": [panel.interview.id],
        "recording_id": [recording.id],
        "kit_id": [panel.interview.kit_id],
    }
    credentials = _token(runtime) if who == "token" else _signed_in(served, f"{who}@example.com")
    config = _config(tmp_path / "schemathesis.toml", credentials, ids)
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{served}/schema/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--no-color",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-4000:]
    assert f"Tested: {operations}" in run.stdout, run.stdout[-2000:]


def test_the_documents_whitespace_is_what_the_server_trims() -> None:
    """`SPACE` spells out Python's whitespace, so a pattern means the same to a client reading
    it in JSON Schema's dialect as to the server that trims with `str.strip()`."""
    spelt_out = re.compile(f"[{SPACE}]")
    for code in range(0x3100):
        character = chr(code)
        assert (spelt_out.fullmatch(character) is not None) == character.isspace(), hex(code)
