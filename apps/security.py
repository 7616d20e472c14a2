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

* **Refusals are 4xx.** Gradio answers every error of an API call with HTTP 500. A refusal of
  ours (:func:`apps.context.user_errors`) carries a title naming its kind, and the middleware
  gives the answer that status: 403 not allowed, 404 not found, 400 refused. A real crash
  stays a 500.

Example::

    app.add_middleware(SecurityMiddleware, allowed_origins=["https://review.example.com"])
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

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


class SecurityMiddleware:
    """See the module docstring."""

    def __init__(self, app: Any, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = parse_origins(allowed_origins)

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

        api = path.startswith(API_PREFIXES)
        held: list[dict] = []

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
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
