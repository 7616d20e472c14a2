"""The web app's two cookies, named and set in one place.

* ``review_session``: the login session's token (:mod:`review.auth.sessions`), for every path,
  HttpOnly, ``SameSite=Lax``, ``Secure`` when the page came over TLS, lasting the session.
* ``review_device``: a known device's token (:mod:`review.auth.login`), sent only to
  ``/login`` (its path), so a device that signed in before is not locked out by strangers'
  failed attempts; HttpOnly, ``SameSite=Strict``, ``Secure`` over TLS.

Example::

    response.set_cookie(**session_cookie(token, secure=True, max_age=3600))
    token = cookie_value(request.headers.get("cookie"), SESSION_COOKIE)
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

SESSION_COOKIE = "review_session"
DEVICE_COOKIE = "review_device"
DEVICE_COOKIE_PATH = "/login"


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header (None when absent or malformed)."""
    if not header:
        return None
    cookies = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel is not None and morsel.value else None


def session_cookie(token: str, *, secure: bool, max_age: int) -> dict[str, Any]:
    """Keyword arguments of ``Response.set_cookie`` for a login session."""
    return {"key": SESSION_COOKIE, "value": token, "max_age": max_age, "path": "/",
            "httponly": True, "samesite": "lax", "secure": secure}


def device_cookie(token: str, *, secure: bool, max_age: int) -> dict[str, Any]:
    """Keyword arguments of ``Response.set_cookie`` for a known device."""
    return {"key": DEVICE_COOKIE, "value": token, "max_age": max_age, "path": DEVICE_COOKIE_PATH,
            "httponly": True, "samesite": "strict", "secure": secure}


def forget_session(response: Any) -> None:
    """Remove the session cookie from the browser (logout)."""
    response.delete_cookie(key=SESSION_COOKIE, path="/")
