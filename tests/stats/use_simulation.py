"""Simulated review campaigns used the way people use the platform: looking at the verdict
every few votes, stopping at the first "ship", comparing every checkpoint of a run.

A study: ``n_prompts`` prompts, ``k`` votes each from a pool of ``n_raters`` reviewers. Each
prompt has its own preference for the candidate, ``q ~ Beta(mu * kappa, (1 - mu) * kappa)``
(``kappa = inf``: every prompt the same); a reviewer may be lenient, shifting the logit of ``q``
by ``N(0, leniency)``. A vote is a tie with probability 8%, both bad with 4%, otherwise a win
for the candidate with probability ``q`` (after leniency). Answers are shown left or right at
random; their lengths are unrelated to the votes.

Arrival orders (the order of the rows, which the anytime method reads):

* ``fewest_first``: the platform's assignment, all prompts get their first vote (in random
  order), then their second, and so on;
* ``in_order``: each prompt gets its ``k`` votes before the next prompt starts.

:func:`first_verdict` replays a study look by look (every ``step`` judgments from ``first``)
with the product's own functions and returns the first ship / do-not-ship and when it came.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from review.stats import AnalysisOptions, decide_study
from review.stats.decision import DecisionThresholds

from .simulation import BOTH_BAD_RATE, TIE_RATE, mu_for

DECIDED = 1.0 - TIE_RATE - BOTH_BAD_RATE


@dataclass(frozen=True)
class Design:
    n_prompts: int = 400
    k: int = 3
    n_raters: int = 12
    kappa: float = 1.0
    leniency: float = 0.0
    order: str = "fewest_first"
    categories: tuple[tuple[str, int, float], ...] = ()  # (name, prompts, win rate)


def simulate(rng: np.random.Generator, win_rate: float, design: Design) -> pd.DataFrame:
    """One study's judgments in arrival order (columns of :mod:`review.stats`)."""
    p, k = design.n_prompts, design.k
    rates = np.full(p, win_rate)
    category = np.full(p, None, dtype=object)
    start = 0
    for name, count, rate in design.categories:
        rates[start:start + count] = rate
        category[start:start + count] = name
        start += count
    mu = np.clip(mu_for(rates), 1e-6, 1 - 1e-6)
    if np.isfinite(design.kappa):
        q = rng.beta(mu * design.kappa, (1 - mu) * design.kappa)
    else:
        q = mu
    raters = np.argsort(rng.random((p, design.n_raters)), axis=1)[:, :k]     # k distinct each
    shift = rng.normal(0.0, design.leniency, design.n_raters) if design.leniency else np.zeros(design.n_raters)
    order = rng.permutation(p)
    if design.order == "in_order":
        prompt = np.repeat(order, k)
        slot = np.tile(np.arange(k), p)
    else:
        prompt = np.tile(order, k)
        slot = np.repeat(np.arange(k), p)
    rater = raters[prompt, slot]
    preference = expit(logit(np.clip(q[prompt], 1e-9, 1 - 1e-9)) + shift[rater])
    u = rng.random(len(prompt))
    won, lost = u < DECIDED * preference, (u >= DECIDED * preference) & (u < DECIDED)
    tie = (u >= DECIDED) & (u < DECIDED + TIE_RATE)
    left = rng.random(len(prompt)) < 0.5
    choice = np.where(won, np.where(left, "left", "right"),
                      np.where(lost, np.where(left, "right", "left"), np.where(tie, "tie", "both_bad")))
    names = np.array([f"p{i}" for i in range(p)], dtype=object)
    return pd.DataFrame({
        "item": names[prompt], "prompt": names[prompt], "category": category[prompt],
        "rater": np.array([f"r{r}" for r in range(design.n_raters)], dtype=object)[rater],
        "model_left": np.where(left, "tuned", "base"), "model_right": np.where(left, "base", "tuned"),
        "choice": choice, "strength": pd.array([pd.NA] * len(prompt), dtype="Int64"),
        "seconds": 30.0, "length_left": rng.integers(100, 2000, len(prompt)).astype(float),
        "length_right": rng.integers(100, 2000, len(prompt)).astype(float), "gold": None,
    })


def population_win_rate(win_rate: float) -> float:
    return DECIDED * mu_for(win_rate) + (TIE_RATE + BOTH_BAD_RATE) / 2.0


def first_verdict(frame: pd.DataFrame, thresholds: dict, *, k: int, first: int = 50,
                  step: int = 10, n_bootstrap: int = 200, seed: int = 0) -> tuple[str | None, int]:
    """Look after every ``step`` judgments from ``first`` on; the first ship or do-not-ship and
    the judgments seen when it came (``(None, len(frame))`` when none came)."""
    t = DecisionThresholds.from_dict(thresholds)
    for looked in range(first, len(frame) + 1, step):
        decision = decide_study(frame.iloc[:looked], AnalysisOptions(
            candidate="tuned", baseline="base", thresholds=t, n_bootstrap=n_bootstrap, seed=seed, overlap=k))
        if decision.verdict in ("ship", "do_not_ship"):
            return decision.verdict, looked
    return None, len(frame)


def first_verdict_fast(frame: pd.DataFrame, thresholds: dict, *, k: int, first: int = 50,
                       step: int = 10) -> tuple[str | None, int]:
    """:func:`first_verdict` for the anytime method, computed once per study from the same
    confidence sequences (the tests check that both agree)."""
    from review.stats.outcomes import candidate_outcomes
    from review.stats.sequential import completed_prompts, confidence_sequence

    t = DecisionThresholds.from_dict(thresholds)
    assert t.method == "anytime"
    outcomes = candidate_outcomes(frame, "tuned", "base")
    scores = outcomes["score"].to_numpy(dtype=float)
    prompts = outcomes["prompt"].astype(str).to_numpy()
    both_bad = (outcomes["outcome"] == "both_bad").to_numpy()
    alpha = 1.0 - t.confidence
    means, at = completed_prompts(scores, prompts, k)
    low, high = confidence_sequence(means, alpha=alpha)
    guards = []
    category = outcomes["category"].astype(object).to_numpy()
    for name in t.guardrail_categories:
        rows = np.flatnonzero(category == name)
        g_means, g_at = completed_prompts(scores[rows], prompts[rows], k)
        g_low, g_high = confidence_sequence(g_means, alpha=alpha / len(t.guardrail_categories))
        guards.append((rows[g_at], g_low, g_high))
    bound = 0.5 - t.guardrail_margin
    n = np.arange(1, len(scores) + 1)
    running, bad = np.cumsum(scores) / n, np.cumsum(both_bad) / n
    for looked in range(first, len(scores) + 1, step):
        if looked < t.min_judgments:
            continue
        done = int(np.searchsorted(at, looked - 1, side="right"))
        states = []
        for g_at, g_low, g_high in guards:
            g_done = int(np.searchsorted(g_at, looked - 1, side="right"))
            if g_done < t.min_category_prompts or g_low[g_done - 1] >= g_high[g_done - 1]:
                states.append("not_yet")
            elif g_high[g_done - 1] < bound:
                states.append("fail")
            else:
                states.append("pass" if g_low[g_done - 1] > bound else "not_yet")
        decided = done and low[done - 1] < high[done - 1]  # an empty sequence decides nothing
        if bad[looked - 1] > t.max_both_bad_rate or "fail" in states or (
                decided and high[done - 1] < 0.5):
            return "do_not_ship", looked
        if decided and low[done - 1] > 0.5 and running[looked - 1] >= 0.5 + t.margin and all(
                s == "pass" for s in states):
            return "ship", looked
    return None, len(scores)
