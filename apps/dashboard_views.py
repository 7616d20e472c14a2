"""HTML and table rows of the analyst dashboard, from :func:`review.reporting.report.build_report_data`.

Pure formatting: no database, no Gradio. A study's sections are the report's own section
templates (:mod:`review.reporting.sections`) with the dashboard's class names, so a section
reads the same in both; jinja2 escapes every piece of user text in them, and the progress table
escapes its own here. The plots escape their own labels (:mod:`review.reporting.report`).
"""

from __future__ import annotations

import html
from typing import Any

from review.reporting.formatters import pct
from review.reporting.sections import SectionStyle, render_section

PROGRESS_COLUMNS = ("Study", "Status", "Overlap", "Items", "Gold items", "Judgments",
                    "Needed (items × overlap)", "Still to collect", "Done", "Reviewers")
REVIEWER_COLUMNS = ["Reviewer", "Judgments", "Gold items", "Median time per judgment",
                    "Agreement with majority", "Gold accuracy", "Left rate", "Flags"]
# The report's sections with the class names DASHBOARD_CSS styles.
STYLE = SectionStyle(
    sub="dash-sub", notice="dash-notice", notice_id=None, verdict="dash-verdict",
    verdict_variant="dash-verdict-", verdict_id="dash-verdict", verdict_word="dash-verdict-word",
    verdict_upper=False, more="dash-more", method="dash-more", checks="dash-checks",
    check="dash-check dash-check-", check_mark="dash-check-mark", cards="dash-cards",
    card="dash-card", card_label="dash-card-label", card_value="dash-card-value",
    card_detail="dash-card-detail", categories="dash-table dash-categories",
    guardrail="dash-guardrail", guard="dash-guard-", facts="dash-facts", muted="dash-muted",
    empty="dash-empty", warning="dash-warning")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _section(name: str, data: dict[str, Any]) -> str:
    # Quotes as html.escape writes them (&#x27;, &quot;), like every other piece of the page.
    return render_section(name, data, STYLE).replace("&#39;", "&#x27;").replace("&#34;", "&quot;")


# --------------------------------------------------------------------------- progress


def progress_table(rows: list[Any]) -> str:
    """Study progress rows (:class:`review.campaign.progress.StudyProgress`) as an HTML table.

    "Needed" is items × overlap, "still to collect" the judgments regular items still
    lack (an item judged more than k times does not make up for another), and "done" the
    share collected.
    """
    if not rows:
        return '<p class="dash-empty">No studies yet.</p>'
    head = "".join(f'<th class="num">{_e(c)}</th>' if i >= 2 else f"<th>{_e(c)}</th>"
                   for i, c in enumerate(PROGRESS_COLUMNS))
    body = []
    for r in rows:
        target, done = r.target, r.share_done
        bar = ("" if done is None else
               f'<div class="dash-bar"><span style="width:{100 * done:.1f}%"></span></div>')
        cells = [f"<td>{_e(r.study)}</td>",
                 f'<td><span class="dash-status dash-status-{_e(r.status)}">{_e(r.status)}</span></td>',
                 *(f'<td class="num">{_e(v)}</td>' for v in (r.overlap, r.items, r.gold_items,
                                                           r.judgments, target, r.needed)),
                 f'<td class="num dash-done">{pct(done, 0)}{bar}</td>',
                 f'<td class="num">{_e(r.reviewers)}</td>']
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="dash-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


# --------------------------------------------------------------------------- one study


def study_header(data: dict[str, Any]) -> str:
    """Who is compared, on what, with how many judgments; then the verdict with its reasons."""
    return (f'<div class="dash-study"><h3>{_e(data["study"]["name"])}</h3>'
            f'{_section("study_facts", data)}</div>{_section("verdict", data)}')


def summary_cards(data: dict[str, Any]) -> str:
    """Headline numbers: win rate, decisive votes, agreement, both-bad share."""
    return _section("summary_cards", data)


def category_table(data: dict[str, Any]) -> str:
    """Win rate per category, guardrail categories marked with their threshold and status."""
    return _section("category_table", data)


def reviewer_warnings(data: dict[str, Any]) -> str:
    """A warning for each reviewer whose figures break a quality rule (see the Flags column)."""
    return _section("reviewer_warnings", data)


def agreement_facts(data: dict[str, Any]) -> str:
    """Alpha (nominal, ordinal), Fleiss' kappa and percent agreement."""
    return _section("agreement_facts", data)


def bias_facts(data: dict[str, Any]) -> str:
    """Position bias, length bias, and whether the answers give their models away."""
    return "".join(_section(name, data) for name in ("position_facts", "length_facts",
                                                     "identifiability_facts"))


def judge_facts_html(data: dict[str, Any]) -> str:
    """The model judges' agreement with people and the prediction-powered win rate."""
    return _section("judge_facts", data)


def reviewer_rows(data: dict[str, Any]) -> list[list[Any]]:
    """One row per reviewer for the reviewers table (plain values, shown as text)."""
    rows = []
    for row in data["analysis"].get("reviewers") or []:
        seconds = row.get("median_seconds")
        rows.append([
            row["reviewer"], row["n"], row["n_gold"],
            "n/a" if seconds is None else f"{seconds:.1f} s",
            f"{pct(row.get('loo_majority_agreement'), 0)} (n={row.get('n_loo', 0)})",
            pct(row.get("gold_accuracy"), 0), pct(row.get("left_rate"), 0),
            "; ".join(row.get("flags") or []) or "-",
        ])
    return rows


DASHBOARD_CSS = """
#dashboard-table, #dashboard-header, #dashboard-cards { overflow-x: auto; max-width: 100%; }
@media (max-width: 720px) {
  .dash-table { font-size: 0.85rem; }
  .dash-table th, .dash-table td { padding: 4px 6px; }
}
.dash-table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
.dash-table th, .dash-table td { border-bottom: 1px solid var(--border-color-primary);
  padding: 5px 10px; text-align: left; vertical-align: middle; }
.dash-table th { font-weight: 600; background: var(--background-fill-secondary); }
.dash-table td.num, .dash-table th.num { text-align: right; font-variant-numeric: tabular-nums; }
.dash-done { min-width: 90px; }
.dash-bar { height: 6px; border-radius: 3px; background: var(--border-color-primary); margin-top: 3px;
  overflow: hidden; }
.dash-bar span { display: block; height: 100%; background: #2e7d32; }
.dash-status { padding: 1px 8px; border-radius: 999px; font-size: 0.8rem; font-weight: 600;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.dash-status-active { color: #2e7d32; }
.dash-status-paused { color: #b26a00; }
.dash-status-closed { opacity: 0.7; }
.dash-study h3 { margin: 4px 0 2px; overflow-wrap: anywhere; }
.dash-sub { margin: 2px 0; opacity: 0.8; font-size: 0.9rem; overflow-wrap: anywhere; }
.dash-verdict { border-radius: 8px; padding: 12px 18px; margin: 10px 0; border-left: 8px solid #757575;
  background: var(--background-fill-secondary); }
.dash-checks { border-collapse: collapse; margin-top: 6px; font-size: 0.9rem; }
.dash-checks td { padding: 1px 10px 1px 0; border: 0 !important; background: transparent !important; }
.dash-check td:first-child { font-weight: 700; text-transform: uppercase; font-size: 0.75rem; }
.dash-check-pass td:first-child { color: #2e7d32; }
.dash-check-fail td:first-child { color: #c62828; }
.dash-check-not_yet td:first-child { color: #b26a00; }
.dash-verdict-ship { border-left-color: #2e7d32; background: rgba(46, 125, 50, 0.10); }
.dash-verdict-do_not_ship { border-left-color: #c62828; background: rgba(198, 40, 40, 0.10); }
.dash-verdict-inconclusive { border-left-color: #b26a00; background: rgba(178, 106, 0, 0.10); }
.dash-verdict-word { font-size: 1.5rem; font-weight: 800; letter-spacing: 0.02em; }
.dash-verdict ul { margin: 6px 0 0 1.2em; padding: 0; }
.dash-more { margin-top: 6px; font-weight: 600; }
.dash-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
.dash-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px; }
.dash-card-label { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; opacity: 0.7; }
.dash-card-value { font-size: 1.6rem; font-weight: 700; }
.dash-card-detail { font-size: 0.85rem; opacity: 0.8; }
.dash-facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 16px;
  margin: 8px 0; }
.dash-facts dt { opacity: 0.75; }
.dash-facts dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.dash-muted { opacity: 0.7; }
/* The bias facts are three lists (position, length, identifiability): one label column. */
@media (min-width: 721px) {
  #dashboard-bias .dash-facts { grid-template-columns: 22em minmax(0, 1fr); }
}
#dashboard-controls, #admin-new-account, #admin-assign-row { align-items: flex-end; }
#dashboard-controls > button, #admin-new-account > button, #admin-assign-row > button {
  flex-grow: 0; margin-bottom: 2px; }
#dashboard-reviewers *, #admin-accounts * { font-family: var(--font) !important; }
.dash-empty { opacity: 0.7; font-style: italic; }
.dash-notice { margin: 6px 0 0; padding: 6px 10px; border-left: 4px solid #b26a00;
  background: var(--background-fill-secondary); overflow-wrap: anywhere; font-size: 0.9rem; }
.dash-warning { margin: 6px 0; padding: 8px 12px; border-left: 6px solid #c62828;
  background: rgba(198, 40, 40, 0.08); overflow-wrap: anywhere; }
.dash-warning ul { margin: 4px 0 0 1.2em; padding: 0; }
.dash-guardrail { padding: 0 6px; border-radius: 999px; font-size: 0.75rem; font-weight: 600;
  border: 1px solid var(--border-color-primary); }
.dash-guard-pass { color: #2e7d32; font-weight: 600; }
.dash-guard-fail { color: #c62828; font-weight: 700; }
.dash-guard-not_yet, .dash-guard-none { color: #b26a00; font-weight: 600; }
#dashboard-categories { overflow-x: auto; max-width: 100%; }
@media (max-width: 720px) {
  .dash-categories td, .dash-categories th { white-space: nowrap; }
  .dash-facts { grid-template-columns: minmax(0, 1fr); gap: 0; }
  .dash-facts dd { margin-bottom: 8px; }
}
/* Plotly's toolbar sits over the figures' titles: the dashboard shows figures, hover still works. */
#dashboard-results .modebar-container { display: none !important; }
"""
