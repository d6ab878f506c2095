"""A round served for real (uvicorn on a loopback port, in a thread), and Debian's Chromium.

    with LiveServer(rnd) as server:           # server.url: http://127.0.0.1:PORT/
        ...
    browser = launch_chromium(playwright)     # /usr/bin/chromium, headless
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import Self

import pytest

from xlsx_tools.web.server import bind, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1440, "height": 900}


class LiveServer:
    """``serve`` of a round, in this process, on a free loopback port."""

    def __init__(self, rnd, password: str | None = None, host: str = "127.0.0.1"):
        self.rnd = rnd
        self.sock = bind(host, 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server = make_server(rnd, host, password)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def launch_chromium(playwright):
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed here")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
