"""The analyst dashboard (analysts and admins): live progress, a study's results, downloads.

* Progress of every study (items, judgments, items × overlap, share done), refreshed by a
  button and every :data:`PROGRESS_SECONDS` by a timer that only an analyst's page starts.
* For a chosen study, the views of the HTML report, from the same data and figure builders
  (:mod:`review.reporting.report`): verdict with reasons (and the boilerplate stripped from
  answers, if any), win rate overall and per category (guardrail categories marked with their
  threshold and status), votes, agreement, position and length bias, ratings, and the
  reviewers table with a warning for each flagged reviewer.
* Downloads: links to the HTML report and each export format of
  :mod:`review.interchange.exports`, served by the API (``/api/v1/studies/{study}/report`` and
  ``.../export``) to signed-in analysts and admins only, streamed, with no file left behind.

Roles are enforced on the server: every callback looks the account up again from
``gr.Request`` and refuses anyone but analysts and admins. The tab is hidden from other
accounts for convenience only. Nothing of a study is in the page's config: the
components start empty and are filled by callbacks after login.

Scripts use the JSON API instead (``GET /api/v1/studies/{study}/analysis``, :mod:`apps.api`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import gradio as gr

from apps.context import AppContext, user_errors
from apps.dashboard_views import (
    REVIEWER_COLUMNS,
    agreement_facts,
    bias_facts,
    category_table,
    judge_facts_html,
    progress_table,
    reviewer_rows,
    reviewer_warnings,
    study_header,
    summary_cards,
)
from review.auth.permissions import may
from review.interchange.exports import FORMATS as EXPORT_FORMATS
from review.reporting.runner import DEFAULT_BOOTSTRAP, MAX_BOOTSTRAP, MIN_BOOTSTRAP

PROGRESS_SECONDS = 30.0
PLOTS = ("win_rate", "votes", "ratings", "agreement", "position_bias", "length_bias")
# Plots in two columns are half as wide as in the report: give them room to breathe.
MIN_PLOT_HEIGHT = 360
EXPORT_HELP = ("jsonl, csv and parquet: one row per judgment with prompt, answers, models and "
               "reviewer; mtbench: the <code>import-judgments</code> format; dpo: preference pairs "
               "from each item's majority vote.")


def download_links(study: str, rounds: int) -> str:
    """Links to the study's report and exports (the API's routes, relative to the page)."""
    import html

    base = f"api/v1/studies/{quote(study, safe='')}"
    exports = " · ".join(f'<a href="{base}/export?format={fmt}" download>{fmt}</a>'
                         for fmt in EXPORT_FORMATS)
    return (f'<p><a href="{base}/report?bootstrap={rounds}" download>Download the HTML report of '
            f'{html.escape(study)}</a> ({rounds} bootstrap rounds)</p>'
            f'<p>Download the judgments: {exports}</p><p class="dash-muted">{EXPORT_HELP}</p>')


def build_dashboard_tab(ctx: AppContext) -> dict[str, Any]:
    """Create the dashboard's components and events; returns what server.py wires on login."""
    with gr.Row(equal_height=True, elem_id="dashboard-progress-head"):
        gr.Markdown("### Collection progress")
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=100, elem_id="dashboard-refresh")
    table = gr.HTML("", elem_id="dashboard-table", js_on_load=None)
    timer = gr.Timer(PROGRESS_SECONDS, active=False)

    gr.Markdown("### Results of a study")
    with gr.Row(equal_height=False, elem_id="dashboard-controls"):
        study = gr.Dropdown(label="Study", choices=[], value=None, allow_custom_value=True,
                            interactive=True, scale=3, min_width=240, elem_id="dashboard-study")
        show = gr.Button("Show results", variant="primary", scale=0, min_width=160,
                         elem_id="dashboard-show")
    with gr.Accordion("Options", open=False, elem_id="dashboard-options"):
        rounds = gr.Number(DEFAULT_BOOTSTRAP, label="Bootstrap rounds (more: steadier intervals, slower)",
                           precision=0, minimum=MIN_BOOTSTRAP, maximum=MAX_BOOTSTRAP, step=100,
                           min_width=140, elem_id="dashboard-rounds")
    with gr.Accordion("Download the report or the judgments", open=False, elem_id="dashboard-downloads"):
        downloads = gr.HTML("<p class='dash-muted'>Choose a study and show its results first.</p>",
                            js_on_load=None, elem_id="dashboard-download-links")

    with gr.Column(visible=False, elem_id="dashboard-results") as results:
        header = gr.HTML("", js_on_load=None, elem_id="dashboard-header")
        cards = gr.HTML("", js_on_load=None, elem_id="dashboard-cards")
        plots = {"win_rate": gr.Plot(show_label=False, elem_id="plot-win-rate")}
        categories = gr.HTML("", js_on_load=None, elem_id="dashboard-categories")
        with gr.Row(equal_height=False):
            plots["votes"] = gr.Plot(show_label=False, elem_id="plot-votes", min_width=380)
            plots["ratings"] = gr.Plot(show_label=False, elem_id="plot-ratings", min_width=380)
        gr.Markdown("#### Agreement between reviewers")
        with gr.Row(equal_height=False):
            agreement = gr.HTML("", js_on_load=None, elem_id="dashboard-agreement", min_width=380)
            plots["agreement"] = gr.Plot(show_label=False, elem_id="plot-agreement", min_width=380)
        gr.Markdown("#### Position and length bias")
        bias = gr.HTML("", js_on_load=None, elem_id="dashboard-bias")
        with gr.Row(equal_height=False):
            plots["position_bias"] = gr.Plot(show_label=False, elem_id="plot-position", min_width=380)
            plots["length_bias"] = gr.Plot(show_label=False, elem_id="plot-length", min_width=380)
        gr.Markdown("#### Model judge")
        judge = gr.HTML("", js_on_load=None, elem_id="dashboard-judge")
        gr.Markdown("#### Reviewers")
        gr.Markdown("Agreement with the majority compares each vote with the most common vote of "
                    "the other reviewers of the item; gold accuracy is over the attention checks.",
                    elem_classes="dash-muted")
        flags = gr.HTML("", js_on_load=None, elem_id="dashboard-reviewer-flags")
        reviewers = gr.Dataframe(headers=REVIEWER_COLUMNS, datatype="str", interactive=False,
                                 wrap=True, max_height=420, elem_id="dashboard-reviewers")

    @user_errors
    def show_progress(request: gr.Request) -> str:
        from review.campaign.progress import study_progress

        with ctx.account(request, action="view_results") as (session, _):
            return progress_table(study_progress(session=session))

    @user_errors
    def refresh_all(request: gr.Request) -> tuple:
        from review.campaign.progress import study_progress

        with ctx.account(request, action="view_results") as (session, _):
            rows = study_progress(session=session)
        return progress_table(rows), gr.Dropdown(choices=[row.study for row in rows])

    @user_errors
    def show_study(name: str | None, n_rounds: float | None, request: gr.Request) -> tuple:
        from review.reporting.figures import report_figures

        wanted = ctx.analysis_key(request, kind="report_data", study=name, n_bootstrap=n_rounds)
        data = ctx.analyses.submit(account=request.username, key=wanted).result()
        figures = report_figures(data)
        for key in PLOTS[1:]:
            if key in figures and (figures[key].layout.height or 0) < MIN_PLOT_HEIGHT:
                figures[key].update_layout(height=MIN_PLOT_HEIGHT)
        return (gr.Column(visible=True), study_header(data), summary_cards(data),
                *(gr.Plot(value=figures.get(key), visible=key in figures) for key in PLOTS),
                category_table(data), agreement_facts(data), bias_facts(data),
                judge_facts_html(data), reviewer_warnings(data),
                gr.Dataframe(value=reviewer_rows(data) or None, headers=REVIEWER_COLUMNS),
                download_links(data["study"]["name"], wanted.n_bootstrap))

    events = {"api_visibility": "private", "queue": False}
    refresh.click(refresh_all, None, [table, study], api_name="dashboard_refresh", **events)
    timer.tick(show_progress, None, table, api_name="dashboard_progress", show_progress="hidden",
               **events)
    study_outputs = [results, header, cards, *(plots[key] for key in PLOTS), categories, agreement,
                     bias, judge, flags, reviewers, downloads]
    gr.on([show.click, study.input], show_study, [study, rounds], study_outputs,
          api_name="dashboard_study", **events)

    def on_login(role: str, request: gr.Request) -> list[Any]:
        """Values for :data:`login_outputs` when the page loads: filled only for analysts."""
        if not may(role, "view_results"):
            return [gr.skip() for _ in login_outputs]
        table_html, choices = refresh_all(request)  # checks the role again
        names = [c[0] if isinstance(c, tuple) else c for c in choices.choices or []]
        # The newest study is chosen already: "Show results" works at once.
        return [table_html, gr.Dropdown(choices=names, value=names[-1] if names else None),
                gr.Timer(active=True)]

    login_outputs = [table, study, timer]
    return {"login_outputs": login_outputs, "on_login": on_login, "show_progress": show_progress}
