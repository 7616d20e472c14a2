"""The web layer's own security defaults, in front of everything the server answers.

One ASGI middleware (:class:`SecurityMiddleware`), outermost, so neither Gradio's defaults
nor its next release decide:

* **Default deny.** Only the routes in :data:`ROUTES` are answered: the page and its static
  files, ``/login`` and ``/logout``, the page's own event route
  (``POST /gradio_api/run/predict``) and the JSON API under ``/api/v1``. Every other path
  answers 404 before anything else sees it: Gradio's file, upload, token, queue, call,
  monitoring and info routes, and whatever a later release adds.
* **Signed in first.** Every route but the login page, ``/login``, ``/logout``, the static files
  and ``/api/v1/health`` needs a login session: the session cookie is looked up (one database
  query, in a worker thread) and a request without a valid one answers 401 *before its body is
  read*. The account's name travels in the request's scope under :data:`ACCOUNT_KEY`, so the
  API and the page (Gradio's ``auth_dependency``) never look it up again. ``GET /`` without a
  session is the login page.
* **Bodies are bounded.** A body over :data:`MAX_BODY_BYTES` is refused with 413, by its
  ``Content-Length`` or by counting the bytes as they arrive, before the application reads it.
* **Origins.** A request that carries an ``Origin`` header is refused (403) unless the origin
  is the server's own (the request's scheme, host and port: an ``http://`` page cannot call an
  ``https://`` site) or one listed in ``REVIEW_ALLOWED_ORIGINS`` (comma-separated, e.g.
  ``https://review.example.com``). Browsers send ``Origin`` with every cross-origin fetch and
  every form POST, so another site, a sibling subdomain included, can neither read answers with
  the reviewer's cookie nor post a login form or a vote in her name (login CSRF included).
  Preflights are refused the same way. Behind a reverse proxy the scheme is the one the proxy
  states (``X-Forwarded-Proto``, trusted from the addresses uvicorn trusts).
* **Headers** on every response: ``Content-Security-Policy: frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY`` (no framing, so no clickjacking), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: same-origin``; ``Strict-Transport-Security`` over TLS; and
  ``Cache-Control: no-store`` on API answers (they are personal).

Example::

    app = SecurityMiddleware(app, account_of=lookup, login_page=html_bytes,
                             allowed_origins=["https://review.example.com"])
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from apps.cookies import SESSION_COOKIE, cookie_value

# Where the middleware leaves the signed-in account's name (None: nobody) in the scope.
ACCOUNT_KEY = "review.account"
MAX_BODY_BYTES = 1 << 20
HSTS_SECONDS = 365 * 24 * 3600
SECURITY_HEADERS = [
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Route:
    """A route the server answers: methods, a path (every path under it when ``prefix``),
    whether it is answered without a login session, and whether it takes a request body."""

    methods: frozenset[str]
    path: str
    prefix: bool = False
    public: bool = False
    body: bool = False

    def matches(self, method: str, path: str) -> bool:
        if method not in self.methods:
            return False
        return path.startswith(self.path) if self.prefix else path == self.path


_READ = frozenset({"GET", "HEAD"})
ROUTES: tuple[Route, ...] = (
    Route(_READ, "/", public=True),  # the app's page, or the login page without a session
    Route(_READ, "/theme.css", public=True),
    Route(_READ, "/favicon.ico", public=True),
    Route(_READ, "/assets/", prefix=True, public=True),
    Route(_READ, "/static/", prefix=True, public=True),
    Route(frozenset({"POST"}), "/login", public=True, body=True),
    Route(frozenset({"GET", "POST"}), "/logout", public=True),
    Route(frozenset({"POST"}), "/gradio_api/run/predict", body=True),
    Route(_READ, "/api/v1/health", public=True),
    Route(frozenset({"GET", "HEAD", "POST"}), "/api/v1/", prefix=True, body=True),
)


def route_for(method: str, path: str) -> Route | None:
    """The allowed route of a request, or None (it answers 404).

    Example:
        >>> route_for("POST", "/gradio_api/run/predict").public
        False
        >>> route_for("GET", "/gradio_api/file=/etc/hostname") is None
        True
    """
    return next((route for route in ROUTES if route.matches(method, path)), None)


def parse_origins(value: str | Iterable[str] | None) -> frozenset[str]:
    """Origins from a comma-separated setting, normalised to ``scheme://host[:port]``.

    Example:
        >>> sorted(parse_origins("https://Review.example.com/, http://10.0.0.5:7860, https://x.org:443"))
        ['http://10.0.0.5:7860', 'https://review.example.com', 'https://x.org']
    """
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return frozenset(filter(None, (_origin(item) for item in items)))


def _origin(value: str, scheme: str | None = None) -> str | None:
    """``scheme://host[:port]`` in lower case, without the scheme's default port (None when
    ``value`` is no origin). ``scheme`` is given for a bare ``host[:port]`` (a Host header)."""
    parts = urlsplit(value.strip() if scheme is None else f"{scheme}://{value.strip()}")
    if not parts.scheme or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as it is written in a URL
    scheme_name = parts.scheme.lower()
    if port is None or str(port) == DEFAULT_PORTS.get(scheme_name):
        return f"{scheme_name}://{host}"
    return f"{scheme_name}://{host}:{port}"


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


class SecurityMiddleware:
    """See the module docstring.

    Args:
        app: the ASGI application behind it.
        account_of: session token -> the active account's name, or None (blocking: it is
            run in a worker thread).
        login_page: the HTML answered to ``GET /`` without a session.
        allowed_origins: more origins than the server's own.
    """

    def __init__(self, app: Any, *, account_of: Callable[[str], str | None], login_page: bytes,
                 allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.account_of = account_of
        self.login_page = login_page
        self.allowed = parse_origins(allowed_origins)

    def origin_allowed(self, scope: dict) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        normal = _origin(origin)
        if normal is None:
            return False
        return normal in self.allowed or normal == _origin(_header(scope, b"host") or "",
                                                           scope.get("scheme", "http"))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets: the app uses none
            await send({"type": "websocket.close", "code": 1008})
            return
        tls = scope.get("scheme") == "https"
        method, path = scope.get("method", "GET"), scope.get("path", "")
        route = route_for(method, path)
        if route is None:
            await _reply(send, 404, {"detail": "Not Found"}, tls)
            return
        if not self.origin_allowed(scope):
            await _reply(send, 403, {"detail": "cross-origin request refused: this server answers "
                                               "its own pages (and REVIEW_ALLOWED_ORIGINS) only"}, tls)
            return
        scope[ACCOUNT_KEY] = None
        if not route.public or path == "/":
            scope[ACCOUNT_KEY] = await self._account(scope)
            if scope[ACCOUNT_KEY] is None:
                if path == "/":
                    await _reply_html(send, self.login_page, tls)
                else:
                    await _reply(send, 401, {"detail": "please log in"}, tls)
                return
        if route.body:
            receive = await _bounded_body(scope, receive, send, tls)
            if receive is None:
                return
        api = path.startswith("/api/")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = _with_security_headers(message, tls, no_store=api)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _account(self, scope: dict) -> str | None:
        import anyio

        token = cookie_value(_header(scope, b"cookie"), SESSION_COOKIE)
        if token is None:
            return None
        return await anyio.to_thread.run_sync(self.account_of, token)


async def _bounded_body(scope: dict, receive: Any, send: Any,
                        tls: bool) -> Callable[[], Awaitable[dict]] | None:
    """A ``receive`` that replays the whole body once it is known to be within
    :data:`MAX_BODY_BYTES`; None after answering 413 (the rest is never read)."""
    length = _header(scope, b"content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        await _reply(send, 413, {"detail": f"request body over {MAX_BODY_BYTES} bytes"}, tls)
        return None
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            await _reply(send, 413, {"detail": f"request body over {MAX_BODY_BYTES} bytes"}, tls)
            return None
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    replay = iter(messages)

    async def replayed() -> dict:
        try:
            return next(replay)
        except StopIteration:
            return await receive()

    return replayed


def _with_security_headers(start: dict, tls: bool, *, no_store: bool = False) -> dict:
    """A response start with :data:`SECURITY_HEADERS` (and HSTS over TLS) where the app set none."""
    present = {key.lower() for key, _ in start.get("headers", [])}
    extra = list(SECURITY_HEADERS)
    if tls:
        extra.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
    if no_store:
        extra.append((b"cache-control", b"no-store"))
    return {**start, "headers": [*start.get("headers", []),
                                 *((k, v) for k, v in extra if k not in present)]}


async def _reply(send: Any, status: int, body: dict, tls: bool) -> None:
    data = json.dumps(body).encode()
    await _send(send, status, b"application/json", data, tls)


async def _reply_html(send: Any, page: bytes, tls: bool) -> None:
    await _send(send, 200, b"text/html; charset=utf-8", page, tls)


async def _send(send: Any, status: int, content_type: bytes, data: bytes, tls: bool) -> None:
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", content_type),
                         (b"content-length", str(len(data)).encode()),
                         (b"cache-control", b"no-store")]}
    await send(_with_security_headers(start, tls))
    await send({"type": "http.response.body", "body": data})
