"""A flood of sign-ins against a real web process: refused per address before any password is
hashed, without a server error, while staff writes carry on."""

from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from appliance.core.config import AuthConfig
from appliance.db.models import AuditEntry
from appliance.runtime import Runtime
from tests.conftest import PASSWORD
from tests.support.scoring import Panel

FLOODERS = 40
TRIES_EACH = 4


def _browser(base: str, forwarded_for: str = "") -> httpx.Client:
    """A client holding the CSRF cookie and the token its login form carries."""
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    client = httpx.Client(base_url=base, headers=headers, timeout=60)
    form = client.get("/login", headers={"accept": "text/html"})
    match = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    assert match
    client.headers["x-csrftoken"] = match.group(1)
    return client


def _try_sign_in(client: httpx.Client, email: str, password: str) -> int:
    token = client.headers["x-csrftoken"]
    response = client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password, "code": ""},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    return response.status_code


def test_a_sign_in_flood_is_refused_per_address_and_staff_writes_carry_on(
    runtime: Runtime, served: str
) -> None:
    panel = Panel(runtime)
    # Ana signs in through the box's proxy from her own address before the flood starts.
    ana = _browser(served, forwarded_for="192.0.2.10")
    assert _try_sign_in(ana, "ana@example.com", PASSWORD) == 303
    ana.headers["x-csrftoken"] = ana.cookies["parley_csrf"]  # signing in issued her session's
    autosave = f"/api/interviews/{panel.interview.id}/scorecard"
    flooders = [_browser(served, forwarded_for="198.51.100.66") for _ in range(FLOODERS)]

    def flood(client: httpx.Client) -> list[int]:
        return [_try_sign_in(client, "nobody@example.com", "guess") for _ in range(TRIES_EACH)]

    def save(n: int) -> int:
        body = {"scores": {str(panel.design.id): 1 + n % 5}, "notes": f"note {n}", "asked": []}
        return ana.put(autosave, json=body).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(FLOODERS + 1) as pool:
        floods = [pool.submit(flood, client) for client in flooders]
        saves = [save(n) for n in range(20)]
        statuses = [status for future in floods for status in future.result()]
        # Right after the flood, well within the two seconds a token takes to come back: the
        # refusal page says why, and when to try again.
        page = flooders[0].post(
            "/login",
            data={"_csrf_token": flooders[0].headers["x-csrftoken"], "email": "a@b.c"},
            headers={"accept": "text/html"},
        )
    elapsed = time.monotonic() - started
    assert page.status_code == 429 and "Too many sign-in attempts" in page.text
    assert page.headers["retry-after"] == "60"

    assert saves == [200] * 20
    assert set(statuses) <= {401, 429}
    # What got past the limit is the burst plus the steady rate over the flood, no more.
    auth = AuthConfig()
    allowed = auth.signin_burst + math.ceil(elapsed * auth.signins_per_minute / 60)
    assert 0 < statuses.count(401) <= allowed
    assert statuses.count(429) >= FLOODERS * TRIES_EACH - allowed
    failed = AuditEntry.select().where(AuditEntry.action == "auth.signin_failed").count()
    assert failed == statuses.count(401)
    # Another address is not held back by the flood.
    assert (
        _try_sign_in(_browser(served, forwarded_for="203.0.113.5"), "nobody@example.com", "x")
        == 401
    )
