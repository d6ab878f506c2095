"""Run the web application with uvicorn on one socket, and open the browser."""

from __future__ import annotations

import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Self

import uvicorn

from ..round import Round
from .app import create_app
from .security import LOOPBACK_NAMES

__all__ = ["bind", "make_server", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 takes a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets that say they are TCP. Without it every answer, its headers and its body written
    # apart, waited for the browser's delayed ACK: some 40 ms a request on loopback.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    return f"http://{shown}:{port}/"


def make_server(rnd: Round, host: str, password: str | None) -> uvicorn.Server:
    loopback = host in LOOPBACK_NAMES
    app = create_app(rnd, password=password, loopback_only=loopback)
    # uvicorn's own messages are in English and for developers: only its warnings.
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                            timeout_keep_alive=30, lifespan="off")
    return uvicorn.Server(config)


def serve(rnd: Round, host: str = "127.0.0.1", port: int = 0, password: str | None = None,
          open_browser: bool = True, say: Callable[[str], None] = print) -> None:
    """Serve ``rnd`` until interrupted (Ctrl+C)."""
    sock = bind(host, port)
    server = make_server(rnd, host, password)
    url = address(sock)
    local = url if host in LOOPBACK_NAMES else f"http://127.0.0.1:{sock.getsockname()[1]}/"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            say(f"已启动：{url}（轮次文件夹 {rnd.folder}）")
            if password:
                say("访问时需要输入密码。")
            say("在浏览器中打开上面的网址；按 Ctrl+C 停止。")
            if open_browser:
                webbrowser.open(local)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        say("已停止。")


class BackgroundServer:
    """``serve`` in a thread of this process, on a free port (for tests and the benchmark).

        with BackgroundServer(rnd) as server:     # server.url: http://127.0.0.1:PORT/
            ...
    """

    def __init__(self, rnd: Round, password: str | None = None, host: str = "127.0.0.1"):
        self.sock = bind(host, 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server = make_server(rnd, host, password)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
