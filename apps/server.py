"""The web server behind ``review serve``: one FastAPI app with the JSON API, the login routes
and the Gradio page (reviewer app, analyst dashboard, admin) mounted on it, behind the
security middleware.

* Routes: :mod:`apps.security` answers only the routes the product serves (default deny) and
  refuses requests without a login session before anything reads them; ``/login`` and
  ``/logout`` are :mod:`apps.login`; ``/api/v1`` is :mod:`apps.api`; everything else is the
  page (``gr.mount_gradio_app``, whose ``auth_dependency`` reads the account the middleware
  found).
* Authorization: every handler reads the account from the request and checks it again
  (active, role, study membership, assignment ownership) in ``review.*``. The Dashboard tab
  (analysts, admins) and the Admin tab (admins) are shown by role after login, but hiding them
  is a convenience: their callbacks refuse any other role.
* Blinding: the page, its config and every response a reviewer gets carry answers as
  "A"/"B" text and assignments as random opaque ids, never a model name, path or database
  id. (Analysts and admins are not blind: the dashboard names the models.)

Example::

    from review.core.config import Settings
    serve(Settings(database_url="sqlite:///review.db"), host="127.0.0.1", port=7860)
"""

from __future__ import annotations

import html
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors
from apps.dashboard_views import DASHBOARD_CSS
from review.core.config import Settings

TITLE = "Blind review"
# Worker threads for handlers that wait on the database (the page's and the API's).
MAX_THREADS = 64
QUEUE_POLL_SECONDS = 0.01
PROGRESS_POLL_SECONDS = 0.25

KEYBOARD_SCRIPT = """
<script>
(function () {
  // 1-4 (or a, b, t, x) choose; Enter submits the chosen vote. Keys typed into a text
  // field stay text, and Enter on another button or link keeps its own meaning.
  var keys = {"1": "vote-left", "a": "vote-left", "2": "vote-right", "b": "vote-right",
              "3": "vote-tie", "t": "vote-tie", "4": "vote-both-bad", "x": "vote-both-bad",
              "enter": "submit-vote"};
  var choices = ["vote-left", "vote-right", "vote-tie", "vote-both-bad"];
  function typing(element) {
    if (!element) return false;
    if (element.isContentEditable) return true;
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var type = (element.getAttribute("type") || "text").toLowerCase();
    return ["radio", "checkbox", "button", "submit", "range"].indexOf(type) < 0;
  }
  function ownAction(element) {
    if (!element || choices.indexOf(element.id) >= 0) return false;
    return ["BUTTON", "A", "SUMMARY"].indexOf(element.tagName) >= 0;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = (event.key || "").toLowerCase();
    var id = keys[key];
    if (!id) return;
    if (key === "enter" && (event.shiftKey || ownAction(event.target))) return;
    var button = document.getElementById(id);
    if (!button || button.disabled || button.offsetParent === null) return;
    event.preventDefault();
    button.click();
  });
})();
</script>
"""

CSS = """
.gradio-container { max-width: 1440px !important; }
#review-header { align-items: end; }
#progress { text-align: right; }
#notice p { font-weight: 600; }
.conversation { display: flex; flex-direction: column; gap: 8px; }
.conversation .turn { border-left: 4px solid var(--border-color-primary); padding: 4px 12px; }
.conversation .turn-user { border-left-color: var(--color-accent); }
.conversation .turn-role { font-size: 0.8rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: 0.04em; opacity: 0.7; }
#answers { gap: 16px; }
#topbar { align-items: center; flex-wrap: wrap; }
#whoami { text-align: right; }
.logout-form { display: inline-block; margin-left: 12px; }
.logout-form button { padding: 4px 12px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill);
  color: var(--button-secondary-text-color); font-size: 0.9rem; }
#key-hint { font-size: 0.85rem; opacity: 0.75; }
.answer-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 12px 16px; background: var(--background-fill-secondary); height: 100%;
  box-sizing: border-box; }
.answer-label { font-size: 1.4rem; font-weight: 800; }
.answer-body { overflow-wrap: anywhere; line-height: 1.55; }
.prompt-reference { border: 1px dashed var(--border-color-primary); border-radius: 8px; padding: 8px 14px; }
.prompt-reference summary { font-weight: 700; cursor: pointer; }
.answer-body pre { overflow-x: auto; padding: 10px; border-radius: 6px;
  background: var(--background-fill-primary); border: 1px solid var(--border-color-primary); }
.answer-body code { font-family: var(--font-mono); font-size: 0.9em; white-space: pre; }
.answer-body p code { white-space: pre-wrap; }
.answer-body table { border-collapse: collapse; }
.answer-body th, .answer-body td { border: 1px solid var(--border-color-primary); padding: 2px 8px; }
.answer-empty { min-height: 2em; }
#vote-buttons button { min-height: 52px; font-size: 1rem; }
#vote-buttons button.chosen { box-shadow: 0 0 0 3px var(--color-accent-soft), 0 0 0 5px var(--color-accent); }
#vote-buttons button.chosen::before { content: "\\2713\\00a0"; }
#submit-row { align-items: center; gap: 16px; }
#form-state, #choice, #draft-key { display: none !important; }
#submit-vote { min-height: 52px; font-size: 1.05rem; }
/* Gradio paints a hovered radio white, its dot too: a chosen strength under the mouse looked unchosen. */
#strength input[type=radio]:checked:hover { background-color: var(--checkbox-background-color-selected);
  border-color: var(--checkbox-border-color-selected); }
@media (max-width: 720px) {
  #answers { flex-direction: column; }
  #answers > * { min-width: 100% !important; }
  #vote-buttons > button { min-width: calc(50% - 8px) !important; flex: 1 1 calc(50% - 8px); }
  #key-hint { display: none; }
  #topbar > #title { flex: 1 1 100% !important; }
  #whoami { text-align: left; }
}
"""


# Logging out is a POST (from this page's origin), never a link.
LOGOUT_FORM = ('<form method="post" action="logout" id="logout" class="logout-form">'
               '<button type="submit">Log out</button></form>')


def auth_message(settings: Settings) -> str:
    """What the login page says, with this server's limits."""
    return (f"Sign in with the reviewer account you were given. After "
            f"{settings.login_failures_per_name} failed attempts, sign-in is paused for "
            f"{settings.login_pause_minutes:g} minutes.")


def build_page(ctx: AppContext) -> gr.Blocks:
    """The page (``gr.Blocks``): the Review, Dashboard and Admin tabs, filled after login."""
    from apps.admin import build_admin_tab
    from apps.dashboard import build_dashboard_tab
    from apps.reviewer import build_review_tab, no_study_screen

    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        with gr.Row(elem_id="topbar", equal_height=False):
            gr.Markdown(f"### {TITLE}: which answer is better?", elem_id="title")
            whoami = gr.HTML("", elem_id="whoami", js_on_load=None)
        # Every tab is hidden until the login says the role and the studies (a tab can be
        # shown by an update, not hidden again); their content arrives only from callbacks
        # that check the role again.
        with gr.Tabs() as tabs:
            with gr.Tab("Review", id="review", visible=False) as review_tab:
                review = build_review_tab(ctx)
            with gr.Tab("Dashboard", id="dashboard", visible=False) as dashboard_tab:
                dashboard = build_dashboard_tab(ctx)
            with gr.Tab("Admin", id="admin", visible=False) as admin_tab:
                admin = build_admin_tab(ctx)

        @user_errors
        def on_load(request: gr.Request) -> tuple:
            from review.auth.permissions import may
            from review.campaign.membership import reviewer_studies

            with ctx.account(request) as (session, reviewer):
                labels = [c.label for c in reviewer_studies(session=session, reviewer=reviewer)]
                role = reviewer.role
                whoami_text = (f"<span>Signed in as <strong>{html.escape(reviewer.name)}</strong> "
                               f"({html.escape(role)})</span> {LOGOUT_FORM}")
            screen = review["open_study"](labels[0], request) if labels else no_study_screen()
            analyst, admin_role = may(role, "view_results"), may(role, "administer")
            # An analyst or admin who reviews nothing starts on the dashboard, with no empty
            # Review tab; a reviewer on no study is told so on the Review tab.
            reviews = bool(labels) or not analyst
            selected = gr.skip() if reviews else gr.Tabs(selected="dashboard")
            return (whoami_text, gr.Dropdown(choices=labels, value=labels[0] if labels else None,
                                             visible=bool(labels)),
                    selected, gr.Tab(visible=reviews), gr.Tab(visible=analyst),
                    gr.Tab(visible=admin_role),
                    *dashboard["on_login"](role, request), *admin["on_login"](role, request),
                    *screen)

        page.load(on_load, None,
                  [whoami, review["study"], tabs, review_tab, dashboard_tab, admin_tab,
                   *dashboard["login_outputs"], *admin["login_outputs"], *review["screen"]],
                  api_name="ui_load", api_visibility="private", queue=False)
    page.max_threads = MAX_THREADS
    quiet_idle_queue(page)
    return page


def quiet_idle_queue(page: gr.Blocks) -> None:
    """Every event of the page is one plain request (``queue=False``), answered at once by
    whichever replica gets it: Gradio's queue stays idle, yet looks for new events every
    millisecond and for progress every 10 ms (4% of a core per process). Look less often.

    Gradio's queue has no public setting for this: the attributes are checked by a test, and
    Gradio is pinned to the minor release they were read from (pyproject.toml).
    """
    queue = page._queue
    queue.sleep_when_free = QUEUE_POLL_SECONDS
    queue.progress_update_sleep_when_free = PROGRESS_POLL_SECONDS


def _theme() -> Any:
    # System fonts: the page loads nothing from outside the server.
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


@dataclass
class WebApp:
    """The server's ASGI application (``asgi``) and its parts; :func:`launch` serves it."""

    asgi: Any
    api: Any  # the FastAPI app
    page: gr.Blocks
    review_context: AppContext
    server: Any = None  # the uvicorn server, once launched
    thread: threading.Thread | None = None

    def close(self) -> None:
        """Stop serving (when launched with ``block=False``) and release the database."""
        if self.server is not None:
            self.server.should_exit = True
            if self.thread is not None:
                self.thread.join(timeout=30)
            self.server = self.thread = None
        self.page.close(verbose=False)
        self.review_context.close()


def build_app(settings: Settings) -> WebApp:
    """The web app for ``settings``; serve it with :func:`launch`.

    The engine is made here, from ``settings``; nothing is shared between apps.
    """
    from fastapi import FastAPI

    from apps.api import add_api
    from apps.login import login_page, login_router
    from apps.render import code_css
    from apps.security import ACCOUNT_KEY, SecurityMiddleware

    ctx = AppContext.from_settings(settings)
    page = build_page(ctx)
    api = FastAPI(title=TITLE, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_thread_limit)
    api.include_router(login_router(ctx))
    add_api(api, ctx)

    def page_account(request: Any) -> str | None:
        return request.scope.get(ACCOUNT_KEY)

    gr.mount_gradio_app(api, page, path="/", auth_dependency=page_account, show_error=False,
                        ssr_mode=False, mcp_server=False, run_history=False, footer_links=[],
                        theme=_theme(), css=CSS + "\n" + DASHBOARD_CSS + "\n" + code_css(),
                        head=KEYBOARD_SCRIPT)
    asgi = SecurityMiddleware(api, account_of=ctx.account_name,
                              login_page=login_page(TITLE, auth_message(settings)),
                              allowed_origins=settings.allowed_origins)
    return WebApp(asgi=asgi, api=api, page=page, review_context=ctx)


@asynccontextmanager
async def _thread_limit(_: Any) -> Any:
    """Handlers that wait on the database run in worker threads: as many as the page's."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = MAX_THREADS
    yield


def launch(app: WebApp, *, host: str, port: int, block: bool = True, quiet: bool = True) -> str:
    """Serve an app from :func:`build_app` with uvicorn; returns its local URL.

    ``block=False`` returns once the server is up (for tests and embedding); the client's
    address is the peer's, or a trusted proxy's ``X-Forwarded-For`` (uvicorn trusts 127.0.0.1
    and ``FORWARDED_ALLOW_IPS``), and so is the scheme (``X-Forwarded-Proto``).
    """
    import uvicorn

    config = uvicorn.Config(app.asgi, host=host, port=port, log_level="warning" if quiet else "info",
                            access_log=False, proxy_headers=True, timeout_keep_alive=5, lifespan="on")
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}/"
    if block:
        app.server = server
        server.run()
        return url
    app.server = server
    app.thread = threading.Thread(target=server.run, name="review-serve", daemon=True)
    app.thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not app.thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.02)
    return url


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Build the app and serve it until interrupted (``review serve``)."""
    app = build_app(settings)
    host, port = host or settings.host, port or settings.port
    print(f"Serving on http://{host}:{port}/ (API: /api/v1, docs for analysts: /api/v1/docs)")
    try:
        launch(app, host=host, port=port, block=True, quiet=False)
    finally:
        app.review_context.close()
