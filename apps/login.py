"""Signing in and out: the login page, ``POST /login`` and ``POST /logout``.

``POST /login`` with form fields ``username`` and ``password`` logs in browsers and API
clients alike: 200 ``{"success": true}`` with the session cookie, 400 ``Incorrect
credentials.``, or 429 with the wait in ``Retry-After`` and in the message ("Too many failed
sign-in attempts. Try again in 5 minutes.") whatever the password. The rules are
:func:`review.auth.login.log_in`: failed attempts are limited and remembered in the database
(shared by every process), a device that signed in before keeps a device cookie that exempts
it from the limits strangers' failures reach, and a session lasts ``Settings.session_hours``.
``POST /logout`` ends every session of the account and returns to the login page, which then
says "You are signed out."; a GET answers 405, so a link or an image elsewhere cannot log
anybody out. Cookies: :mod:`apps.cookies`.

The login page is the server's own (``GET /`` without a session, see
:mod:`apps.security`): it names the product, says the limits, and shows the server's answer
in one line (``#login-message``).

The client address is the TCP peer, or, for a request from a trusted reverse proxy
(uvicorn trusts 127.0.0.1, others through ``FORWARDED_ALLOW_IPS``), the address the proxy
states in ``X-Forwarded-For``: nginx must set it to ``$remote_addr`` (README), so a client
cannot add addresses of its own.
"""

from __future__ import annotations

import html
import math
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse

from apps.context import AppContext
from apps.cookies import DEVICE_COOKIE, SESSION_COOKIE, device_cookie, forget_session, session_cookie

# Where /logout sends the browser: the login page, which then says so.
SIGNED_OUT_QUERY = "signed_out=1"

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {title}</title>
<style>
  :root {{ color-scheme: light dark; --accent: #ea580c; }}
  body {{ margin: 0; font-family: ui-sans-serif, system-ui, "Segoe UI", Roboto, sans-serif;
         background: Canvas; color: CanvasText; }}
  main {{ max-width: 380px; margin: 12vh auto 0; padding: 24px; }}
  h1 {{ font-size: 1.5rem; margin: 0 0 4px; }}
  h2 {{ font-size: 1.1rem; margin: 0 0 12px; font-weight: 600; opacity: 0.8; }}
  p.about {{ margin: 0 0 16px; font-size: 0.92rem; line-height: 1.45; opacity: 0.85; }}
  label {{ display: block; font-weight: 600; margin: 12px 0 4px; }}
  input {{ box-sizing: border-box; width: 100%; padding: 10px 12px; font-size: 1rem;
          border: 1px solid #a1a1aa; border-radius: 8px; background: Field; color: FieldText; }}
  button {{ margin-top: 18px; width: 100%; padding: 11px; font-size: 1rem; font-weight: 700;
           border: 0; border-radius: 8px; background: var(--accent); color: white; cursor: pointer; }}
  button:disabled {{ opacity: 0.6; cursor: wait; }}
  #login-message {{ margin: 0 0 8px; padding: 8px 12px; border-radius: 6px; font-weight: 600; }}
  #login-message.refused {{ color: #b91c1c; background: #fef2f2; border: 1px solid #fca5a5; }}
  #login-message.signed-out {{ border: 1px solid #d4d4d8; }}
</style>
</head>
<body>
<main>
  <h1>{title}</h1>
  <h2>Sign in</h2>
  <p class="about">{about}</p>
  <form id="login-form" method="post" action="login">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" autocapitalize="none" required>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit" id="login-button">Log in</button>
  </form>
</main>
<script>
(function () {{
  var form = document.getElementById("login-form");
  function show(text, kind) {{
    var line = document.getElementById("login-message");
    if (!line) {{
      line = document.createElement("p");
      line.id = "login-message";
      form.parentNode.insertBefore(line, form);
    }}
    line.setAttribute("role", kind === "refused" ? "alert" : "status");
    line.className = kind;
    line.textContent = text;
  }}
  var query = new URLSearchParams(window.location.search);
  if (query.get("signed_out")) {{
    show("You are signed out.", "signed-out");
    query.delete("signed_out");
    var rest = query.toString();
    history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
  }}
  form.addEventListener("submit", function (event) {{
    event.preventDefault();
    var button = document.getElementById("login-button");
    button.disabled = true;
    fetch("login", {{method: "POST", body: new URLSearchParams(new FormData(form)),
                     credentials: "same-origin"}})
      .then(function (response) {{
        if (response.ok) {{ window.location.reload(); return; }}
        return response.json().then(function (body) {{
          return body && typeof body.detail === "string" ? body.detail : null;
        }}, function () {{ return null; }}).then(function (detail) {{
          show(detail || "Sign-in failed (HTTP " + response.status + ").", "refused");
          button.disabled = false;
        }});
      }}, function () {{
        show("The server did not answer. Try again.", "refused");
        button.disabled = false;
      }});
  }});
}})();
</script>
</body>
</html>
"""


def login_page(title: str, about: str) -> bytes:
    """The login page's HTML."""
    return LOGIN_PAGE.format(title=html.escape(title), about=html.escape(about)).encode()


def login_router(ctx: AppContext) -> APIRouter:
    """``POST /login``, ``POST /logout`` (and a refusing ``GET /logout``)."""
    router = APIRouter()
    max_age = int(ctx.settings.session_hours * 3600)
    device_max_age = int(ctx.settings.device_days * 86400)

    @router.post("/login")
    async def login(request: Request, username: Annotated[str, Form()],
                    password: Annotated[str, Form()]) -> JSONResponse:
        import anyio

        from review.auth.login import log_in, refusal_message
        from review.core.db import retry_on_disconnect

        address = request.client.host if request.client else "unknown"
        device = request.cookies.get(DEVICE_COOKIE)
        # scrypt is slow on purpose: off the event loop.
        result = await anyio.to_thread.run_sync(retry_on_disconnect(
            lambda: log_in(database=ctx.database, name=username, password=password,
                           address=address, device=device)))
        if result.retry_after_s is not None:
            raise HTTPException(status_code=429, detail=refusal_message(result.retry_after_s),
                                headers={"Retry-After": str(math.ceil(result.retry_after_s))})
        if result.token is None:
            raise HTTPException(status_code=400, detail="Incorrect credentials.")
        response = JSONResponse(content={"success": True})
        secure = request.url.scheme == "https"  # uvicorn reads a trusted proxy's X-Forwarded-Proto
        response.set_cookie(**session_cookie(result.token, secure=secure, max_age=max_age))
        if result.device is not None:
            response.set_cookie(**device_cookie(result.device, secure=secure, max_age=device_max_age))
        return response

    @router.get("/logout")
    async def logout_by_get() -> JSONResponse:
        """A link or an image on another page must not log anybody out."""
        return JSONResponse(status_code=405, content={"detail": "log out with POST /logout"},
                            headers={"Allow": "POST"})

    @router.post("/logout")
    async def logout(request: Request) -> RedirectResponse:
        """End every session of the account, then go to the login page."""
        import anyio

        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await anyio.to_thread.run_sync(ctx.log_out, token)
        response = RedirectResponse(url=request.scope.get("root_path", "") + "/?" + SIGNED_OUT_QUERY,
                                    status_code=303)
        forget_session(response)
        return response

    return router
