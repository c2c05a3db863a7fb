"""Webhooks: an administrator connects an endpoint; events are written with the change they
report and delivered by the worker to a real HTTP server on loopback, signed so the Standard
Webhooks library verifies them; retried with backoff through a timeout and a 500 until the
receiver recovers; given up after a day with the endpoint switched off and administrators told;
at least once when the worker is killed mid-delivery; never to the box's own network unless
allowed."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from standardwebhooks import Webhook

from appliance.core.errors import ApplianceError
from appliance.db.database import utcnow
from appliance.db.models import (
    AuditEntry,
    OutboxMessage,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from appliance.hiring import candidates, notifications, scheduling
from appliance.hiring.candidates import CandidateFields
from appliance.hiring.scheduling import WeeklyWindow
from appliance.hiring.scheduling_rules import rules
from appliance.integrations import webhook_delivery, webhook_endpoints
from appliance.integrations.webhook_delivery import CLAIM
from appliance.integrations.webhook_events import EVENTS
from appliance.interview import live_room
from appliance.recordings.erasure import erase_candidate
from appliance.runtime import Runtime
from appliance.staff import api_tokens
from tests.conftest import free_port, make_user, post_form, sign_in
from tests.support.scoring import Panel, signed_in_as, submit
from tests.support.webhooks import Receiver


def _admin(runtime: Runtime) -> User:
    return User.get_or_none(User.email == "admin@example.com") or make_user(runtime, "admin")


def _endpoint(runtime: Runtime, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoints.create(runtime.audit, _admin(runtime).email, url, events, True)


def _new_candidate(runtime: Runtime, name: str = "Cara Jones") -> int:
    fields = CandidateFields(name, "cara@example.com", "", None)
    return candidates.create_candidate(runtime.audit, "recruiter@example.com", fields).id


def test_an_administrator_connects_an_endpoint_and_the_worker_delivers_signed_events(
    runtime: Runtime, client: TestClient[Litestar], receiver: Receiver
) -> None:
    _admin(runtime)
    # With no endpoint, nothing is written and nothing will leave the box.
    _new_candidate(runtime, "Before Any Endpoint")
    assert not WebhookEvent.select().exists()
    assert sign_in(client, "admin@example.com") == 303
    form = {"url": receiver.url, "event-candidate.created": "yes", "event-decision.made": "yes"}
    refused = post_form(client, "/admin/webhooks", form)
    assert (
        refused.status_code == 400 and "127.0.0.1" in refused.text and "own network" in refused.text
    )
    assert not WebhookEndpoint.select().exists()
    made = post_form(client, "/admin/webhooks", {**form, "allow_internal": "yes"})
    assert made.status_code == 200, made.text
    secret = re.search(r'<code id="new-secret">(whsec_[\w+/=]+)</code>', made.text)
    assert secret is not None
    assert secret.group(1) not in client.get("/admin/webhooks").text

    candidate_id = _new_candidate(runtime)
    (event,) = WebhookEvent.select()
    assert event.kind == "candidate.created"
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 1

    (headers, body), = receiver.received  # fmt: skip
    sent = Webhook(secret.group(1)).verify(body, headers)
    assert sent["type"] == "candidate.created"
    assert sent["data"] == {"candidate_id": candidate_id, "external_id": None}
    assert b"Cara" not in body and b"cara@example.com" not in body
    assert headers["webhook-id"] == event.message_id
    with pytest.raises(Exception, match="signature"):
        Webhook(webhook_endpoints.new_secret()).verify(body, headers)
    (delivery,) = WebhookDelivery.select()
    assert delivery.status == "delivered" and delivery.last_status_code == 200
    log = client.get("/admin/webhooks/1").text
    assert event.message_id in log and "delivered" in log and "candidate.created" in log
    # Delivered once: another round sends nothing.
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 0
    assert len(receiver.received) == 1
    actions = [
        e.action for e in AuditEntry.select().where(AuditEntry.action.startswith("webhook."))
    ]
    assert actions == ["webhook.create"]


def test_a_receiver_that_times_out_then_fails_is_tried_again_until_it_recovers(
    runtime: Runtime, receiver: Receiver
) -> None:
    runtime.config.webhooks.timeout_seconds = 1
    _endpoint(runtime, receiver.url, ["candidate.created"])
    receiver.answers = ["hang", 500]
    _new_candidate(runtime)
    start = utcnow()
    assert webhook_delivery.run_due(runtime.audit, runtime.config, start) == 1
    (delivery,) = WebhookDelivery.select()
    assert delivery.status == "pending" and "timed out" in delivery.last_error
    assert delivery.next_attempt_at == start + dt.timedelta(seconds=5)
    # Not before its time.
    assert (
        webhook_delivery.run_due(runtime.audit, runtime.config, start + dt.timedelta(seconds=4))
        == 0
    )
    second = start + dt.timedelta(seconds=5)
    assert webhook_delivery.run_due(runtime.audit, runtime.config, second) == 1
    delivery = WebhookDelivery.get_by_id(delivery.id)
    assert delivery.last_status_code == 500 and delivery.attempts == 2
    assert delivery.next_attempt_at == second + dt.timedelta(minutes=5)
    third = second + dt.timedelta(minutes=5)
    assert webhook_delivery.run_due(runtime.audit, runtime.config, third) == 1
    delivery = WebhookDelivery.get_by_id(delivery.id)
    assert delivery.status == "delivered" and delivery.delivered_at == third
    assert [a.status_code for a in WebhookAttempt.select().order_by(WebhookAttempt.id)] == [
        None, 500, 200,
    ]  # fmt: skip
    # Every try carried the same id, so the receiver can tell a repeat.
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 1
    assert len(receiver.received) == 3


def test_a_day_of_failures_switches_the_endpoint_off_and_tells_the_administrators(
    runtime: Runtime, client: TestClient[Litestar], receiver: Receiver
) -> None:
    endpoint, _ = _endpoint(runtime, receiver.url, ["candidate.created"])
    receiver.answers = [503] * 20
    _new_candidate(runtime)
    now = utcnow()
    tries = 0
    told = partial(notifications.webhook_switched_off, runtime.config)
    while WebhookDelivery.get().status == "pending":
        now = WebhookDelivery.get().next_attempt_at
        tries += webhook_delivery.run_due(runtime.audit, runtime.config, now, told)
        assert tries < 20
    delivery = WebhookDelivery.get()
    assert delivery.status == "failed"
    # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h: the next wait would end past a day.
    assert tries == 7 and now - WebhookEvent.get().created_at < dt.timedelta(hours=24)
    endpoint = WebhookEndpoint.get_by_id(endpoint.id)
    assert not endpoint.enabled and "1 day" in endpoint.disabled_reason
    (told,) = OutboxMessage.select().where(OutboxMessage.recipient == "admin@example.com")
    assert f"/admin/webhooks/{endpoint.id}" in told.body
    # Switched off, it is sent nothing, and "send again" waits for it to be on.
    _new_candidate(runtime, "Second Candidate")
    assert WebhookDelivery.select().count() == 1
    assert sign_in(client, "admin@example.com") == 303
    receiver.answers.clear()  # the receiver is mended
    again = f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/again"
    assert post_form(client, again, {}).status_code == 409
    on = post_form(client, f"/admin/webhooks/{endpoint.id}/enabled", {"enabled": "yes"})
    assert on.status_code == 303
    assert post_form(client, again, {}).status_code == 303
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 1
    assert receiver.received[-1][0]["webhook-id"] == WebhookEvent.get().message_id
    assert WebhookDelivery.select().where(WebhookDelivery.status == "delivered").count() == 1
    assert (
        post_form(client, f"/admin/webhooks/{endpoint.id}/deliveries/999/again", {}).status_code
        == 404
    )


def test_a_worker_killed_mid_delivery_loses_nothing_and_sends_it_again_with_the_same_id(
    runtime: Runtime, receiver: Receiver, tmp_path: Path
) -> None:
    _endpoint(runtime, receiver.url, ["candidate.created"])
    receiver.answers = ["hang"]
    _new_candidate(runtime)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "APPLIANCE_WEB_PORT": str(free_port()),
        "APPLIANCE_SFU_PORT": str(free_port()),
        "APPLIANCE_ASR_LIVE_CAPTIONS": "false",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "worker",
         "--data-dir", str(runtime.config.data_dir)],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.received, "the worker sent nothing"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    (delivery,) = WebhookDelivery.select()
    assert delivery.status == "pending" and delivery.claimed_until is not None
    # Its claim holds it until it runs out; then any sender takes it again.
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 0
    later = utcnow() + CLAIM
    assert webhook_delivery.run_due(runtime.audit, runtime.config, later) == 1
    assert WebhookDelivery.get().status == "delivered"
    first, second = (headers["webhook-id"] for headers, _ in receiver.received)
    assert first == second and len(receiver.received) == 2


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/x", "own network"),
        ("http://localhost/x", "own network"),
        ("http://[::1]/x", "own network"),
        ("http://169.254.169.254/latest/meta-data", "own network"),
        ("http://[::ffff:127.0.0.1]/x", "own network"),
        ("http://0.0.0.0/x", "own network"),
        ("ftp://ats.example/x", "http or https"),
        ("https://user:secret@ats.example/x", "no user name or password"),
        ("http://ats.example:99999/x", "port"),
        ("http://[0]/x", "host or the port"),
        ("http://[::1:]/x", "host or the port"),
        ("https://no-such-host.invalid/x", "does not resolve"),
        ("http://ats.example/\x00", "http or https address"),
        ("http://" + "a" * 2000 + ".example/", "at most 2000"),
    ],
)
def test_an_endpoint_on_the_box_own_network_or_malformed_is_refused(
    runtime: Runtime, url: str, why: str
) -> None:
    with pytest.raises(ApplianceError, match=why):
        webhook_endpoints.create(runtime.audit, "admin", url, ["candidate.created"], False)
    assert not WebhookEndpoint.select().exists()


def test_an_address_checked_again_at_delivery_is_not_sent_to(
    runtime: Runtime, receiver: Receiver
) -> None:
    """An endpoint whose name resolves to the box's own network by the time of sending (DNS
    rebinding, or an allowance withdrawn) gets nothing."""
    endpoint, _ = _endpoint(runtime, receiver.url, ["candidate.created"])
    WebhookEndpoint.update(allow_internal=False).where(WebhookEndpoint.id == endpoint.id).execute()
    _new_candidate(runtime)
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 1
    delivery = WebhookDelivery.get()
    assert delivery.status == "pending" and "own network" in delivery.last_error
    assert receiver.received == []


def test_events_follow_the_changes_they_report(runtime: Runtime, receiver: Receiver) -> None:
    _endpoint(runtime, receiver.url, ["candidate.created", "candidate.erased"])
    made = _new_candidate(runtime)
    erase_candidate(runtime, "admin@example.com", made, "asked to")
    kinds = [json.loads(e.payload) for e in WebhookEvent.select().order_by(WebhookEvent.id)]
    assert [(k["type"], k["data"]["candidate_id"]) for k in kinds] == [
        ("candidate.created", made), ("candidate.erased", made),
    ]  # fmt: skip
    # A change that fails writes no event.
    with pytest.raises(Exception, match="already erased"):
        erase_candidate(runtime, "admin@example.com", made, "again")
    assert WebhookEvent.select().count() == 2


def test_an_ats_manages_its_endpoints_with_a_token(
    runtime: Runtime, client: TestClient[Litestar], receiver: Receiver
) -> None:
    secret = api_tokens.create(runtime.audit, _admin(runtime), "ATS", ["webhooks:manage"], 30)[1]
    headers = {"authorization": f"Bearer {secret}"}
    wanted = {"url": receiver.url, "events": ["candidate.created"], "allow_internal": True}
    made = client.post("/api/v1/webhooks", json=wanted, headers=headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    listed = client.get("/api/v1/webhooks", headers=headers).json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    created = AuditEntry.get(AuditEntry.action == "webhook.create")
    assert created.actor == "token:ATS"

    _new_candidate(runtime)
    assert webhook_delivery.run_due(runtime.audit, runtime.config) == 1
    (sent_headers, sent_body), = receiver.received  # fmt: skip
    Webhook(body["secret"]).verify(sent_body, sent_headers)
    (line,) = client.get(f"/api/v1/webhooks/{body['id']}/deliveries", headers=headers).json()
    assert line["status"] == "delivered" and line["last_status_code"] == 200

    for refused, status, why in (
        ({**wanted, "events": ["interview.lost"]}, 400, "events"),
        ({**wanted, "url": "ftp://ats.example/x"}, 400, "http or https"),
        ({**wanted, "allow_internal": False}, 422, "own network"),
        ({**wanted, "events": []}, 400, "events"),
    ):
        answer = client.post("/api/v1/webhooks", json=refused, headers=headers)
        assert answer.status_code == status and why in answer.json()["detail"].lower(), answer.text
    assert client.delete(f"/api/v1/webhooks/{body['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/webhooks", headers=headers).json() == []
    missing = client.get(f"/api/v1/webhooks/{body['id']}/deliveries", headers=headers)
    assert missing.status_code == 404
    reader = api_tokens.create(runtime.audit, _admin(runtime), "Reader", ["interviews:read"], 30)[1]
    other = client.get("/api/v1/webhooks", headers={"authorization": f"Bearer {reader}"})
    assert other.status_code == 403


def test_every_change_is_told_once_as_it_happens(
    runtime: Runtime, client: TestClient[Litestar]
) -> None:
    panel = Panel(runtime)
    admin = _admin(runtime)
    webhook_endpoints.create(runtime.audit, admin.email, "http://127.0.0.1:9/x", list(EVENTS), True)
    ana = signed_in_as(client, "ana@example.com")
    assert submit(client, panel, ana, panel.card(4, 3)).status_code == 201
    boss = signed_in_as(client, "admin@example.com")
    decided = client.post(
        f"/api/candidates/{panel.candidate.id}/decisions",
        json={"outcome": "advance", "reason": "Strong", "position_id": panel.position.id,
              "without_all_scorecards": True},
        headers=boss,
    )  # fmt: skip
    assert decided.status_code in (200, 201), decided.text

    windows = [WeeklyWindow(day, "00:00", "00:00") for day in range(7)]
    scheduling.set_availability(runtime.audit, "t", panel.ana, "UTC", windows)
    kind = scheduling.create_interview_type(runtime.audit, "t", "Second", 60, [panel.ana.id])
    settings, key = rules(runtime.config), scheduling.link_key(runtime.keys)
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(minute=0, second=0,
                                                                      microsecond=0)  # fmt: skip
    _, _, second = scheduling.schedule_at(
        runtime.audit, "t", panel.candidate.id, kind.id, start, "UTC", settings, key
    )
    scheduling.reschedule(runtime.audit, "t", second, start + dt.timedelta(hours=2), settings)
    scheduling.cancel(runtime.audit, "t", second)
    scheduling.cancel(runtime.audit, "t", second)  # already cancelled: nothing more to tell
    _, _, third = scheduling.schedule_at(
        runtime.audit, "t", panel.candidate.id, kind.id, start + dt.timedelta(days=1), "UTC",
        settings, key,
    )  # fmt: skip
    live_room.end(runtime.audit, panel.ana, third, scheduling.as_utc(third.starts_at))

    told = [json.loads(e.payload) for e in WebhookEvent.select().order_by(WebhookEvent.id)]
    assert [t["type"] for t in told] == [
        "scorecard.submitted", "decision.made", "interview.scheduled", "interview.rescheduled",
        "interview.cancelled", "interview.scheduled", "interview.completed",
    ]  # fmt: skip
    assert told[0]["data"]["interview_id"] == panel.interview.id
    assert told[0]["data"]["version"] == 1 and told[0]["data"]["author_id"] == panel.ana.id
    assert told[1]["data"]["outcome"] == "advance" and told[1]["data"]["changed"] is False
    assert told[3]["data"]["starts_at"] == (start + dt.timedelta(hours=2)).isoformat().replace(
        "+00:00", "Z"
    )
    assert told[4]["data"]["status"] == "cancelled" and told[6]["data"]["status"] == "completed"
    assert {t["data"]["candidate_id"] for t in told} == {panel.candidate.id}
    # One delivery per event to the one endpoint.
    assert WebhookDelivery.select().count() == len(told)
