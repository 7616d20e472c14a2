"""The web server behind ``review serve``: login, the reviewer app, the analyst dashboard, admin.

* Login: ``POST /login`` with form fields ``username`` and ``password`` logs in browsers
  and API clients alike (:mod:`apps.login`, Gradio's contract, checking the reviewers
  table with :func:`review.auth.accounts.authenticate`); failed attempts are limited per
  account and per client address, and a session lasts ``session_hours`` (12 by default);
  ``POST /logout`` logs out. :mod:`apps.security` sets the web defaults: same-origin only
  (``REVIEW_ALLOWED_ORIGINS`` for more), no framing, no token, upload or monitoring routes.
* Authorization: every callback reads the account from ``gr.Request.username`` and checks
  it again (active, role, study membership, assignment ownership) in ``review.*``. The
  Dashboard tab (analysts, admins) and the Admin tab (admins) are shown by role after login,
  but hiding them is a convenience: their callbacks refuse any other role.
* Blinding: the page, its config and every response a reviewer gets carry answers as
  "A"/"B" text and assignments as random opaque ids, never a model name, path or database
  id. (Analysts and admins are not blind: the dashboard names the models.)

Example::

    from review.core.config import Settings
    serve(Settings(database_url="sqlite:///review.db"), host="127.0.0.1", port=7860)
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors
from apps.dashboard_views import DASHBOARD_CSS
from review.core.config import Settings

TITLE = "Blind review"
# Events of one kind that may run at once when a client joins Gradio's queue itself (the
# page's own events run without it, see build_app); the database serialises what must be.
CONCURRENCY_LIMIT = 32
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
.reference { border: 1px dashed var(--border-color-primary); border-radius: 8px; padding: 8px 14px; }
.reference summary { font-weight: 700; cursor: pointer; }
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
    """What the login form says, with this server's limits."""
    return (f"Sign in with the reviewer account you were given. After "
            f"{settings.login_failures_per_name} failed attempts, sign-in is paused for "
            f"{settings.login_pause_minutes:g} minutes.")


def make_auth(ctx: AppContext) -> Callable[[str, str], Any]:
    """The ``auth=`` callable that tells Gradio the app needs a login.

    Logins go through :mod:`apps.login` (the throttle and database sessions); this check of
    the reviewers table is what Gradio's own route would use, were it ever reached.
    """

    async def check(username: str, password: str) -> bool:
        import anyio

        from review.auth.accounts import authenticate

        def valid() -> bool:
            with ctx.session() as session:
                return authenticate(session=session, name=username, password=password) is not None

        return await anyio.to_thread.run_sync(valid)

    return check


def build_app(settings: Settings) -> gr.Blocks:
    """The Gradio app (``gr.Blocks``) for ``settings``; launch it with :func:`launch`.

    The engine is made here, from ``settings``; nothing is shared between apps.
    """
    from apps.admin import build_admin_tab
    from apps.api import build_api
    from apps.dashboard import DownloadFolder, build_dashboard_tab
    from apps.render import code_css
    from apps.reviewer import build_review_tab, no_study_screen

    ctx = AppContext.from_settings(settings)
    downloads = DownloadFolder()
    # Gradio's copies of downloaded files (reports, exports) are deleted after an hour.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
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
                dashboard = build_dashboard_tab(ctx, downloads)
            with gr.Tab("Admin", id="admin", visible=False) as admin_tab:
                admin = build_admin_tab(ctx)
        build_api(ctx)

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

        app.load(on_load, None,
                 [whoami, review["study"], tabs, review_tab, dashboard_tab, admin_tab,
                  *dashboard["login_outputs"], *admin["login_outputs"], *review["screen"]],
                 api_name="ui_load", api_visibility="private")
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT)
    # Every event of the page is one plain request, answered at once by whichever replica
    # gets it: no queue, no event stream, no state kept in a server process.
    for dependency in app.fns.values():
        dependency.queue = False
    # Gradio's queue, idle now, still looks for new events every millisecond and for progress
    # to report every 10 ms: 4% of a core per process. QUEUE_POLL_SECONDS is soon enough
    # for anything queued; the app reports no progress bars.
    queue = getattr(app, "_queue", None)
    if hasattr(queue, "sleep_when_free") and hasattr(queue, "progress_update_sleep_when_free"):
        queue.sleep_when_free = QUEUE_POLL_SECONDS
        queue.progress_update_sleep_when_free = PROGRESS_POLL_SECONDS
    app.review_context = ctx  # the engine travels with the app, for launch() and shutdown
    app.review_downloads = downloads  # removed with the app
    app.review_css = CSS + "\n" + DASHBOARD_CSS + "\n" + code_css()
    return app


def _theme() -> Any:
    # System fonts: the page loads nothing from outside the server.
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


def launch(app: Any, *, host: str, port: int, block: bool = True, quiet: bool = True) -> str:
    """Start the server for an app from :func:`build_app`; returns its local URL.

    ``block=False`` returns once the server is up (for tests and embedding).
    """
    from apps.login import make_server_app

    ctx = app.review_context
    _, url, _ = app.launch(
        _app=make_server_app(ctx), server_name=host, server_port=port, auth=make_auth(ctx),
        auth_message=auth_message(ctx.settings), prevent_thread_lock=not block, quiet=quiet, show_error=False,
        ssr_mode=False, mcp_server=False, run_history=False, footer_links=[],
        max_threads=64, css=app.review_css, head=KEYBOARD_SCRIPT, theme=_theme(),
    )
    return url


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Build the app and serve it until interrupted (``review serve``)."""
    app = build_app(settings)
    try:
        launch(app, host=host or settings.host, port=port or settings.port, block=True, quiet=False)
    finally:
        app.review_context.database.dispose()
        app.review_downloads.close()
