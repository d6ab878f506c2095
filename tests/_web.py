"""A round served for real (uvicorn on a loopback port, in a thread), and Debian's Chromium.

    with LiveServer(rnd) as server:           # server.url: http://127.0.0.1:PORT/
        ...
    browser = launch_chromium(playwright)     # /usr/bin/chromium, headless
    wait_until(page, "document.title == 'x'")  # a condition on the page, looked at every 50 ms
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from xlsx_tools.web.bench import CHROMIUM, CHROMIUM_ARGS
from xlsx_tools.web.server import BackgroundServer

DESKTOP = {"width": 1440, "height": 900}
# How often a condition waited for is looked at. Playwright's default (every animation frame)
# keeps Chromium drawing frames while hundreds of answers come in: a third of its work.
POLL_MS = 50


# ``serve`` of a round, in this process, on a free loopback port.
LiveServer = BackgroundServer


def launch_chromium(playwright):
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed here")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium under Playwright, for a module's ``browser`` fixture."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def wait_until(page, expression: str, timeout: float = 30_000) -> None:
    """Until the JavaScript ``expression`` is true on ``page`` (looked at every POLL_MS)."""
    page.wait_for_function(expression, timeout=timeout, polling=POLL_MS)
