"""``POST /login`` with limits on failed attempts, and sessions that expire.

Gradio's own login route hands the ``auth=`` callable only a name and a password, so it
cannot limit attempts per client address. :func:`make_server_app` builds the FastAPI
app that Gradio then fills with its routes (``launch(_app=...)``, as ``gradio.Server``
does): our ``/login`` is registered first, so it is the one that answers, with Gradio's
contract unchanged (form fields ``username`` and ``password``; 200 ``{"success": true}``
and the session cookies, or 400 ``Incorrect credentials.``). On top of it:

* failed attempts are limited per account name and per client address
  (:class:`review.ratelimit.LoginThrottle`); past the limit the answer is 429 with the
  wait in ``Retry-After`` and in the message, whatever the password;
* the session tokens expire ``AppContext.session_hours`` after sign-in
  (:class:`review.ratelimit.ExpiringTokens`); an expired session gets 401 like one that
  never signed in.

The client address is the TCP peer. Behind a reverse proxy every request comes from the
proxy, so the per-address limit then applies to everybody together; the per-name limit
still holds.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, ORJSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from gradio.routes import App

from apps.context import AppContext
from review.ratelimit import ExpiringTokens


def login_limits(ctx: AppContext, name: str, address: str) -> dict[str, int]:
    """The throttle keys of one attempt and the failures each may have in the window."""
    return {f"name:{name}": ctx.max_failed_logins_per_name,
            f"address:{address}": ctx.max_failed_logins_per_address}


def refusal_message(wait_s: float) -> str:
    minutes = max(1, math.ceil(wait_s / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


class ReviewServerApp(App):
    """Gradio's server app with expiring session tokens (set up by :func:`make_server_app`)."""

    def __init__(self, ctx: AppContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.review_context = ctx

    def configure_app(self, blocks: Any) -> None:
        super().configure_app(blocks)
        self.tokens = ExpiringTokens(max_age_s=self.review_context.session_hours * 3600)


def make_server_app(ctx: AppContext) -> ReviewServerApp:
    """The app to pass to ``Blocks.launch(_app=...)``; ``auth=`` must be set there too."""
    server = ReviewServerApp(ctx, default_response_class=ORJSONResponse)

    @server.post("/login")
    @server.post("/login/")
    async def login(request: Request, form_data: OAuth2PasswordRequestForm = Depends()):
        import anyio

        name, password = form_data.username.strip(), form_data.password
        address = request.client.host if request.client else "unknown"
        limits = login_limits(ctx, name, address)
        # Parallel guesses at one account count at once; an address's failures after the
        # check, so that many reviewers behind one address can sign in together.
        early = frozenset({f"name:{name}"})
        wait = ctx.login_throttle.begin(limits, counted_early=early)
        if wait is not None:
            raise HTTPException(status_code=429, detail=refusal_message(wait),
                                headers={"Retry-After": str(math.ceil(wait))})
        # scrypt is slow on purpose: off the event loop.
        if not await anyio.to_thread.run_sync(ctx.check_password, name, password):
            ctx.login_throttle.failed(limits, counted_early=early)
            raise HTTPException(status_code=400, detail="Incorrect credentials.")
        ctx.login_throttle.succeeded(limits)
        token = secrets.token_urlsafe(32)
        server.tokens[token] = name
        response = JSONResponse(content={"success": True})
        # The same two cookies as Gradio's login: one for HTTPS (cross-site frames), one for HTTP.
        max_age = int(ctx.session_hours * 3600)
        response.set_cookie(key=f"access-token-{server.cookie_id}", value=token, httponly=True,
                            samesite="none", secure=True, max_age=max_age)
        response.set_cookie(key=f"access-token-unsecure-{server.cookie_id}", value=token,
                            httponly=True, samesite="lax", max_age=max_age)
        return response

    return server
