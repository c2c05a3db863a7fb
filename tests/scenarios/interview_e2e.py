"""One whole interview in real browsers, run inside a fresh network namespace (only loopback).

The web and SFU processes run as `appliance serve` runs them; e-mail goes to a local SMTP
server. A candidate self-schedules, gets the calendar invitation, consents, checks devices and
waits in the lobby; the interviewer signs in, admits them, both see each other's video, the
interviewer scores two competencies, writes a note and ends the interview. Joining, admitting
and ending are done with the keyboard alone (Tab, then Enter). Prints one JSON
report line; exits non-zero when a step fails.

With the argument `decline`, the candidate declines recording (the appliance's default policy
holds the interview unrecorded): the call happens and nothing is recorded. That interview is
ended through the API alone, with no word through the SFU, as when the panel's connection to it
is down: both pages must learn it from the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from playwright.async_api import Page, Response, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appliance.box.datadir import initialize
from appliance.core.config import Config, load_config
from appliance.db.models import (
    Candidate,
    Competency,
    Interview,
    Kit,
    Question,
    Recording,
    RecordingBlob,
    Scorecard,
)
from appliance.hiring import mailer, scheduling
from appliance.hiring.candidates import CandidateFields, create_candidate
from appliance.recordings.filing import ingest
from appliance.runtime import Runtime, open_runtime
from appliance.staff.accounts import create_user
from tests.support.accessibility import violations_async
from tests.support.chromium import CHROMIUM, MEDIA_FLAGS
from tests.support.waiting import wait_for_http

PASSWORD = "correct horse battery"
KIT_SECRETS = ("Design a schema for invoices", "Find the slow query", "masterful")
NOTE = "Clear on trade-offs; hesitant on indexes"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(check: Any, timeout: float = 30.0, step: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {getattr(check, '__name__', check)}")
        await asyncio.sleep(step)


async def press_by_keyboard(page: Page, element_id: str) -> bool:
    """Reach a control with Tab alone and press it with Enter, as a keyboard user would."""
    for _ in range(60):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            await page.keyboard.press("Enter")
            return True
    return False


async def frames_decoded(page: Page) -> int:
    stats = await page.evaluate("window.parley ? window.parley.stats() : {}")
    return int(stats.get("framesDecoded", 0))


@dataclass
class Appliance:
    """A running appliance with one interviewer, a kit and a candidate invited to schedule."""

    config: Config
    runtime: Runtime
    inbox: Inbox
    base: str
    token: str  # the candidate's scheduling and joining link
    candidate: Candidate
    competencies: tuple[Competency, Competency]


@contextlib.contextmanager
def running_appliance(ice: dict[str, str]) -> Iterator[Appliance]:
    """Web and SFU processes as `appliance serve` runs them, e-mail to a local SMTP server;
    `ice` holds the SFU's ICE settings for the namespace the scenario runs in."""
    data = Path(tempfile.mkdtemp()) / "data"
    inbox = Inbox()
    smtp_port, web_port, sfu_port = free_port(), free_port(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = {
        **ice,
        "APPLIANCE_WEB_PORT": str(web_port),
        "APPLIANCE_SFU_PORT": str(sfu_port),
        "APPLIANCE_SFU_ROOM_GRACE_SECONDS": "1",
        "APPLIANCE_SCHEDULING_MINIMUM_NOTICE_HOURS": "0",
        "APPLIANCE_SCHEDULING_JOIN_EARLY_MINUTES": "30",
        "APPLIANCE_SMTP_HOST": "127.0.0.1",
        "APPLIANCE_SMTP_PORT": str(smtp_port),
        "APPLIANCE_SMTP_SECURITY": "none",
        "APPLIANCE_ASR_LIVE_CAPTIONS": "false",
    }
    config = load_config(data, environ=env)
    initialize(config)
    runtime = open_runtime(config)

    ivy = create_user(runtime.audit, "t", "ivy@example.com", "interviewer", PASSWORD, "Ivy Chen")
    recruiter = create_user(runtime.audit, "t", "rita@example.com", "recruiter", PASSWORD)
    every_day = [scheduling.WeeklyWindow(d, "00:00", "24:00") for d in range(7)]
    scheduling.set_availability(runtime.audit, "t", ivy, "UTC", every_day)
    kit = Kit.create(name="Backend")
    design = Competency.create(kit=kit, name="Schema design", ordinal=0, guide_5="masterful")
    debugging = Competency.create(kit=kit, name="Debugging", ordinal=1)
    Question.create(kit=kit, competency=design, text=KIT_SECRETS[0], ordinal=0)
    Question.create(kit=kit, competency=debugging, text=KIT_SECRETS[1], ordinal=1)
    kind = scheduling.create_interview_type(runtime.audit, "t", "Technical", 30, [ivy.id], kit.id)
    alex = create_candidate(runtime.audit, "t", CandidateFields("Alex Moreau", "alex@example.com"))
    _, token = scheduling.invite(
        runtime.audit, "t", alex.id, kind.id, config.scheduling,
        scheduling.link_key(runtime.keys), recruiter,
    )  # fmt: skip

    process_env = {**os.environ, **env}
    serve = [sys.executable, "-m", "appliance", "serve"]
    children = [
        subprocess.Popen([*serve, "web", "--data-dir", str(data)], env=process_env),
        subprocess.Popen([*serve, "sfu", "--data-dir", str(data)], env=process_env),
    ]
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_for_http(f"{base}/healthz", time.monotonic() + 30)
        wait_for_http(f"http://127.0.0.1:{sfu_port}/healthz", time.monotonic() + 30)
        yield Appliance(config, runtime, inbox, base, token, alex, (design, debugging))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        smtp.stop()
        runtime.close()


def filed_recording(appliance: Appliance, interview: Interview) -> dict[str, Any]:
    """What the worker's ingest files once the SFU has closed the room and sealed it."""
    time.sleep(2.5)
    ingest(appliance.runtime)
    recording = Recording.get_or_none(Recording.interview == interview)
    blobs = RecordingBlob.select().where(RecordingBlob.recording == recording)
    return {
        "recording": recording.status if recording else None,
        "blobs": sorted((b.kind, b.status) for b in blobs),
    }


async def run_interview(
    appliance: Appliance, decline: bool, report: dict[str, Any], a11y: dict[str, list[str]]
) -> None:
    config, base, token, inbox = appliance.config, appliance.base, appliance.token, appliance.inbox
    alex, (design, debugging) = appliance.candidate, appliance.competencies
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_FLAGS)
        candidate = await (await browser.new_context()).new_page()
        seen_by_candidate: list[str] = []

        async def keep(response: Response) -> None:
            if response.request.resource_type in ("document", "fetch", "xhr", "script"):
                with contextlib.suppress(Exception):  # a redirect has no body
                    seen_by_candidate.append(await response.text())

        candidate.on("response", lambda r: asyncio.ensure_future(keep(r)))

        # The candidate picks the first time offered; the invitation reaches their inbox.
        await candidate.goto(f"{base}/i/{token}")
        a11y["candidate: choose a time"] = await violations_async(candidate)
        await candidate.locator("button[name=slot]").first.click()
        a11y["candidate: confirm the time"] = await violations_async(candidate)
        await candidate.get_by_role("button", name="Book this time").click()
        await candidate.wait_for_url(f"{base}/i/{token}")
        await asyncio.to_thread(mailer.deliver_pending, config.smtp)
        invitation = next(m for m in inbox.messages if m["To"] == "alex@example.com")
        ics = next(
            part.get_content()
            for part in invitation.walk()
            if part.get_content_type() == "text/calendar"
        )
        report["ics"] = {
            "request": "METHOD:REQUEST" in ics,
            "join_link": f"/i/{token}" in ics.replace("\r\n ", ""),
            "recording_notice": "recorded" in ics,
        }
        report["panel_invited"] = any(m["To"] == "ivy@example.com" for m in inbox.messages)

        # Consent, then the device check: preview, level meter, then the waiting room.
        await candidate.goto(f"{base}/i/{token}")
        a11y["candidate: consent"] = await violations_async(candidate)
        answer = "I do not agree" if decline else "I agree to the recording and transcript"
        await candidate.get_by_label(answer).check()
        await candidate.get_by_role("button", name="Continue").click()
        await candidate.get_by_role("button", name="Join the interview").wait_for()
        await until(lambda: candidate.is_enabled("#ready"))
        report["level_moves"] = await until(
            lambda: candidate.evaluate("(window.parleyLevel || 0) > 0")
        )
        report["preview_playing"] = await candidate.evaluate(
            "document.getElementById('preview').videoWidth > 0"
        )
        a11y["candidate: device check"] = await violations_async(candidate)
        report["keyboard_join"] = await press_by_keyboard(candidate, "ready")
        await candidate.get_by_text("The panel will let you in shortly.").wait_for()
        a11y["candidate: waiting"] = await violations_async(candidate)

        # The interviewer signs in, opens the room, sees who waits and admits them.
        panel = await (await browser.new_context()).new_page()
        panel.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await panel.goto(f"{base}/login")
        await panel.get_by_label("E-mail").fill("ivy@example.com")
        await panel.get_by_label("Password").fill(PASSWORD)
        await panel.get_by_role("button", name="Sign in").click()
        await panel.wait_for_url(f"{base}/")
        interview = Interview.get(Interview.candidate == alex)
        await panel.goto(f"{base}/interviews/{interview.id}/room")
        admit = panel.get_by_role("button", name="Admit Alex Moreau")
        await admit.wait_for(timeout=15000)
        report["keyboard_admit"] = await press_by_keyboard(panel, "admit")

        # Both see each other's video.
        await candidate.locator("#live").wait_for(state="visible", timeout=15000)
        report["candidate_frames"] = await until(lambda: frames_decoded(candidate), timeout=30)
        report["panel_frames"] = await until(lambda: frames_decoded(panel), timeout=30)
        if not decline:
            await until(lambda: panel.is_visible("#recording"), timeout=10)
        report["panel_sees_recording"] = await panel.is_visible("#recording")
        a11y["panel: live room"] = await violations_async(panel)
        a11y["candidate: live room"] = await violations_async(candidate)
        report["candidate_sees_recording"] = await candidate.is_visible("#recording")

        # Score two competencies, mark a question asked, write a note: it saves itself.
        await panel.locator(f"input[name=score-{design.id}][value='4']").check()
        await panel.locator(f"input[name=score-{debugging.id}][value='3']").check()
        await panel.get_by_label(KIT_SECRETS[0]).check()
        await panel.get_by_label("Private notes").fill(NOTE)
        await panel.get_by_text("Saved at").wait_for(timeout=10000)
        await panel.reload()
        report["notes_after_reload"] = await panel.get_by_label("Private notes").input_value()
        await until(lambda: frames_decoded(panel), timeout=30)

        # End the interview: everyone is out, and the candidate is told.
        if decline:
            # Ended by the server alone, as when the panel's connection to the SFU is down:
            # both pages must still learn it and leave the room.
            ended = await panel.evaluate(
                f"""fetch("/api/interviews/{interview.id}/end", {{method: "POST", headers:
                {{"x-csrftoken": document.querySelector("#csrf input").value}}}}).then(r => r.ok)"""
            )
            report["server_end"] = ended
            await panel.get_by_role("heading", name="Interview ended").wait_for(timeout=15000)
        else:
            report["keyboard_end"] = await press_by_keyboard(panel, "end")
        await candidate.get_by_text("The interview has ended").wait_for(timeout=15000)
        a11y["candidate: ended"] = await violations_async(candidate)
        report["candidate_told_ended"] = True
        report["candidate_saw_kit"] = [
            secret for secret in (*KIT_SECRETS, NOTE) if any(secret in t for t in seen_by_candidate)
        ]
        report["interview_id"] = interview.id
        await browser.close()

    # The SFU closes the room and seals the recording; the worker's ingest files it.
    report.update(await asyncio.to_thread(filed_recording, appliance, interview))
    scorecard = Scorecard.get(Scorecard.interview == interview)
    report["scores"] = sorted(s.score for s in scorecard.scores)
    report["notes"] = scorecard.notes
    report["interview_status"] = Interview.get_by_id(interview.id).status


async def main(decline: bool) -> None:
    a11y: dict[str, list[str]] = {}
    report: dict[str, Any] = {"declined": decline, "accessibility": a11y}
    with running_appliance({"APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true"}) as appliance:
        await run_interview(appliance, decline, report, a11y)
    print(json.dumps(report))
    recorded = (
        report["recording"] == "complete"
        and report["panel_sees_recording"]
        and report["candidate_sees_recording"]
    )
    unrecorded = (
        report["recording"] is None
        and not report["panel_sees_recording"]
        and not report["candidate_sees_recording"]
    )
    ok = (
        all(report["ics"].values())
        and report["keyboard_join"]
        and report["keyboard_admit"]
        and report["server_end" if decline else "keyboard_end"]
        and report["candidate_frames"] > 0
        and report["panel_frames"] > 0
        and (unrecorded if decline else recorded)
        and report["scores"] == [3, 4]
        and report["notes"] == NOTE
        and not report["candidate_saw_kit"]
        and not any(a11y.values())
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] == ["decline"]))
