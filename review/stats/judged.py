"""What a model judge adds to a study: ``judges``, ``win_rate_ppi`` and, when the study uses
its judge, the verdict.

Inputs (plain DataFrames, see :func:`judge_section`): the human judgments, the judges' verdicts
(:mod:`review.stats.judges`) and the study's regular items with their active-selection columns.

* Without active selection, ``win_rate_ppi`` is PPI++ (:func:`review.stats.ppi.ppi_mean`) with
  the prompts that have all their human votes as the labeled set and every other prompt the
  judge scored as the unlabeled set: what the judge adds while people are still voting.
* With active selection (a study using its judge under a human budget), it is the inverse-
  probability-weighted estimate (:func:`review.stats.ppi.active_ppi_mean`) over every prompt.
  It is *final* once every prompt drawn for people has its ``k`` votes; before that the
  completed drawn prompts stand in for all drawn ones (probabilities scaled by the completed
  share), shown for information only.

A study that uses its judge decides with this estimate at one fixed look, when it is final
(the anytime confidence sequence does not carry over to the weighted estimate): until then the
verdict is inconclusive, saying how many drawn items are still open. Its guardrail categories
use the same estimate per category, Bonferroni-corrected; the both-bad rate and reviewer
reliability come from people as always.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from review.stats.decision import (
    FAIL,
    NOT_YET,
    PASS,
    Check,
    Decision,
    DecisionEvidence,
    DecisionThresholds,
    decide,
)
from review.stats.guardrails import guardrail_check
from review.stats.judges import judge_agreement, judge_items, judge_scores
from review.stats.ppi import PPIEstimate, active_ppi_mean, ppi_mean

PPI_METHOD = "ppi++_prompt"
ACTIVE_METHOD = "active_ipw_ppi_prompt"


def judge_section(humans: pd.DataFrame, verdicts: pd.DataFrame, items: pd.DataFrame, *,
                  candidate: str | None, baseline: str | None, judge: str | None,
                  use_judge: bool, overlap: int, thresholds: DecisionThresholds,
                  candidate_frame: pd.DataFrame | None, excluded: list[str]) -> dict[str, Any]:
    """``{"judges": [...], "win_rate_ppi": {...} | None, "decision": Decision | None}``.

    ``humans``: human judgments of regular items; ``verdicts``: judge rows (see
    :mod:`review.stats.judges`); ``items``: ``item``, ``prompt``, ``category``,
    ``human_probability`` (None unless drawn by active selection) and ``human_selected``;
    ``judge``: the study's own judge (else the judge with most items is shown);
    ``candidate_frame``: the human candidate outcomes; ``excluded``: reviewers the verdict
    leaves out. ``decision`` is None unless ``use_judge``.
    """
    per_item = judge_items(verdicts)
    judges = judge_agreement(per_item, humans) if len(per_item) else []
    out: dict[str, Any] = {"judges": judges, "win_rate_ppi": None, "decision": None}
    if candidate is None or baseline is None or not judges:
        return out
    name = judge if judge in {j["judge"] for j in judges} else max(
        judges, key=lambda j: (j["n"], j["judge"]))["judge"]
    voted = candidate_frame if candidate_frame is not None else pd.DataFrame(columns=["rater", "prompt", "score"])
    human = voted
    if excluded and len(voted):
        human = voted.loc[~voted["rater"].astype(str).isin(excluded).to_numpy()]
    if {"model_a", "model_b"} <= set(items.columns):  # only the candidate-vs-baseline items
        pair = items[["model_a", "model_b"]].apply(frozenset, axis=1) == frozenset((candidate, baseline))
        items = items.loc[pair.to_numpy()]
    prompts = _prompt_table(items, judge_scores(per_item, name, candidate, baseline), human, voted,
                            overlap)
    if prompts.empty:
        return out
    confidence = thresholds.confidence
    estimate, final = _estimate(prompts, confidence)
    if estimate is not None:
        saved = int(round(estimate.saved_share * int(prompts["votes"].sum())))
        low, high = estimate.human_interval(confidence)
        out["win_rate_ppi"] = {
            "estimate": estimate.estimate, "ci_low": estimate.ci_low, "ci_high": estimate.ci_high,
            "n_human": int(prompts["votes"].sum()), "n_judge": int(prompts["score"].notna().sum()),
            "lambda": estimate.lam, "judge": name,
            "method": ACTIVE_METHOD if _active(prompts) else PPI_METHOD, "final": final,
            "human_only": {"estimate": estimate.human_estimate, "ci_low": low, "ci_high": high},
            "human_judgments_saved": saved,
            "n_prompts_labeled": estimate.n_labeled, "n_prompts_unlabeled": estimate.n_unlabeled,
            "by_category": _by_category(prompts, confidence),
        }
    if use_judge:
        out["decision"] = _decision(prompts, estimate, final, human, thresholds, overlap,
                                    n_reviewers=int(humans["rater"].nunique()) if len(humans) else 0,
                                    excluded=excluded)
    return out


def _active(prompts: pd.DataFrame) -> bool:
    return bool(prompts["probability"].notna().any())


def _prompt_table(items: pd.DataFrame, scores: pd.DataFrame, human: pd.DataFrame,
                  voted: pd.DataFrame, overlap: int) -> pd.DataFrame:
    """Per prompt of the pair: category, judge score, human mean, votes, complete, drawn,
    probability.

    ``votes`` and ``complete`` count every human vote (a vote of a reviewer left out for gold
    accuracy still filled the item: it is never served again); ``y`` is the mean of the kept
    reviewers' votes, or of all votes where only left-out reviewers voted."""
    items = items.copy()
    items["item"] = items["item"].astype(str)
    table = items.groupby("prompt", sort=True).agg(
        category=("category", "first"), n_items=("item", "size"),
        probability=("human_probability", "first"), drawn=("human_selected", "all")).reset_index()
    judged = scores.groupby("prompt")["score"].mean() if len(scores) else pd.Series(dtype=float)
    table["score"] = table["prompt"].map(judged).astype(float)
    if len(voted):
        every = voted.assign(prompt=voted["prompt"].astype(str)).groupby("prompt")["score"]
        kept = human.assign(prompt=human["prompt"].astype(str)).groupby("prompt")["score"].mean()
        table["y"] = table["prompt"].map(kept).astype(float).fillna(table["prompt"].map(every.mean()))
        table["votes"] = table["prompt"].map(every.size()).fillna(0).astype(int)
    else:
        table["y"], table["votes"] = np.nan, 0
    table["complete"] = table["votes"] >= overlap * table["n_items"]
    table["probability"] = pd.to_numeric(table["probability"], errors="coerce")
    return table


def _estimate(prompts: pd.DataFrame, confidence: float) -> tuple[PPIEstimate | None, bool]:
    if _active(prompts):
        drawn = prompts["drawn"].to_numpy(dtype=bool)
        complete = prompts["complete"].to_numpy(dtype=bool) & drawn
        if complete.sum() < 2:
            return None, False
        final = bool(complete.sum() == drawn.sum())
        share = complete.sum() / drawn.sum()
        pi = prompts["probability"].fillna(1.0).to_numpy(dtype=float) * share
        return active_ppi_mean(prompts["score"].to_numpy(dtype=float), prompts["y"].to_numpy(dtype=float),
                               complete, pi, confidence=confidence), final
    # A prompt whose every judge output failed scores 1/2 (any fixed score keeps PPI unbiased).
    scored = prompts.assign(score=prompts["score"].fillna(0.5))
    labeled = scored.loc[scored["complete"]]
    if len(labeled) < 2:
        return None, False
    unlabeled = scored.loc[~scored["complete"]]
    # Final once every prompt has its votes: the estimate is then the people-only mean
    # (lambda 0), as a study using its judge without a budget decides.
    final = bool(prompts["complete"].all())
    return ppi_mean(labeled["y"].to_numpy(dtype=float), labeled["score"].to_numpy(dtype=float),
                    unlabeled["score"].to_numpy(dtype=float), confidence=confidence), final


def _by_category(prompts: pd.DataFrame, confidence: float) -> list[dict]:
    rows = []
    for category, group in prompts.groupby(prompts["category"].fillna(""), sort=True):
        try:
            estimate, _ = _estimate(group, confidence)
        except ValueError:
            estimate = None
        if estimate is not None:
            rows.append({"category": category or None, "estimate": estimate.estimate,
                         "ci_low": estimate.ci_low, "ci_high": estimate.ci_high,
                         "n_prompts": int(len(group))})
    return rows


def _decision(prompts: pd.DataFrame, estimate: PPIEstimate | None, final: bool,
              human: pd.DataFrame, thresholds: DecisionThresholds, overlap: int, *,
              n_reviewers: int, excluded: list[str]) -> Decision:
    n = int(prompts["votes"].sum())
    drawn = int(prompts["drawn"].sum())
    open_items = int((prompts["drawn"] & ~prompts["complete"]).sum())
    both_bad = None
    if len(human) and "outcome" in human:
        # Weighted by 1 / pi: drawn prompts over-represent those the judge was unsure of.
        pi = human["prompt"].astype(str).map(prompts.set_index("prompt")["probability"]).fillna(1.0)
        weight = 1.0 / pi.to_numpy(dtype=float)
        both_bad = float(np.sum(weight * (human["outcome"] == "both_bad").to_numpy()) / np.sum(weight))
    if not final or estimate is None:
        evidence = DecisionEvidence(estimate=None if estimate is None else estimate.estimate,
                                    ci_low=None, ci_high=None, n=n, method="fixed",
                                    both_bad_rate=both_bad, n_reviewers=n_reviewers,
                                    excluded_reviewers=excluded)
        decision = decide(evidence, replace(thresholds, min_judgments=max(thresholds.min_judgments, n + 1)))
        wait = (f"the verdict uses the model judge (prediction-powered, one fixed look): it is "
                f"taken when the {drawn} prompts drawn for people have {overlap} votes each; "
                f"{open_items} still open")
        checks = tuple(c if c.rule != "min_judgments" else replace(
            c, threshold=float(max(thresholds.min_judgments, drawn * overlap))) for c in decision.checks)
        return replace(decision, reasons=(wait,), checks=checks, additional_judgments_needed=None,
                       method="fixed", settled=False)
    evidence = DecisionEvidence(
        estimate=estimate.estimate, ci_low=estimate.ci_low, ci_high=estimate.ci_high, n=n,
        method="fixed", both_bad_rate=both_bad, n_reviewers=n_reviewers, excluded_reviewers=excluded,
        guardrails=_guardrails(prompts, thresholds))
    decision = decide(evidence, thresholds)
    note = (f"decided with the model judge: prediction-powered interval over {len(prompts)} prompts, "
            f"{estimate.n_labeled} of them judged by people (lambda {estimate.lam:.2f})")
    return replace(decision, reasons=(*decision.reasons, note), additional_judgments_needed=None)


def _guardrails(prompts: pd.DataFrame, thresholds: DecisionThresholds) -> list[Check]:
    categories = thresholds.guardrail_categories
    if not categories:
        return []
    confidence = 1.0 - (1.0 - thresholds.confidence) / len(categories)
    bound = 0.5 - thresholds.guardrail_margin
    checks = []
    for name in categories:
        group = prompts.loc[prompts["category"] == name]
        labeled = int((group["complete"] & group["drawn"]).sum())
        try:
            estimate = _estimate(group, confidence)[0] if labeled >= thresholds.min_category_prompts else None
        except ValueError:
            estimate = None
        if estimate is None:
            checks.append(guardrail_check(name, NOT_YET, None, bound, prompts=labeled,
                                          needed=thresholds.min_category_prompts,
                                          judged="prompts judged by people"))
        elif estimate.ci_low > bound:
            checks.append(guardrail_check(name, PASS, estimate.estimate, bound))
        elif estimate.ci_high < bound:
            checks.append(guardrail_check(name, FAIL, estimate.estimate, bound, at_most=estimate.ci_high))
        else:
            checks.append(guardrail_check(name, NOT_YET, estimate.estimate, bound))
    return checks
