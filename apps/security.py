"""The web layer's own security defaults, in front of everything Gradio serves.

One ASGI middleware (:class:`SecurityMiddleware`), outermost, so Gradio's defaults never
decide:

* **Origins.** A request that carries an ``Origin`` header is refused (403) unless the origin
  is the server's own (its host and port are the request's ``Host``) or one listed in
  ``REVIEW_ALLOWED_ORIGINS`` (comma-separated, e.g. ``https://review.example.com``). Browsers
  send ``Origin`` with every cross-origin fetch and every form POST, so another site, a
  sibling subdomain included, can neither read answers with the reviewer's cookie (Gradio's
  CORS layer never sees the request, so it cannot echo the origin) nor post a login form or a
  vote in her name (login CSRF included). Preflights are refused the same way.
* **Closed routes.** ``/gradio_api/token`` (it returned the session token as JSON), uploads
  (the app takes none) and monitoring answer 404.
* **Headers** on every response: ``Content-Security-Policy: frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY`` (no framing, so no clickjacking), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: same-origin``.

* **Downloads** (``/gradio_api/file=...``: the reports and exports the dashboard builds)
  are served only to a signed-in analyst or admin, and the file is deleted once it has been
  sent: a link that travels (to a reviewer, into a log) leads nowhere.
* **Event streams belong to their session.** Gradio streams an event's results to whoever
  asks ``/gradio_api/queue/data`` with its ``session_hash``. The middleware remembers which
  account joined the queue under each hash (in this process, where the stream lives) and
  answers 404 to anybody else.
* **One session state for plain API calls.** A call of a named endpoint
  (``/gradio_api/run/...``) without a ``session_hash`` (a plain HTTP client; ``gradio_client``
  and the page send their own) is given :data:`API_SESSION_HASH`, so Gradio builds one
  session state for all of them instead of a new one, a copy of the whole app's
  configuration, for every call (about half of a call's CPU time, on the event loop). The
  named endpoints keep nothing in it: they have no components, and every call is checked
  against its own login.
* **Refusals are 4xx.** Gradio answers every error of an API call with HTTP 500. A refusal of
  ours (:func:`apps.context.user_errors`) carries a title naming its kind, and the middleware
  gives the answer that status: 403 not allowed, 404 not found, 400 refused. A real crash
  stays a 500.

Example::

    app.add_middleware(SecurityMiddleware, allowed_origins=["https://review.example.com"])
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CLOSED_PREFIXES = ("/gradio_api/token", "/gradio_api/upload", "/gradio_api/upload_progress",
                   "/monitoring", "/gradio_api/monitoring")
SECURITY_HEADERS = [
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


# The title of a refusal -> its HTTP status (see refusal_title).
REFUSAL_STATUS = {"Not allowed": 403, "Not found": 404, "Refused": 400}
API_PREFIXES = ("/gradio_api/run/", "/gradio_api/api/", "/gradio_api/call/")
RUN_PREFIX = "/gradio_api/run/"
# The session of every named-endpoint call that names none (longer than Gradio's own hashes).
API_SESSION_HASH = "review-api-calls"
# The most a named endpoint's request body is read into memory to add a session hash.
MAX_RUN_BODY = 1 << 20


def refusal_title(exc: BaseException) -> str:
    """The title of a refusal, by its kind (the key of :data:`REFUSAL_STATUS`)."""
    from review.core.errors import NotFound, PermissionDenied

    if isinstance(exc, PermissionDenied):
        return "Not allowed"
    if isinstance(exc, NotFound):
        return "Not found"
    return "Refused"


def parse_origins(value: str | Iterable[str] | None) -> frozenset[str]:
    """Origins from a comma-separated setting, normalised to ``scheme://host[:port]``.

    Example:
        >>> sorted(parse_origins("https://Review.example.com/, http://10.0.0.5:7860"))
        ['http://10.0.0.5:7860', 'https://review.example.com']
    """
    items = value.split(",") if isinstance(value, str) else list(value or [])
    origins = set()
    for item in items:
        parts = urlsplit(item.strip())
        if parts.scheme and parts.netloc:
            origins.add(f"{parts.scheme.lower()}://{parts.netloc.lower()}")
    return frozenset(origins)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


FILE_PREFIX = "/gradio_api/file="
QUEUE_JOIN, QUEUE_DATA = "/gradio_api/queue/join", "/gradio_api/queue/data"
MAX_STREAMS = 100_000
DOWNLOAD_ACTION = "view_results"


class SecurityMiddleware:
    """See the module docstring. ``may_download(cookie_header) -> bool`` says whether the
    request's session belongs to an account that may download results (None: nobody may)."""

    def __init__(self, app: Any, allowed_origins: Iterable[str] = (),
                 may_download: Callable[[str], bool] | None = None,
                 download_root: Path | None = None,
                 account_of: Callable[[str], str | None] | None = None) -> None:
        self.app = app
        self.allowed = parse_origins(allowed_origins)
        self.may_download = may_download
        self.download_root = download_root
        self.account_of = account_of
        self.stream_owners: OrderedDict[str, str | None] = OrderedDict()

    def origin_allowed(self, scope: dict) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        parts = urlsplit(origin.strip())
        normal = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        if normal in self.allowed:
            return True
        host = (_header(scope, b"host") or "").lower()
        return bool(parts.netloc) and parts.netloc.lower() == host

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(path == p or path.startswith(p + "/") or path.startswith(p + "?") for p in CLOSED_PREFIXES):
            await _reply(send, 404, {"detail": "Not Found"})
            return
        if not self.origin_allowed(scope):
            await _reply(send, 403, {"detail": "cross-origin request refused: this server answers "
                                               "its own pages (and REVIEW_ALLOWED_ORIGINS) only"})
            return

        if path.startswith(FILE_PREFIX):
            await self._download(scope, receive, send)
            return
        if self.account_of is not None and path == QUEUE_JOIN and scope.get("method") == "POST":
            receive = await self._remember_owner(scope, receive)
        if path.startswith(RUN_PREFIX) and scope.get("method") == "POST":
            receive = await _with_session_hash(scope, receive)
        if self.account_of is not None and path == QUEUE_DATA and not await self._owns_stream(scope):
            await _reply(send, 404, {"detail": "Not Found"})
            return
        api = path.startswith(API_PREFIXES)
        held: list[dict] = []

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = _with_security_headers(message)
                if api and message["status"] == 500:
                    held.append(message)  # read the body before choosing the status
                    return
            if held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body"):
                    return
                start, *bodies = held
                held.clear()
                body = b"".join(part.get("body", b"") for part in bodies)
                await send({**start, "status": _refusal_status(body)})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)


    async def _account(self, scope: dict) -> str | None:
        import anyio

        return await anyio.to_thread.run_sync(self.account_of, _header(scope, b"cookie") or "")

    async def _remember_owner(self, scope: dict, receive: Any) -> Any:
        """Read the join request's body, note its session hash's account, replay the body."""
        messages, body, _ = await _read_body(receive, MAX_RUN_BODY)
        try:
            session_hash = json.loads(body).get("session_hash")
        except (ValueError, AttributeError):
            session_hash = None
        if isinstance(session_hash, str):
            owner = await self._account(scope)
            known = self.stream_owners.get(session_hash, owner)
            # The first account to join under a hash owns it.
            self.stream_owners[session_hash] = known
            self.stream_owners.move_to_end(session_hash)
            while len(self.stream_owners) > MAX_STREAMS:
                self.stream_owners.popitem(last=False)
        return _replay(messages, receive)

    async def _owns_stream(self, scope: dict) -> bool:
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
        session_hash = (query.get("session_hash") or [""])[0]
        if session_hash not in self.stream_owners:
            return False
        return self.stream_owners[session_hash] == await self._account(scope)

    async def _download(self, scope: dict, receive: Any, send: Any) -> None:
        import anyio

        cookies = _header(scope, b"cookie") or ""
        allowed = self.may_download is not None and await anyio.to_thread.run_sync(
            self.may_download, cookies)
        target = self._file(scope)
        if not allowed or target is None:
            await _reply(send, 404, {"detail": "Not Found"})
            return
        status: list[int] = []

        async def send_then_remove(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message = _with_security_headers(message)
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") \
                    and status and status[0] == 200 and scope.get("method") == "GET":
                target.unlink(missing_ok=True)

        await self.app(scope, receive, send_then_remove)

    def _file(self, scope: dict) -> Path | None:
        """The requested file when it lies in the download folder (else None)."""
        if self.download_root is None:
            return None
        raw = unquote(scope.get("path", "")[len(FILE_PREFIX):])
        try:
            target = Path(raw).resolve()
            target.relative_to(self.download_root.resolve())
        except (ValueError, OSError):
            return None
        return target


async def _read_body(receive: Any, limit: int) -> tuple[list[dict], bytes, bool]:
    """A request's messages and body, up to ``limit`` bytes (complete: whether it all came)."""
    messages, body = [], b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            return messages, body, message["type"] == "http.request"
        if len(body) > limit:
            return messages, body, False


def _replay(messages: list[dict], receive: Any) -> Any:
    """A ``receive`` that hands out ``messages`` first, then reads on."""
    replay = iter(messages)

    async def replayed() -> dict:
        try:
            return next(replay)
        except StopIteration:
            return await receive()

    return replayed


async def _with_session_hash(scope: dict, receive: Any) -> Any:
    """``receive`` for a named endpoint's call, its JSON body given :data:`API_SESSION_HASH`
    when it has no ``session_hash`` (see the module docstring)."""
    messages, body, complete = await _read_body(receive, MAX_RUN_BODY)
    if not complete:
        return _replay(messages, receive)
    try:
        payload = json.loads(body)
    except ValueError:
        return _replay(messages, receive)
    if not isinstance(payload, dict) or payload.get("session_hash") is not None:
        return _replay(messages, receive)
    payload["session_hash"] = API_SESSION_HASH
    new_body = json.dumps(payload).encode()
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"content-length"] + [
        (b"content-length", str(len(new_body)).encode())]
    return _replay([{"type": "http.request", "body": new_body, "more_body": False}], receive)


def _with_security_headers(start: dict) -> dict:
    """A response start with :data:`SECURITY_HEADERS` added where the app set none."""
    present = {key.lower() for key, _ in start.get("headers", [])}
    extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
    return {**start, "headers": [*start.get("headers", []), *extra]}


def _refusal_status(body: bytes) -> int:
    try:
        title = json.loads(body).get("title")
    except (ValueError, AttributeError):
        return 500
    return REFUSAL_STATUS.get(title, 500)


async def _reply(send: Any, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": data})
