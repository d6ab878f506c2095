"""Who may use the server, and what a page from elsewhere may not make it do.

* Without a password the server listens on the loopback address only, and
  answers only requests addressed to it by a loopback name (127.0.0.1,
  localhost, [::1]): a web page that points a name of its own at 127.0.0.1
  (DNS rebinding) gets nothing.
* With a password, pages need a login (a session cookie, ``HttpOnly``,
  ``SameSite=Strict``); the JSON API takes the same cookie or HTTP Basic with
  the same password (any user name), for scripts.
* A request that changes anything (POST) is refused when the browser says it
  comes from another site (``Sec-Fetch-Site``, or an ``Origin`` that is not this
  server), whatever it carries; and a request from a browser must carry the
  CSRF token of its pages (double-submit: a cookie, and the same value in the
  form or in the ``X-CSRF-Token`` header). Scripts, which send neither
  ``Origin`` nor cookies, need no token.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
import time
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse

__all__ = ["CSRF_COOKIE", "LOOPBACK_NAMES", "SESSION_COOKIE", "Auth", "Guard", "check_csrf", "csrf_token"]

CSRF_COOKIE = "xt_csrf"
SESSION_COOKIE = "xt_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SESSION_SECONDS = 12 * 3600
# Paths anyone may reach: the login page and what it needs.
OPEN_PATHS = ("/login", "/static/")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Auth:
    """The password, if any, and the sessions of those who gave it (kept in memory)."""

    def __init__(self, password: str | None):
        self.password = password
        self._sessions: dict[str, float] = {}

    @property
    def required(self) -> bool:
        return self.password is not None

    def check_password(self, given: str) -> bool:
        return self.password is not None and hmac.compare_digest(given.encode(), self.password.encode())

    def new_session(self) -> str:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = time.monotonic() + SESSION_SECONDS
        return token

    def end_session(self, token: str | None) -> None:
        self._sessions.pop(token or "", None)

    def session_ok(self, token: str | None) -> bool:
        until = self._sessions.get(token or "")
        if until is None:
            return False
        if until < time.monotonic():
            self._sessions.pop(token, None)
            return False
        return True

    def basic_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        _user, _, given = decoded.partition(":")
        return self.check_password(given)

    async def failed(self) -> None:
        """A wrong password waits: guessing one takes a long time."""
        await asyncio.sleep(0.5)


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _from_elsewhere(headers: Headers) -> bool:
    """A browser's request that another site made (a form or script of theirs)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()
    return origin == "null"


def from_browser(headers: Headers) -> bool:
    """Browsers mark what they send (Fetch Metadata, Origin on every POST); scripts do not."""
    return "origin" in headers or "sec-fetch-site" in headers


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser (set by :class:`Guard` on the first page)."""
    return request.scope.get("xt_csrf", "")


def check_csrf(request: Request, form_value: str | None = None) -> bool:
    """Does the request carry this browser's token (in the form or the header)? Scripts need none."""
    if not from_browser(request.headers):
        return True
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = form_value if form_value is not None else request.headers.get(CSRF_HEADER, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), (given or "").encode())


class Guard:
    """ASGI middleware: host names, logins, requests from other sites, the CSRF cookie."""

    def __init__(self, app, auth: Auth, loopback_only: bool):
        self.app = app
        self.auth = auth
        self.loopback_only = loopback_only

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        headers = request.headers
        path = scope["path"]
        api = path.startswith("/api/")
        if self.loopback_only and _host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
            return await PlainTextResponse("只接受发往本机（127.0.0.1）的请求。", 400)(scope, receive, send)
        if scope["method"] in _UNSAFE and _from_elsewhere(headers):
            return await _refuse(api, 403, "请求来自其他网站，已拒绝。")(scope, receive, send)
        if self.auth.required and not path.startswith(OPEN_PATHS):
            session = self.auth.session_ok(request.cookies.get(SESSION_COOKIE))
            if not session and not (api and self.auth.basic_ok(headers.get("authorization"))):
                if api:
                    if headers.get("authorization"):
                        await self.auth.failed()
                    return await JSONResponse(
                        {"error": "需要密码：请用 HTTP Basic 认证"
                                  "（用户名任意，密码为 serve 的 --password）。"},
                        401, headers={"WWW-Authenticate": 'Basic realm="xlsx-tools", charset="UTF-8"'},
                    )(scope, receive, send)
                target = scope["path"] + (("?" + scope["query_string"].decode("latin-1"))
                                          if scope.get("query_string") else "")
                return await RedirectResponse("/login?next=" + quote(target), 303)(scope, receive, send)
        token = request.cookies.get(CSRF_COOKIE)
        fresh = not api and (token is None or len(token) < 20)
        if fresh:
            token = secrets.token_urlsafe(32)
        scope["xt_csrf"] = token

        async def send_with_cookie(message):
            if message["type"] == "http.response.start" and fresh:
                cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _refuse(api: bool, status: int, message: str):
    return JSONResponse({"error": message}, status) if api else PlainTextResponse(message, status)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this server only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
