"""``POST /login`` and ``/logout`` over the database's login sessions, for every process.

Gradio's own login route hands the ``auth=`` callable only a name and a password and keeps
its sessions in the process's memory. :func:`make_server_app` builds the FastAPI app that
Gradio then fills with its routes (``launch(_app=...)``, as ``gradio.Server`` does): our
``/login`` and ``/logout`` are registered first, so they are the ones that answer, with
Gradio's contract unchanged (form fields ``username`` and ``password``; 200
``{"success": true}`` and the session cookies, or 400 ``Incorrect credentials.``).

The rules are :func:`review.auth.login.log_in`: failed attempts are limited per account
name and per client address, shared by every process on the database (past a limit the
answer is 429 with the wait in ``Retry-After`` and in the message, whatever the password),
and a session lasts ``Settings.session_hours``. The session cookie is HttpOnly and
SameSite=Lax, and Secure over TLS; ``/logout`` takes a POST (a GET answers 405, so a link or
an image elsewhere cannot log anybody out). The session cookie's name is the same in
every process, and Gradio looks each request's cookie up in :class:`DatabaseTokens`, so a
login through one replica is valid on every other (no sticky sessions).

Gradio's login form shows "Incorrect Credentials" after a 400 and nothing after any other
refusal. :class:`LoginPageScript` adds a small script to the login page that shows the
server's own message instead (the 429's "Too many failed sign-in attempts. Try again in 5
minutes.", or the 400's), and "You are signed out." after ``/logout``, which redirects to
``/?signed_out=1`` for it.

The client address is the TCP peer, or, for a request from a trusted reverse proxy
(uvicorn trusts 127.0.0.1, others through ``FORWARDED_ALLOW_IPS``), the address that proxy
added to ``X-Forwarded-For``: a client cannot forge its own (tests/web/test_load_balancer.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from gradio.routes import App, ORJSONResponse

from apps.context import AppContext

# Where /logout sends the browser: the login page, which then says so.
SIGNED_OUT_QUERY = "signed_out=1"

# The login page's own script (Gradio's form: a panel with an <h2>, p.creds for its
# "Incorrect Credentials", a .form with the two fields). It watches the form's POST /login
# and puts the server's answer in one line of its own (role=alert), in place of Gradio's.
LOGIN_PAGE_HEAD = """
<style>
  #login-message { margin: 0 0 8px; padding: 8px 12px; border-radius: 6px; font-weight: 600; }
  #login-message.refused { color: var(--error-text-color, #b91c1c);
    background: var(--error-background-fill, #fef2f2); border: 1px solid var(--error-border-color, #fca5a5); }
  #login-message.signed-out { background: var(--background-fill-secondary, #f4f4f5);
    border: 1px solid var(--border-color-primary, #e4e4e7); }
  html.login-message-shown p.creds { display: none; }
</style>
<script>
(function () {
  if (!window.gradio_config || !window.gradio_config.auth_required) return;
  var pending = null;
  function show(text, kind) {
    pending = {text: text, kind: kind};
    var heading = document.querySelector(".wrap h2");
    if (!heading) return false;
    var line = document.getElementById("login-message");
    if (!line) {
      // Where Gradio shows its own message: under the explanation, above the fields.
      line = document.createElement("p");
      line.id = "login-message";
      var fields = heading.parentNode.querySelector(":scope > .form");
      heading.parentNode.insertBefore(line, fields || heading.nextSibling);
    }
    line.setAttribute("role", kind === "refused" ? "alert" : "status");
    line.className = kind;
    line.textContent = text;
    document.documentElement.classList.add("login-message-shown");
    pending = null;
    return true;
  }
  // The form is drawn after this script runs: show what is waiting once it is there.
  new MutationObserver(function () { if (pending) show(pending.text, pending.kind); })
    .observe(document.documentElement, {childList: true, subtree: true});
  var query = new URLSearchParams(window.location.search);
  if (query.get("signed_out")) {
    show("You are signed out.", "signed-out");
    query.delete("signed_out");
    var rest = query.toString();
    history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
  }
  var send = window.fetch;
  window.fetch = function (resource, options) {
    var answer = send.apply(this, arguments);
    var url = typeof resource === "string" ? resource : (resource && resource.url) || "";
    var method = ((options && options.method) || (resource && resource.method) || "GET").toUpperCase();
    var path = "";
    try { path = new URL(url, window.location.href).pathname; } catch (e) {}
    if (method !== "POST" || !/\\/login\\/?$/.test(path)) return answer;
    return answer.then(function (response) {
      if (!response.ok) {
        response.clone().json().then(function (body) {
          return body && typeof body.detail === "string" ? body.detail : null;
        }, function () { return null; }).then(function (detail) {
          show(detail || (response.status === 429 ? "Too many failed sign-in attempts. Try again later."
                                                   : "Incorrect credentials."), "refused");
        });
      }
      return response;
    });
  };
})();
</script>
"""

# The session cookie's suffix, the same in every process (Gradio draws a random one per
# process, which would tie a login to the process that issued it).
COOKIE_ID = "review"


class DatabaseTokens:
    """Gradio's ``app.tokens`` (session token -> account name), read from the database.

    Only lookups are offered: sessions are created and ended by our ``/login`` and
    ``/logout`` through :mod:`review.auth.sessions`.
    """

    def __init__(self, ctx: AppContext) -> None:
        from review.core.db import retry_on_disconnect

        self._ctx = ctx
        self._lookup = retry_on_disconnect(self._account)  # built once: called on every request

    def _account(self, token: str) -> str | None:
        from review.auth.sessions import account_for_token

        with self._ctx.session() as session:
            return account_for_token(session=session, token=token)

    def get(self, token: str | None, default: Any = None) -> str | None:
        if not token:
            return default
        name = self._lookup(token)
        return default if name is None else name

    def __getitem__(self, token: str) -> str:
        name = self.get(token)
        if name is None:
            raise KeyError(token)
        return name

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.get(token) is not None


class ReviewServerApp(App):
    """Gradio's server app with its sessions in the database (set up by :func:`make_server_app`)."""

    def __init__(self, ctx: AppContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.review_context = ctx
        self.cookie_id = COOKIE_ID

    def configure_app(self, blocks: Any) -> None:
        super().configure_app(blocks)
        self.tokens = DatabaseTokens(self.review_context)

    def build_middleware_stack(self) -> Any:
        """Our security defaults outermost, in front of Gradio's middleware (CORS included);
        the login page's script added to the page."""
        from apps.security import SecurityMiddleware

        from gradio.utils import get_upload_folder

        return SecurityMiddleware(LoginPageScript(super().build_middleware_stack()),
                                  allowed_origins=self.review_context.settings.allowed_origins,
                                  may_download=self.may_download,
                                  download_root=Path(get_upload_folder()),
                                  account_of=self.account_of)

    def account_of(self, cookie_header: str) -> str | None:
        """The account whose session is in these cookies, or None."""
        from http.cookies import SimpleCookie

        cookies = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except Exception:  # noqa: BLE001 - a malformed header is no session
            return None
        for name in (f"access-token-{self.cookie_id}", f"access-token-unsecure-{self.cookie_id}"):
            if name in cookies:
                account = self.tokens.get(cookies[name].value)
                if account is not None:
                    return account
        return None

    def may_download(self, cookie_header: str) -> bool:
        """Whether the session in these cookies is an account allowed to read results."""
        from sqlalchemy import select

        from review.auth.permissions import may
        from review.core.models import Reviewer

        account = self.account_of(cookie_header)
        if account is None:
            return False
        with self.review_context.session() as session:
            role = session.scalar(select(Reviewer.role).where(Reviewer.name == account))
        return role is not None and may(role, "view_results")


def make_server_app(ctx: AppContext) -> ReviewServerApp:
    """The app to pass to ``Blocks.launch(_app=...)``; ``auth=`` must be set there too."""
    # Gradio's own JSON response class, as its create_app uses.
    server = ReviewServerApp(ctx, default_response_class=ORJSONResponse)

    @server.post("/login")
    @server.post("/login/")
    async def login(request: Request, form_data: OAuth2PasswordRequestForm = Depends()):
        import anyio

        from review.auth.login import log_in, refusal_message
        from review.core.db import retry_on_disconnect

        address = request.client.host if request.client else "unknown"
        # scrypt is slow on purpose: off the event loop.
        result = await anyio.to_thread.run_sync(retry_on_disconnect(
            lambda: log_in(database=ctx.database, name=form_data.username,
                           password=form_data.password, address=address)))
        if result.retry_after_s is not None:
            raise HTTPException(status_code=429, detail=refusal_message(result.retry_after_s),
                                headers={"Retry-After": str(math.ceil(result.retry_after_s))})
        if result.token is None:
            raise HTTPException(status_code=400, detail="Incorrect credentials.")
        response = JSONResponse(content={"success": True})
        # One cookie, SameSite=Lax (never sent with another site's requests), and Secure when
        # the page came over TLS (directly or through a proxy that says so). Gradio reads
        # either of its two cookie names.
        max_age = int(ctx.settings.session_hours * 3600)
        secure = _over_tls(request)
        name = f"access-token-{server.cookie_id}" if secure else f"access-token-unsecure-{server.cookie_id}"
        response.set_cookie(key=name, value=result.token, httponly=True, samesite="lax",
                            secure=secure, max_age=max_age, path="/")
        return response

    @server.get("/logout")
    @server.get("/logout/")
    async def logout_by_get() -> JSONResponse:
        """A link or an image on another page must not log anybody out."""
        return JSONResponse(status_code=405, content={"detail": "log out with POST /logout"},
                            headers={"Allow": "POST"})

    @server.post("/logout")
    @server.post("/logout/")
    async def logout(request: Request):
        """End every session of the account (as Gradio's logout does), then go to the login page."""
        import anyio

        from review.auth.sessions import end_login_sessions

        token = (request.cookies.get(f"access-token-{server.cookie_id}")
                 or request.cookies.get(f"access-token-unsecure-{server.cookie_id}"))

        def end() -> None:
            name = server.tokens.get(token)
            if name is not None:
                with ctx.session(write=True) as session:
                    end_login_sessions(session=session, account=name)

        await anyio.to_thread.run_sync(end)
        response = RedirectResponse(url=request.scope.get("root_path", "") + "/?" + SIGNED_OUT_QUERY,
                                    status_code=303)
        response.delete_cookie(key=f"access-token-{server.cookie_id}", path="/")
        response.delete_cookie(key=f"access-token-unsecure-{server.cookie_id}", path="/")
        return response

    return server


class LoginPageScript:
    """ASGI middleware: adds :data:`LOGIN_PAGE_HEAD` to the head of the app's page (``GET /``).

    Gradio gives the ``head=`` of ``launch`` to signed-in pages only (it travels in the
    page's config, which the login page does not get), so the login page's script is added
    to the HTML here. It does nothing on a signed-in page.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        root = (scope.get("root_path") or "").rstrip("/")
        page = scope.get("path", "").rstrip("/") in ("", root)
        if scope["type"] != "http" or scope.get("method") != "GET" or not page:
            await self.app(scope, receive, send)
            return
        start: dict = {}
        parts: list[bytes] = []

        async def send_with_script(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)  # sent with the body, whose length changes
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(parts)
            headers = [(key, value) for key, value in start.get("headers", [])
                       if key.lower() != b"content-length"]
            html = any(key.lower() == b"content-type" and value.startswith(b"text/html")
                       for key, value in headers)
            if html and b"</head>" in body:
                body = body.replace(b"</head>", LOGIN_PAGE_HEAD.encode() + b"</head>", 1)
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_with_script)


def _over_tls(request: Request) -> bool:
    forwarded = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"
