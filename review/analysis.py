"""The analysis of one study: its judgments from the database through :mod:`review.stats`.

Example::

    result = analyze_study(session=session, study=get_study(session=session, name="sft-v1"))
    print(format_analysis(result))
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from review.dataset import study_judgments
from review.models import Study


def analyze_study(*, session: Session, study: Study, n_bootstrap: int = 1000,
                  seed: int = 0) -> dict[str, Any]:
    """The ``review analyze --json`` document for ``study`` (thresholds from the study)."""
    from review.stats import DecisionThresholds, analyze

    frame = study_judgments(session=session, study=study)
    return analyze(
        frame,
        candidate=study.candidate.name if study.candidate else None,
        baseline=study.baseline.name if study.baseline else None,
        thresholds=DecisionThresholds.from_dict(study.thresholds or {}),
        n_bootstrap=n_bootstrap, seed=seed, study=study.name,
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:5.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


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
    lines.append(f"Verdict: {verdict}")
    for reason in decision.get("reasons") or []:
        lines.append(f"  - {reason}")
    if decision.get("additional_judgments_needed"):
        lines.append(f"  about {decision['additional_judgments_needed']} more judgments would settle it")
    counts = result.get("counts")
    if counts:
        lines.append("")
        lines.append("Votes      candidate {candidate}  baseline {baseline}  tie {tie}  both bad {both_bad}"
                     .format(**counts))
    win = result.get("win_rate")
    if win:
        lines.append(f"Win rate   {_pct(win['estimate'])}  95% CI {_pct(win['ci_low'])} .. "
                     f"{_pct(win['ci_high'])}  ({win['method']}; ties count 1/2)")
    decisive = result.get("decisive_win_rate")
    if decisive:
        lines.append(f"Decisive   {_pct(decisive['estimate'])}  95% CI {_pct(decisive['ci_low'])} .. "
                     f"{_pct(decisive['ci_high'])}  sign test p = {_num(decisive['p_value'], 4)}")
    agreement = result.get("agreement") or {}
    lines.append("")
    lines.append(f"Agreement  Krippendorff alpha nominal {_num(agreement.get('krippendorff_alpha_nominal'))}, "
                 f"ordinal {_num(agreement.get('krippendorff_alpha_ordinal'))}, "
                 f"Fleiss kappa {_num(agreement.get('fleiss_kappa'))}")
    lines.append(f"           pairwise agreement {_pct(agreement.get('percent_agreement_with_ties'))} with ties, "
                 f"{_pct(agreement.get('percent_agreement_without_ties'))} without")
    bias = result.get("position_bias") or {}
    lines.append(f"Position   left chosen in {_pct(bias.get('left_rate'))} of decisive votes "
                 f"(p = {_num(bias.get('p_value'), 4)})")
    categories = result.get("by_category") or []
    if categories:
        lines.append("")
        lines.append(f"{'category':<28} {'n':>5}  win rate  95% CI")
        for row in categories:
            lines.append(f"{row['category'][:28]:<28} {row['n']:>5}  {_pct(row['win_rate'])}   "
                         f"{_pct(row['ci_low'])} .. {_pct(row['ci_high'])}")
    ratings = result.get("ratings") or []
    if ratings:
        lines.append("")
        lines.append(f"{'model (Bradley-Terry)':<40} {'score':>7}  95% CI")
        for row in ratings:
            lines.append(f"{row['model'][:40]:<40} {row['score']:7.1f}  "
                         f"{row['ci_low']:7.1f} .. {row['ci_high']:7.1f}")
    return "\n".join(lines)
