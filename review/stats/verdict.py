"""From candidate-vs-baseline judgments to the win rate the verdict uses and the verdict itself.

Shared by :func:`review.stats.analysis.analyze` (the whole document) and
:func:`review.stats.analysis.decide_study` (the verdict alone, for simulations):

1. reviewers whose gold accuracy is below ``min_gold_accuracy`` (over at least
   ``min_gold_answered`` gold items) are left out of the verdict; reviewers who agree with
   the others' majority no more than chance are flagged in the reasons;
2. the win rate's interval follows the study's method: the anytime confidence sequence over
   completed prompts (:mod:`review.stats.sequential`), or for one planned look the
   prompt-cluster bootstrap (or, with ``two_way``, prompts x reviewers);
3. guardrail categories are non-inferiority tests (:mod:`review.stats.guardrails`);
4. :func:`review.stats.decision.decide` turns the checks into the verdict, with the judgments
   still needed for ``power`` at the observed win rate (:mod:`review.stats.planning`).

Judgments must be in arrival order (the order of the rows): the sequence uses it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from review.stats.bootstrap import make_rng
from review.stats.clustered import two_way_mean_interval
from review.stats.decision import Decision, DecisionEvidence, DecisionThresholds, decide
from review.stats.guardrails import guardrail_checks
from review.stats.planning import judgments_for_power
from review.stats.reviewers import reviewer_summary
from review.stats.sequential import completed_prompts, sequential_win_rate
from review.stats.winrate import STREAM_WIN_RATE, WIN_RATE_METHOD, WinRate, win_rate_from_scores

ANYTIME_METHOD = "anytime_betting_cs_prompt"
TWO_WAY_METHOD = "two_way_cluster_t"


def unreliable_reviewers(encoded: pd.DataFrame, thresholds: DecisionThresholds) -> list[str]:
    """Reviewers whose accuracy on gold items is below the threshold (enough answered)."""
    gold = encoded.loc[encoded["is_gold"].to_numpy()]
    if len(gold) == 0:
        return []
    accuracy = gold.groupby("rater", observed=True)["gold_correct"].agg(["mean", "count"])
    low = accuracy[(accuracy["count"] >= thresholds.min_gold_answered)
                   & (accuracy["mean"] < thresholds.min_gold_accuracy)]
    return sorted(str(name) for name in low.index)


# A reviewer is flagged when, over at least this many votes on shared items, they agree with
# the other reviewers' majority no more often than a random voter would.
MIN_LOO_VOTES = 20


def inconsistent_reviewers(encoded: pd.DataFrame, rows: list[dict] | None = None) -> list[str]:
    """Reviewers whose agreement with the leave-one-out majority is at or below chance.

    Chance is the agreement of a voter drawing votes at random from the study's overall vote
    distribution, ``sum(share_c^2)`` over the pair codes. Flagged, not excluded: a careful
    reviewer in the minority is not an unreliable one, but the analyst should look. ``rows``
    are the study's :func:`review.stats.reviewers.reviewer_summary` when already computed.
    """
    normal = ~encoded["is_gold"].to_numpy()
    if not normal.any():
        return []
    # The shares of the codes, most frequent first (as value_counts orders them).
    counts = np.bincount(encoded["code"].to_numpy()[normal])
    counts = np.sort(counts[counts > 0])[::-1]
    shares = counts / counts.sum()
    chance = float((shares ** 2).sum())
    flagged = []
    if rows is None:
        rows = reviewer_summary(encoded.loc[normal].drop_duplicates(["item", "rater"], keep="last"))
    for row in rows:
        agreement = row["loo_majority_agreement"]
        if row["n_loo"] >= MIN_LOO_VOTES and agreement is not None and agreement <= chance:
            flagged.append(f"{row['reviewer']} ({agreement:.0%} vs {chance:.0%} by chance)")
    return flagged


def overlap_of(frame: pd.DataFrame) -> int:
    """The votes per item a study asks for, when not given: the most any item has.

    Only for data without a study behind it (imported judgments): it depends on the data, so a
    later extra vote can change it; studies pass their own overlap."""
    if len(frame) == 0:
        return 1
    return int(frame.groupby("item", observed=True).size().max())


def votes_needed(frame: pd.DataFrame, k: int) -> np.ndarray:
    """Per row, the judgments its prompt needs to enter the sequence: ``k`` per item of the
    pair on that prompt (one item per prompt in a study; imported data may hold more)."""
    if len(frame) == 0:
        return np.zeros(0, dtype=int)
    items = frame.groupby("prompt", observed=True)["item"].transform("nunique")
    return k * items.to_numpy(dtype=int)


def study_verdict(frame: pd.DataFrame, encoded: pd.DataFrame, thresholds: DecisionThresholds, *,
                  overlap: int | None, planned_items: int | None, n_bootstrap: int,
                  seed: int, plan: bool = True,
                  reviewer_rows: list[dict] | None = None) -> tuple[dict[str, Any], WinRate, Decision]:
    """The verdict's win rate (a dict for the JSON document), the fixed-look win rate and the
    decision, for ``frame`` = candidate outcomes of every reviewer.

    ``plan=False`` skips the power analysis behind ``additional_judgments_needed`` (None then);
    the verdict is the same. ``reviewer_rows``: the reviewers' summary, when already computed.
    """
    excluded = unreliable_reviewers(encoded, thresholds)
    reviewers = sorted(frame["rater"].astype(str).unique()) if len(frame) else []
    kept = frame.loc[~frame["rater"].astype(str).isin(excluded).to_numpy()] if excluded else frame
    k = overlap or overlap_of(kept)
    scores = kept["score"].to_numpy(dtype=float)
    prompts = kept["prompt"].astype(str).to_numpy()
    confidence = thresholds.confidence
    fixed = win_rate_from_scores(scores, prompts, n_bootstrap=n_bootstrap,
                                 rng=make_rng(seed, STREAM_WIN_RATE), confidence=confidence)
    low, high, method = fixed.ci_low, fixed.ci_high, WIN_RATE_METHOD
    extra: dict[str, Any] = {}
    if thresholds.method == "anytime":
        sequence = sequential_win_rate(scores, prompts, k=votes_needed(kept, k),
                                       confidence=confidence)
        low, high, method = sequence.ci_low, sequence.ci_high, ANYTIME_METHOD
        extra = {"n_prompts_complete": sequence.n_prompts, "overlap": k}
    elif thresholds.two_way and len(scores):
        low, high = two_way_mean_interval(scores, prompts, kept["rater"].astype(str).to_numpy(),
                                          confidence=confidence)
        method = TWO_WAY_METHOD
    guardrails = guardrail_checks(
        kept, thresholds.guardrail_categories, k=votes_needed(kept, k), method=thresholds.method,
        margin=thresholds.guardrail_margin, min_prompts=thresholds.min_category_prompts,
        confidence=confidence)
    both_bad = float((kept["outcome"] == "both_bad").mean()) if len(kept) else None
    evidence = DecisionEvidence(
        estimate=fixed.estimate, ci_low=low, ci_high=high, n=fixed.n, method=thresholds.method,
        both_bad_rate=both_bad, guardrails=guardrails, excluded_reviewers=excluded,
        flagged_reviewers=inconsistent_reviewers(encoded, reviewer_rows),
        n_reviewers=len(reviewers), has_gold=bool(encoded["is_gold"].any()),
        planned_judgments=planned_items * k if planned_items else None)
    decision = decide(evidence, thresholds)
    if plan and decision.verdict == "inconclusive" and not decision.settled:
        # Only an open question needs the (simulated, for the anytime method) power analysis.
        needed = _still_needed(fixed, kept, k, thresholds)
        decision = decide(replace(evidence, additional_needed=needed), thresholds)
    win_rate = {"estimate": fixed.estimate, "ci_low": low, "ci_high": high, "method": method,
                "n": fixed.n, "n_prompts": fixed.n_prompts, "design_effect": fixed.design_effect,
                **extra}
    return win_rate, fixed, decision


def _still_needed(rate: WinRate, frame: pd.DataFrame, k: int,
                  thresholds: DecisionThresholds) -> int | None:
    """Judgments still needed for ``power`` if the true win rate were the observed one."""
    if rate.estimate is None or rate.n == 0:
        return None
    prompt_sd = None
    if thresholds.method == "anytime":
        means, _ = completed_prompts(frame["score"].to_numpy(dtype=float),
                                     frame["prompt"].astype(str).to_numpy(), votes_needed(frame, k))
        prompt_sd = float(np.std(means, ddof=1)) if len(means) >= 10 else None
    total = judgments_for_power(
        rate.estimate, method=thresholds.method, margin=thresholds.margin,
        confidence=thresholds.confidence, power=thresholds.power,
        score_variance=rate.score_variance or 0.25,
        design_effect=max(1.0, rate.design_effect or 1.0), k=k, prompt_sd=prompt_sd)
    if total is None:
        return None
    total = max(total, thresholds.min_judgments)
    remaining = int(math.ceil(total)) - rate.n
    return remaining if remaining > 0 else None
