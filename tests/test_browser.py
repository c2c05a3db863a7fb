"""A real Chromium drives the real server: first-run setup, sign-in, building a kit."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import PASSWORD, free_port
from tests.support.accessibility import violations
from tests.support.chromium import CHROMIUM, FLAGS
from tests.support.waiting import wait_for_http

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A web process on a free port; yields (base URL, one-time setup URL)."""
    data, port = tmp_path / "data", free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APPLIANCE_WEB_PORT": str(port)}
    init = subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    setup_url = next(line.strip() for line in init.stdout.splitlines() if "/setup/" in line)
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "web", "--data-dir", str(data)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/healthz", time.monotonic() + 30)
    yield base, setup_url
    process.terminate()
    process.wait(timeout=30)


def _create_admin(page: Page) -> None:
    """Fill in the setup page; the wizard then greets the new administrator."""
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password", exact=False).first.fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_setup_sign_in_and_build_a_kit(
    browser: Browser, server: tuple[str, str], tmp_path: Path
) -> None:
    base, setup_url = server
    page = browser.new_page()

    page.goto(setup_url)
    expect(page.get_by_role("heading", name="Welcome to Parley")).to_be_visible()
    _create_admin(page)
    page.get_by_label("Host name", exact=False).fill("interviews")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(setup_url)
    expect(page.get_by_text("no longer valid")).to_be_visible()

    _sign_in(page, base, "ada@example.com")
    navigation = page.get_by_role("navigation", name="Main")
    navigation.get_by_text("Hiring").click()  # the menu opens, and Escape closes it again
    page.keyboard.press("Escape")
    expect(navigation.get_by_role("link", name="Interview kits")).to_be_hidden()
    navigation.get_by_text("Hiring").click()
    navigation.get_by_role("link", name="Interview kits").click()
    page.get_by_label("Name").fill("Backend engineer")
    page.get_by_role("button", name="Create kit").click()
    expect(page.get_by_role("heading", name="Backend engineer")).to_be_visible()

    form = page.locator("#add-competency")
    form.get_by_label("Competency").fill("System design")
    for level, text in enumerate(["None", "Basic", "Sound", "Strong", "Outstanding"], start=1):
        form.get_by_label(str(level), exact=True).fill(text)
    form.get_by_role("button", name="Add competency").click()
    competency = page.locator("article.competency", has_text="System design")
    expect(competency).to_be_visible()
    expect(competency.get_by_text("Outstanding")).to_be_visible()

    competency.get_by_label("New question").fill("Design a rate limiter for our API")
    competency.get_by_role("button", name="Add question").click()
    expect(page.get_by_text("Design a rate limiter for our API")).to_be_visible()
    page.screenshot(path=str(tmp_path / "kit.png"), full_page=True)

    page.reload()
    expect(page.locator("ol.questions li")).to_have_count(1)


def test_wrong_password_keeps_the_user_out(browser: Browser, server: tuple[str, str]) -> None:
    base, _ = server
    page = browser.new_page()
    page.goto(f"{base}/kits")
    expect(page).to_have_url(f"{base}/login?next=/kits")
    page.get_by_label("E-mail").fill("nobody@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")


def test_a_position_is_chosen_by_typing_part_of_its_title(
    browser: Browser, server: tuple[str, str]
) -> None:
    base, setup_url = server
    page = browser.new_page()
    page.goto(setup_url)
    _create_admin(page)
    for title in ("Welder", "Backend engineer", "Frontend engineer"):
        page.goto(f"{base}/positions")
        page.get_by_label("Title").fill(title)
        page.get_by_role("button", name="Create position").click()
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    page.goto(f"{base}/candidates")
    page.get_by_label("Name", exact=True).fill("Sam Lee")
    page.get_by_label("E-mail", exact=True).fill("sam@example.com")
    box = page.get_by_role("combobox", name="Position")
    box.fill("engin")
    options = page.get_by_role("listbox", name="Position").get_by_role("option")
    expect(options).to_have_text(["Backend engineer", "Frontend engineer"])
    assert not violations(page)  # with the list open
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("Frontend engineer")
    page.get_by_role("button", name="Add candidate").click()
    expect(page.get_by_role("heading", name="Sam Lee")).to_be_visible()
    expect(page.get_by_role("combobox", name="Position")).to_have_value("Frontend engineer")
    box = page.get_by_role("combobox", name="Position")
    box.fill("weld")
    page.get_by_role("option", name="Welder").click()
    box.fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("combobox", name="Position")).to_have_value("")


STAFF_PAGES = [
    "/",
    "/kits",
    "/positions",
    "/candidates",
    "/interview-types",
    "/interviews",
    "/interviews?view=past",
    "/search",
    "/recordings",
    "/admin/users",
    "/availability",
    "/outbox",
    "/calibration",
    "/audit",
    "/account",
    "/admin/settings",
    "/admin/tls",
]


def test_every_staff_page_passes_an_accessibility_audit(
    browser: Browser, server: tuple[str, str]
) -> None:
    base, setup_url = server
    page = browser.new_page()
    page.goto(setup_url)
    found = {"setup": violations(page)}
    _create_admin(page)
    found["welcome"] = violations(page)
    page.goto(f"{base}/kits")
    page.get_by_label("Name").fill("Backend engineer")
    page.get_by_role("button", name="Create kit").click()
    expect(page.get_by_role("heading", name="Backend engineer")).to_be_visible()
    found["kit"] = violations(page)
    page.goto(f"{base}/candidates")
    page.get_by_label("Name", exact=True).fill("Sam Lee")
    page.get_by_label("E-mail", exact=True).fill("sam@example.com")
    page.get_by_role("button", name="Add candidate").click()
    expect(page.get_by_role("status").filter(has_text="Candidate added.")).to_be_visible()
    found["candidate"] = violations(page)
    # A refused form: the error sits beside the field it names, which is marked and focused.
    page.goto(f"{base}/positions")
    page.get_by_label("Title").fill("   ")
    page.get_by_role("button", name="Create position").click()
    title = page.get_by_label("Title")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_be_focused()
    assert page.locator("#form-error").inner_text() == "Title is required."
    beside = "document.getElementById('form-error').previousElementSibling.textContent.trim()"
    assert page.evaluate(beside) == "Title"
    found["refused form"] = violations(page)
    page.locator("summary", has_text="Hiring").click()  # the navigation's menu, open
    found["menu"] = violations(page)
    for path in STAFF_PAGES:
        assert page.goto(f"{base}{path}").ok, path  # type: ignore[union-attr]
        found[path] = violations(page)
    page.get_by_role("button", name="Sign out").click()
    found["sign in"] = violations(page)
    assert not any(found.values()), {name: v for name, v in found.items() if v}
