"""axe-core, the engine behind most accessibility checkers, run inside the real browser on a
page as it stands: contrast, labels, names, roles, landmarks (WCAG 2 A and AA rules)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe as AsyncAxe
from axe_playwright_python.sync_playwright import Axe as SyncAxe
from playwright.async_api import Page as AsyncPage
from playwright.sync_api import Page

OPTIONS = {"resultTypes": ["violations"]}


def _describe(response: dict[str, Any]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in response["violations"]
    ]


def violations(page: Page) -> list[str]:
    return _describe(SyncAxe().run(page, options=OPTIONS).response)


async def violations_async(page: AsyncPage) -> list[str]:
    return _describe((await AsyncAxe().run(page, options=OPTIONS)).response)
