"""The analyst dashboard: collection progress per study (analysts and admins only).

A placeholder for the reports: counts only. The role is checked on the server in every
callback; hiding the tab from reviewers is a convenience, not the protection.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors

ANALYST_ROLES = ("analyst", "admin")
COLUMNS = ("Study", "Status", "Overlap", "Items", "Gold items", "Judgments", "Still needed", "Reviewers")


def progress_table(rows: list[Any]) -> str:
    """Study progress rows (:class:`review.assignment.StudyProgress`) as an HTML table."""
    if not rows:
        return "<p>No studies yet.</p>"
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r.study, r.status, r.overlap, r.items, r.gold_items, r.judgments, r.needed, r.reviewers))
        + "</tr>" for r in rows)
    return f'<table class="progress-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def build_dashboard_tab(ctx: AppContext) -> dict[str, Any]:
    gr.Markdown("### Collection progress")
    table = gr.HTML("", elem_id="dashboard-table", js_on_load=None)
    refresh = gr.Button("Refresh", size="sm", elem_id="dashboard-refresh")

    @user_errors
    def show_progress(request: gr.Request) -> str:
        from review.assignment import study_progress

        with ctx.account(request, roles=ANALYST_ROLES) as (session, _):
            return progress_table(study_progress(session=session))

    refresh.click(show_progress, None, table, api_name="ui_dashboard", api_visibility="private")
    return {"table": table, "show_progress": show_progress}
