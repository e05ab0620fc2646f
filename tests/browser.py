"""Headless Chromium for the browser tests and the latency benchmark, driven by Playwright.

Playwright cannot download its own browser on a machine without a network, so it drives
the system's Chromium (Debian's package ``chromium``, installed by ``make browser``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

# The network is closed: nothing that phones home, and a fresh profile each time.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str | None:
    """$CHROMIUM, else chromium on $PATH (Debian's /usr/bin/chromium), else None."""
    chosen = os.environ.get("CHROMIUM")
    return chosen if chosen and Path(chosen).is_file() else shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """The reason the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; `make test` does)"
    if chromium_path() is None:
        return "no Chromium found (apt-get install chromium; `make test` does as root) and Playwright cannot download one offline"
    return None


@contextmanager
def browser_page(viewport: dict | None = None):
    """A page in a fresh headless Chromium profile, downloads allowed.

    The page's content security policy forbids ``eval``, which Playwright's
    ``wait_for_function`` needs, so the test browser bypasses it (``bypass_csp``).
    """
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="pianogan-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True,
                viewport=viewport or {"width": 1400, "height": 1000}, accept_downloads=True, bypass_csp=True,
            )  # fmt: skip
            try:
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.errors = errors
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
