"""Fixtures of the web UI tests: a browser for the journeys and where screenshots go."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import REPO_ROOT, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "ui"


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright, headless; one per test module."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
