"""HTML and table rows of the analyst dashboard, from :func:`review.reporting.report.build_report_data`.

Pure formatting: no database, no Gradio. Every piece of user text (study, model, reviewer
and category names, verdict reasons) is escaped here; the plots escape their own labels
(:mod:`review.reporting.report`).
"""

from __future__ import annotations

import html
from typing import Any

from review.reporting.formatters import (
    CHECK_MARKS,
    boilerplate_lines,
    category_rows,
    check_line,
    guardrail_text,
    identifiability_facts,
    interval_name,
    judge_facts,
    num,
    p_value,
    pct,
)

PROGRESS_COLUMNS = ("Study", "Status", "Overlap", "Items", "Gold items", "Judgments",
                    "Needed (items × overlap)", "Still to collect", "Done", "Reviewers")
REVIEWER_COLUMNS = ["Reviewer", "Judgments", "Gold items", "Median time per judgment",
                    "Agreement with majority", "Gold accuracy", "Left rate", "Flags"]
VERDICT_WORDS = {"ship": "Ship", "do_not_ship": "Do not ship", "inconclusive": "Inconclusive"}


def _e(value: Any) -> str:
    return html.escape(str(value))


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
    study, analysis = data["study"], data["analysis"]
    decision = analysis.get("decision") or {}
    verdict = decision.get("verdict")
    if study.get("candidate"):
        pair = (f"candidate <strong>{_e(study['candidate'])}</strong> vs baseline "
                f"<strong>{_e(study['baseline'])}</strong>")
    else:
        pair = "several model pairs"
    facts = [pair, f"{analysis['n_items']} items", f"{analysis['n_judgments']} judgments",
             f"{analysis['n_reviewers']} reviewers", f"status {_e(study['status'])}"]
    if study.get("prompt_set"):
        facts.append(f"prompt set {_e(study['prompt_set'])}")
    reasons = "".join(f"<li>{_e(reason)}</li>" for reason in decision.get("reasons") or [])
    more = decision.get("additional_judgments_needed")
    more_html = (f'<div class="dash-more">About {int(more)} more judgments would likely settle it.</div>'
                 if more else "")
    if verdict:
        method = ("Anytime-valid: holds however often you look" if decision.get("method") == "anytime"
                  else "One planned look (fixed method)")
        more_html += (f'<div class="dash-more">{method}.'
                      + (" <strong>Settled: stop collecting.</strong>" if decision.get("settled") else "")
                      + "</div>")
        rows = "".join(
            f'<tr class="dash-check dash-check-{_e(c["status"])}"><td>{_e(CHECK_MARKS[c["status"]])}</td>'
            f"<td>{_e(check_line(c))}</td></tr>" for c in decision.get("checks") or [])
        more_html += '<table class="dash-checks">' + rows + "</table>"
    confidence = round(100 * (analysis.get("thresholds") or {}).get("confidence", 0.95))
    stripped = "".join(f'<p class="dash-notice">Boilerplate stripped: {_e(line)}.</p>'
                       for line in boilerplate_lines(analysis))
    return (f'<div class="dash-study"><h3>{_e(study["name"])}</h3>'
            f'<p class="dash-sub">{" &middot; ".join(facts)}</p>'
            f'<p class="dash-sub">{analysis["n_bootstrap"]} bootstrap rounds, seed {analysis["seed"]}, '
            f"{confidence}% intervals &middot; computed {_e(data['generated_at'])}</p>{stripped}</div>"
            f'<div id="dash-verdict" class="dash-verdict dash-verdict-{_e(verdict or "none")}">'
            f'<div class="dash-verdict-word">{_e(VERDICT_WORDS.get(verdict, "No verdict"))}</div>'
            f"<ul>{reasons}</ul>{more_html}</div>")


def _card(label: str, value: str, detail: str) -> str:
    return (f'<div class="dash-card"><div class="dash-card-label">{label}</div>'
            f'<div class="dash-card-value">{value}</div><div class="dash-card-detail">{detail}</div></div>')


def summary_cards(data: dict[str, Any]) -> str:
    """Headline numbers: win rate, decisive votes, agreement, both-bad share."""
    analysis = data["analysis"]
    agreement = analysis.get("agreement") or {}
    thresholds = analysis.get("thresholds") or {}
    cards = []
    win = analysis.get("win_rate")
    if win and win.get("estimate") is not None:
        cards.append(_card("Win rate of the candidate", pct(win["estimate"]),
                           f"{interval_name(win)} {pct(win['ci_low'])} to {pct(win['ci_high'])}; "
                           "ties count half"))
    decisive = analysis.get("decisive_win_rate")
    if decisive and decisive.get("estimate") is not None:
        cards.append(_card("Decisive votes won", pct(decisive["estimate"]),
                           f"prompt-clustered test {p_value(decisive.get('p_value'))}"))
    alpha_ci = agreement.get("krippendorff_alpha_nominal_ci")
    cards.append(_card("Krippendorff's alpha", num(agreement.get("krippendorff_alpha_nominal"), 2),
                       (f"interval {num(alpha_ci[0], 2)} to {num(alpha_ci[1], 2)}" if alpha_ci
                        else "no interval") + "; describes agreement, not a gate"))
    if analysis.get("both_bad_rate") is not None:
        cards.append(_card("Both answers bad", pct(analysis["both_bad_rate"]),
                           f"limit {pct(thresholds.get('max_both_bad_rate'), 0)}"))
    return f'<div class="dash-cards">{"".join(cards)}</div>'


def category_table(data: dict[str, Any]) -> str:
    """Win rate per category, guardrail categories marked with their threshold and status."""
    rows = category_rows(data["analysis"])
    if not rows:
        return ""
    body = []
    for row in rows:
        interval = (f"{pct(row['ci_low'])} to {pct(row['ci_high'])}" if row.get("ci_low") is not None
                    else "")
        mark = ' <span class="dash-guardrail">guardrail</span>' if row["guardrail"] else ""
        status = f"dash-guard-{row['status'] or 'none'}" if row["guardrail"] else "dash-muted"
        body.append(f"<tr><td>{_e(row['category'])}{mark}</td>"
                    f'<td class="num">{pct(row["win_rate"])}</td>'
                    f'<td class="{status}">{_e(guardrail_text(row)) if row["guardrail"] else "-"}</td>'
                    f'<td class="num">{interval}</td><td class="num">{_e(row["n"])}</td></tr>')
    head = ("<tr><th>Category</th><th class=\"num\">Win rate</th><th>Guardrail</th>"
            "<th class=\"num\">Interval</th><th class=\"num\">Judgments</th></tr>")
    return (f'<table class="dash-table dash-categories"><thead>{head}</thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def reviewer_warnings(data: dict[str, Any]) -> str:
    """A warning for each reviewer whose figures break a quality rule (see the Flags column)."""
    items = [f"<li><strong>{_e(row['reviewer'])}</strong>: {_e('; '.join(row['flags']))}</li>"
             for row in data["analysis"].get("reviewers") or [] if row.get("flags")]
    if not items:
        return ""
    return (f'<div class="dash-warning" role="alert"><strong>Warning: {len(items)} '
            f'reviewer{"s" if len(items) > 1 else ""} flagged</strong><ul>{"".join(items)}</ul></div>')


def _facts(rows: list[tuple[str, str]]) -> str:
    return ('<dl class="dash-facts">'
            + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows) + "</dl>")


def agreement_facts(data: dict[str, Any]) -> str:
    """Alpha (nominal, ordinal), Fleiss' kappa and percent agreement."""
    agreement = data["analysis"].get("agreement") or {}

    def with_ci(key: str) -> str:
        ci = agreement.get(f"{key}_ci")
        value = num(agreement.get(key))
        return value + (f' <span class="dash-muted">[{num(ci[0])}, {num(ci[1])}]</span>' if ci else "")

    return _facts([
        ("Krippendorff's alpha (nominal)", with_ci("krippendorff_alpha_nominal")),
        ("Krippendorff's alpha (ordinal)", with_ci("krippendorff_alpha_ordinal")),
        ("Fleiss' kappa", num(agreement.get("fleiss_kappa"))),
        ("Pairwise agreement, ties counted", pct(agreement.get("percent_agreement_with_ties"))),
        ("Pairwise agreement, ties left out", pct(agreement.get("percent_agreement_without_ties"))),
        ("Items with two or more votes", _e(agreement.get("n_items_with_overlap", 0))),
    ])


def bias_facts(data: dict[str, Any]) -> str:
    """Position bias (left rate and its test) and length bias."""
    analysis = data["analysis"]
    position = analysis.get("position_bias") or {}
    rows = [("Left answer chosen",
             f"{pct(position.get('left_rate'))} of {_e(position.get('n_decisive', 0))} decisive votes"),
            ("Binomial test against 50%", p_value(position.get("p_value")))]
    length = analysis.get("length_bias") or {}
    if length.get("longer_win_rate") is not None:
        rows.append(("Longer answer won", f"{pct(length['longer_win_rate'])} of "
                     f"{_e(length.get('n'))} decisive votes ({p_value(length.get('longer_win_p_value'))})"))
    controlled = length.get("length_controlled_win_rate")
    if controlled:
        rows.append(("Length-controlled win rate",
                     f"{pct(controlled['estimate'])} <span class=\"dash-muted\">"
                     f"[{pct(controlled['ci_low'])}, {pct(controlled['ci_high'])}]</span>"))
    rows += [(_e(label), _e(value)) for label, value in identifiability_facts(analysis)]
    return _facts(rows)


def judge_facts_html(data: dict[str, Any]) -> str:
    """The model judges' agreement with people and the prediction-powered win rate."""
    rows = judge_facts(data["analysis"])
    if not rows:
        return ('<p class="dash-muted">No model judge has judged this study '
                "(<code>review judge --study NAME --judge MODEL</code>).</p>")
    return _facts([(_e(label), _e(value)) for label, value in rows])


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
