"""Seeded simulations: the decision rule's error rates and the interval's coverage.

Studies come from :mod:`tests.stats.simulation`: prompts differ in difficulty (Beta-distributed
preference, kappa = 1), so judgments of the same prompt are correlated. Everything is seeded,
so the counts below are fixed; the tolerances say how far a different seed could move them.
"""

from __future__ import annotations

import numpy as np
import pytest

from review.stats import AnalysisOptions, decide_study, wilson_interval
from review.stats.bootstrap import make_rng
from review.stats.winrate import win_rate_from_scores

from .simulation import BOTH_BAD_RATE, TIE_RATE, mu_for, simulate_study

N_STUDIES = 200
ROUNDS = 200
# Standard error of a share estimated from 200 simulated studies, at 5% and at 80%.
NOISE_AT_5 = (0.05 * 0.95 / N_STUDIES) ** 0.5    # 0.015
NOISE_AT_80 = (0.80 * 0.20 / N_STUDIES) ** 0.5   # 0.028


FIXED = {"method": "fixed"}


def verdicts(win_rate: float, seed: int, thresholds=FIXED) -> list[str]:
    """Verdicts of 200 studies of 400 judgments: 200 prompts, 2 reviewers each, one look."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(N_STUDIES):
        frame = simulate_study(rng, win_rate=win_rate, n_prompts=200, raters_per_prompt=2)
        decision = decide_study(frame, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=ROUNDS,
                                                       seed=index, thresholds=thresholds))
        out.append(decision.verdict)
    return out


def test_equal_models_are_rarely_shipped():
    # The rule's design target is at most 5% false ships; allowed: 5% plus two standard errors
    # of a 200-study share (0.05 + 2 * 0.015 = 8%, i.e. 16 studies).
    results = verdicts(0.5, seed=100)
    shipped = results.count("ship") / N_STUDIES
    assert shipped <= 0.05 + 2 * NOISE_AT_5, shipped


def test_a_sixty_percent_candidate_is_shipped_with_400_judgments():
    # Target power 80% for one planned look; the design gives about 90%, so asserting 80%
    # outright leaves more than three standard errors of room.
    results = verdicts(0.6, seed=200)
    shipped = results.count("ship") / N_STUDIES
    assert shipped >= 0.80, shipped


def test_the_anytime_rule_is_stricter_at_one_look_and_never_ships_equal_models():
    # The confidence sequence pays for looking often: at a single look it is wider than the
    # fixed interval, so it ships equal models even less often, and a 0.60 candidate less
    # often with only 400 judgments (its power comes with more judgments; see
    # benchmarks/verdict.py and docs/statistics.md).
    equal = verdicts(0.5, seed=100, thresholds={"method": "anytime"})
    better = verdicts(0.6, seed=200, thresholds={"method": "anytime"})
    assert equal.count("ship") <= 0.025 * N_STUDIES, equal.count("ship")
    assert 0.3 * N_STUDIES <= better.count("ship") < verdicts(0.6, seed=200).count("ship")


def test_cluster_bootstrap_covers_the_true_win_rate():
    # 400 studies of 150 prompts x 3 reviewers. Nominal coverage 95%; the percentile bootstrap
    # runs a little short with 150 clusters, and 400 studies add a standard error of 1.1%, so
    # anything in [0.91, 0.985] passes. The Wilson interval, which treats the 450 judgments as
    # independent, must do visibly worse on the same studies: that is why prompts are resampled.
    rng = np.random.default_rng(300)
    true_rate = (1 - TIE_RATE - BOTH_BAD_RATE) * mu_for(0.58) + (TIE_RATE + BOTH_BAD_RATE) / 2
    assert true_rate == pytest.approx(0.58)
    covered = wilson_covered = 0
    n_studies = 400
    for index in range(n_studies):
        frame = simulate_study(rng, win_rate=0.58, n_prompts=150, raters_per_prompt=3)
        candidate_won = (frame["model_left"] == "tuned") == (frame["choice"] == "left")
        decisive = frame["choice"].isin(["left", "right"])
        scores = np.where(decisive, candidate_won.astype(float), 0.5)
        result = win_rate_from_scores(scores, frame["prompt"].to_numpy(), n_bootstrap=ROUNDS,
                                      rng=make_rng(index, 1))
        covered += result.ci_low <= true_rate <= result.ci_high
        low, high = wilson_interval(scores.sum(), len(scores))
        wilson_covered += low <= true_rate <= high
    coverage = covered / n_studies
    assert 0.91 <= coverage <= 0.985, coverage
    assert wilson_covered / n_studies < coverage - 0.03, (wilson_covered / n_studies, coverage)
