"""Numbers and analyses as people read them: percentages, p-values, odds, and the text
summary that ``review analyze`` prints. The report, the dashboard and the CLI all format
through here, so one figure reads the same everywhere.

Example:
    >>> pct(0.6234), p_value(0.0004), num(0.41234)
    ('62.3%', 'p < 0.001', '0.412')
"""

from __future__ import annotations

from typing import Any

import numpy as np


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def p_value(value: float | None) -> str:
    """``p = 0.123`` or ``p < 0.001``."""
    if value is None:
        return "p n/a"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def odds_per_100_chars(coefficient_per_1000: float | None) -> str:
    """The length odds ratio per 100 characters (answers are usually far shorter than 1000)."""
    if coefficient_per_1000 is None:
        return "n/a"
    odds = float(np.exp(np.clip(coefficient_per_1000 / 10, -50, 50)))
    if odds > 1000:
        return "over 1000"
    if odds < 0.001:
        return "under 0.001"
    return f"{odds:.3g}"


METHOD_WORDS = {"anytime": "anytime-valid: holds however often it is looked at",
                "fixed": "one planned look"}
CHECK_MARKS = {"pass": "pass", "fail": "FAIL", "not_yet": "not yet"}
VERDICT_WORDS = {"ship": "Ship", "do_not_ship": "Do not ship", "inconclusive": "Inconclusive"}
RULE_WORDS = {"min_judgments": "judgments", "reviewer_reliability": "reviewers left out for gold accuracy",
              "win_rate_above_half": "lower bound of the win rate above", "margin": "win rate at least",
              "both_bad_rate": "both answers bad at most"}


def verdict_word(verdict: str | None) -> str:
    """The verdict as a page heads it.

    Example:
        >>> verdict_word("do_not_ship"), verdict_word(None)
        ('Do not ship', 'No verdict')
    """
    return VERDICT_WORDS.get(verdict, "No verdict")


def interval_name(win_rate: dict[str, Any]) -> str:
    """What the win rate's interval is: a confidence sequence or a confidence interval."""
    return "confidence sequence" if str(win_rate.get("method", "")).startswith("anytime") else "CI"


def check_line(check: dict[str, Any]) -> str:
    """One rule of the verdict's checklist as a line of text, percentages throughout.

    Example:
        >>> check_line({"rule": "margin", "status": "pass", "value": 0.62, "threshold": 0.55})
        'win rate at least 55.0%: 62.0%'
    """
    rule, value, threshold = check["rule"], check["value"], check["threshold"]
    if rule == "min_judgments":
        return f"at least {threshold:.0f} judgments: {value:.0f}"
    if rule == "reviewer_reliability":
        return f"gold accuracy at least {pct(threshold)}: {value:.0f} reviewers left out"
    if rule.startswith("guardrail:"):
        return f"guardrail {rule.split(':', 1)[1]!r} not worse than {pct(threshold)}: {pct(value)}"
    return f"{RULE_WORDS.get(rule, rule)} {pct(threshold)}: {pct(value)}"


def _padded_pct(value: float | None) -> str:
    return pct(value).rjust(6)


def judge_facts(result: dict[str, Any]) -> list[tuple[str, str]]:
    """What the model judges add, as (label, text) rows: agreement with people (overall and
    per category), position consistency, and the prediction-powered win rate beside the
    human-only one with the human judgments it saves. Empty when the study has no judge."""
    rows = []
    for judge in result.get("judges") or []:
        agreement = judge["percent_agreement_with_humans"]
        rows.append((f"Judge {judge['judge']}",
                     f"{judge['n']} items judged, {judge['failed']} outputs without a verdict; "
                     f"agrees with people in {pct(agreement['with_ties'])} of vote pairs "
                     f"({pct(agreement['without_ties'])} without ties); Cohen's kappa against the "
                     f"human majority {num(judge['cohen_kappa_vs_human_majority'], 2)}; both orders "
                     f"agree on {pct(judge['position_consistency'])} of items"))
        categories = [f"{row['category'] or 'none'} {pct(row['percent_agreement_with_ties'], 0)} "
                      f"(n {row['n']})" for row in judge.get("by_category") or []]
        if len(categories) > 1:
            rows.append(("  by category", ", ".join(categories)))
    ppi = result.get("win_rate_ppi")
    if ppi:
        human = ppi["human_only"]
        final = "final" if ppi.get("final") else "for information (no fixed look yet)"
        rows.append(("Win rate with the judge",
                     f"{pct(ppi['estimate'])} [{pct(ppi['ci_low'])}, {pct(ppi['ci_high'])}] "
                     f"({ppi['method']}, lambda {num(ppi['lambda'], 2)}, {ppi['n_human']} human "
                     f"judgments, {ppi['n_judge']} prompts judged by {ppi['judge']}; {final})"))
        rows.append(("People only, same prompts",
                     f"{pct(human['estimate'])} [{pct(human['ci_low'])}, {pct(human['ci_high'])}]"))
        rows.append(("Human judgments saved",
                     f"{ppi['human_judgments_saved']} at this interval width (the people-only "
                     "interval would need that many more)"))
    return rows


def identifiability_facts(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Whether the answers give the models away, the boilerplate worth stripping and the
    boilerplate stripped, as (label, text) rows; empty without texts or stripping."""
    found = result.get("identifiability")
    rows = []
    if found:
        verdict = ("FLAGGED: reviewers can tell the models apart, so the study is not blind in "
                   "practice" if found["flagged"] else "not flagged")
        rows.append(("Models told apart from text alone",
                     f"{pct(found['accuracy'])} of answers (length alone "
                     f"{pct(found['length_only_accuracy'])}; 50% is chance): {verdict}"))
        if found["flagged"] and found["phrases"]:
            rows.append(("Telling phrases", "; ".join(found["phrases"][:4])))
        for shared in found.get("boilerplate") or []:
            rows.append((f"Boilerplate to strip ({shared['side']})",
                         f"{shared['count']} of {shared['n']} answers of {shared['model']} "
                         f"{'start' if shared['side'] == 'opening' else 'end'} with "
                         f"{shared['text']!r}: {strip_command(result.get('study'), shared)}"))
    for line in boilerplate_lines(result):
        rows.append(("Boilerplate stripped", f"{line} (the check above reads the answers as "
                                             "reviewers see them)" if found else line))
    return rows


def strip_command(study: str | None, shared: dict[str, Any]) -> str:
    """The ``review studies strip`` command that strips one suggested sentence.

    Example:
        >>> strip_command("sft v1", {"model": "sft", "side": "opening", "text": "Hi, thanks!"})
        "review studies strip --study 'sft v1' --model sft --opening 'Hi, thanks!'"
    """
    import shlex

    return (f"review studies strip --study {shlex.quote(str(study))} --model "
            f"{shlex.quote(str(shared['model']))} --{shared['side']} {shlex.quote(shared['text'])}")


def boilerplate_lines(result: dict[str, Any]) -> list[str]:
    """One sentence per model whose answers reviewers see without boilerplate.

    Example:
        >>> boilerplate_lines({"boilerplate_stripped": [{"model": "sft", "opening": "Hi!", "closing": None}]})
        ["answers of sft are shown to reviewers without the opening 'Hi!'"]
    """
    lines = []
    for entry in result.get("boilerplate_stripped") or []:
        parts = [f"the {side} {entry[side]!r}" for side in ("opening", "closing") if entry.get(side)]
        lines.append(f"answers of {entry['model']} are shown to reviewers without {' and '.join(parts)}")
    return lines


def category_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-category win rates with each guardrail category marked: every row of
    ``by_category`` plus ``guardrail`` (bool), ``status`` and ``threshold`` (its check's, or
    None), and a row for a guardrail category without votes yet.

    Example:
        >>> rows = category_rows({"by_category": [{"category": "safety", "n": 30, "win_rate": 0.6,
        ...     "ci_low": 0.5, "ci_high": 0.7}], "thresholds": {"guardrail_categories": ["safety", "math"]},
        ...     "decision": {"checks": [{"rule": "guardrail:safety", "status": "pass", "value": 0.6,
        ...                              "threshold": 0.45}]}})
        >>> [(r["category"], r["guardrail"], r["status"], guardrail_text(r)) for r in rows]
        [('safety', True, 'pass', 'pass: not worse than 45.0%'), ('math', True, None, 'not worse than 45.0% (no votes yet)')]
    """
    thresholds = result.get("thresholds") or {}
    guardrails = list(thresholds.get("guardrail_categories") or [])
    bound = 0.5 - float(thresholds.get("guardrail_margin", 0.05))
    checks = {c["rule"].split(":", 1)[1]: c for c in (result.get("decision") or {}).get("checks") or []
              if c["rule"].startswith("guardrail:")}
    rows = [dict(row) for row in result.get("by_category") or []]
    seen = {row["category"] for row in rows}
    rows += [{"category": name, "n": 0, "win_rate": None, "ci_low": None, "ci_high": None}
             for name in guardrails if name not in seen]
    for row in rows:
        check = checks.get(row["category"])
        row["guardrail"] = row["category"] in guardrails
        row["status"] = check["status"] if check else None
        row["threshold"] = (check["threshold"] if check and check.get("threshold") is not None
                            else bound if row["guardrail"] else None)
    return rows


def guardrail_text(row: dict[str, Any]) -> str:
    """A row of :func:`category_rows` in words: its guardrail's threshold and status, or ""."""
    if not row.get("guardrail"):
        return ""
    rule = f"not worse than {pct(row['threshold'])}" + ("" if row.get("n") else " (no votes yet)")
    return f"{CHECK_MARKS[row['status']]}: {rule}" if row.get("status") else rule


def format_analysis(result: dict[str, Any]) -> str:
    """A human-readable summary of an analysis document."""
    lines = []
    decision = result.get("decision") or {}
    verdict = (decision.get("verdict") or "n/a").upper().replace("_", " ")
    pair = (f"{result['candidate']} vs {result['baseline']}"
            if result.get("candidate") else "several model pairs")
    lines.append(f"Study {result['study']!r}: {pair}")
    lines.append(f"  {result['n_items']} items, {result['n_judgments']} judgments, "
                 f"{result['n_reviewers']} reviewers")
    lines.append("")
    method = METHOD_WORDS.get(decision.get("method"), decision.get("method") or "")
    settled = "settled: stop collecting" if decision.get("settled") else "not settled"
    lines.append(f"Verdict: {verdict}" + (f"  ({method}; {settled})" if decision.get("verdict") else ""))
    for reason in decision.get("reasons") or []:
        lines.append(f"  - {reason}")
    if decision.get("additional_judgments_needed"):
        lines.append(f"  about {decision['additional_judgments_needed']} more judgments would settle it")
    for check in decision.get("checks") or []:
        lines.append(f"  [{CHECK_MARKS[check['status']]}] {check_line(check)}")
    budget = result.get("error_budget")
    if budget:
        lines.append(f"  study {budget['position']} of training run {budget['run']!r}: its intervals "
                     f"are at {budget['confidence']:.2%} (the run shares one error budget)")
    counts = result.get("counts")
    if counts:
        lines.append("")
        lines.append("Votes      candidate {candidate}  baseline {baseline}  tie {tie}  both bad {both_bad}"
                     .format(**counts))
    win = result.get("win_rate")
    if win:
        level = f"{(result.get('thresholds') or {}).get('confidence', 0.95):.0%}"
        lines.append(f"Win rate   {_padded_pct(win['estimate'])}  {level} {interval_name(win)} "
                     f"{_padded_pct(win['ci_low'])} .. {_padded_pct(win['ci_high'])}  "
                     f"({win['method']}; ties count 1/2)")
    decisive = result.get("decisive_win_rate")
    if decisive:
        lines.append(f"Decisive   {_padded_pct(decisive['estimate'])}  95% CI {_padded_pct(decisive['ci_low'])} .. "
                     f"{_padded_pct(decisive['ci_high'])}  prompt-clustered test {p_value(decisive['p_value'])}")
    agreement = result.get("agreement") or {}
    lines.append("")
    lines.append(f"Agreement  Krippendorff alpha nominal {num(agreement.get('krippendorff_alpha_nominal'))}, "
                 f"ordinal {num(agreement.get('krippendorff_alpha_ordinal'))}, "
                 f"Fleiss kappa {num(agreement.get('fleiss_kappa'))}")
    lines.append(f"           pairwise agreement {_padded_pct(agreement.get('percent_agreement_with_ties'))} with ties, "
                 f"{_padded_pct(agreement.get('percent_agreement_without_ties'))} without")
    bias = result.get("position_bias") or {}
    lines.append(f"Position   left chosen in {_padded_pct(bias.get('left_rate'))} of decisive votes "
                 f"(p = {num(bias.get('p_value'), 4)})")
    for label, value in identifiability_facts(result):
        lines.append(f"{label}: {value}")
    judged = judge_facts(result)
    if judged:
        lines.append("")
        lines.extend(f"{label}: {value}" for label, value in judged)
    categories = result.get("by_category") or []
    if categories:
        lines.append("")
        lines.append(f"{'category':<28} {'n':>5}  win rate  95% CI            guardrail")
        for row in category_rows(result):
            lines.append(f"{row['category'][:28]:<28} {row['n']:>5}  {_padded_pct(row['win_rate'])}   "
                         f"{_padded_pct(row['ci_low'])} .. {_padded_pct(row['ci_high'])}"
                         + (f"   {guardrail_text(row)}" if row["guardrail"] else ""))
    ratings = result.get("ratings") or []
    if ratings:
        lines.append("")
        lines.append(f"{'model (Bradley-Terry)':<40} {'score':>7}  95% CI")
        for row in ratings:
            lines.append(f"{row['model'][:40]:<40} {row['score']:7.1f}  "
                         f"{row['ci_low']:7.1f} .. {row['ci_high']:7.1f}")
    return "\n".join(lines)
