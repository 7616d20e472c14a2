"""Win rates: estimates worked out by hand, and the behaviour of the prompt-level bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from review.stats import candidate_outcomes, sign_test, wilson_interval, win_rate, win_rate_by_category
from review.stats.bootstrap import bootstrap_ratio, make_rng
from review.stats.winrate import outcome_counts, win_rate_from_scores


@pytest.fixture
def five_judgments(make_judgments):
    return make_judgments(
        [
            ("i1", "ann", "tuned", "base", "left"),      # candidate: 1
            ("i1", "bob", "base", "tuned", "right"),     # candidate: 1
            ("i2", "ann", "tuned", "base", "tie"),       # 1/2
            ("i3", "ann", "tuned", "base", "right"),     # baseline: 0
            ("i4", "ann", "base", "tuned", "both_bad"),  # 1/2
        ],
        prompt=["p1", "p1", "p2", "p3", "p4"],
        category=["code", "code", "code", "chat", None],
    )


def test_win_rate_counts_ties_and_both_bad_as_half(five_judgments):
    result = win_rate(five_judgments, candidate="tuned", baseline="base", n_bootstrap=200)
    # (1 + 1 + 1/2 + 0 + 1/2) / 5 = 3 / 5
    assert result.estimate == pytest.approx(0.6, abs=1e-12)
    assert result.method == "cluster_bootstrap_prompt"
    assert (result.n, result.n_prompts) == (5, 4)
    assert result.ci_low <= result.estimate <= result.ci_high
    counts = outcome_counts(candidate_outcomes(five_judgments, "tuned", "base")["outcome"])
    assert counts == {"candidate": 2, "baseline": 1, "tie": 1, "both_bad": 1}


def test_wilson_interval_by_hand():
    # p = 3/5, z = 1.959964, z^2/n = 0.768296:
    # center = (0.6 + 0.384148) / 1.768296 = 0.556551
    # half   = 1.959964 / 1.768296 * sqrt(0.6 * 0.4 / 5 + z^2 / (4 * 25)) = 0.325828
    low, high = wilson_interval(3, 5)
    assert low == pytest.approx(0.556551 - 0.325828, abs=1e-5)
    assert high == pytest.approx(0.556551 + 0.325828, abs=1e-5)
    # 8 of 10: the textbook interval [0.4902, 0.9433]
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 0) == (None, None)


def test_sign_test_by_hand():
    # 8 wins, 2 losses: P(X >= 8 | n=10, 1/2) = (45 + 10 + 1) / 1024; two-sided p = 112 / 1024.
    result = sign_test(8, 2)
    assert result.estimate == 0.8
    assert result.p_value == pytest.approx(112 / 1024, abs=1e-12)
    # Clopper-Pearson 8/10: Beta(0.025; 8, 3) = 0.44390 and Beta(0.975; 9, 2) = 0.97479
    assert result.ci_low == pytest.approx(0.44390, abs=1e-5)
    assert result.ci_high == pytest.approx(0.97479, abs=1e-5)
    assert sign_test(0, 0).estimate is None


def test_bootstrap_moves_whole_prompts():
    # p1: two wins, p2: one loss. Resampling two prompts gives {p1,p1} -> 1, {p2,p2} -> 0 and
    # {p1,p2} -> 2/3; resampling single judgments would also give 1/3.
    scores = np.array([1.0, 1.0, 0.0])
    prompts = np.array(["p1", "p1", "p2"])
    doubled = np.array([4.0, 0.0])  # twice the per-prompt score sums
    sizes = np.array([2.0, 1.0])
    draws = bootstrap_ratio(doubled, sizes, 2000, make_rng(0, 1)) / 2
    assert set(np.round(draws, 6)) == {0.0, round(2 / 3, 6), 1.0}
    result = win_rate_from_scores(scores, prompts, n_bootstrap=500)
    assert result.estimate == pytest.approx(2 / 3)
    assert result.ci_low == 0.0 and result.ci_high == 1.0


def test_bootstrap_is_reproducible_and_seeded(five_judgments):
    first = win_rate(five_judgments, candidate="tuned", baseline="base", n_bootstrap=300, seed=3)
    again = win_rate(five_judgments, candidate="tuned", baseline="base", n_bootstrap=300, seed=3)
    assert first == again


def test_design_effect_of_perfectly_clustered_prompts():
    # 50 prompts x 4 judgments, identical within a prompt, half won: the bootstrap variance is
    # that of a mean of 50 prompt means, 0.25 / 50, against 0.25 / 200 for 200 independent
    # judgments, a design effect of 4 (bootstrap noise with 4000 rounds: a few percent).
    scores = np.repeat(np.tile([1.0, 0.0], 25), 4)
    prompts = np.repeat(np.arange(50), 4)
    result = win_rate_from_scores(scores, prompts, n_bootstrap=4000)
    assert result.design_effect == pytest.approx(4.0, rel=0.1)
    assert result.score_variance == pytest.approx(0.25)


def test_no_judgments_give_no_estimate(make_judgments):
    frame = make_judgments([("i1", "ann", "x", "y", "left")])
    result = win_rate(frame, candidate="tuned", baseline="base", n_bootstrap=10)
    assert (result.estimate, result.ci_low, result.n) == (None, None, 0)


def test_win_rate_by_category(five_judgments):
    frame = candidate_outcomes(five_judgments, "tuned", "base")
    rows = win_rate_by_category(frame, n_bootstrap=200)
    # chat: i3 lost -> 0; code: 1, 1, 1/2 -> 5/6; the judgment without category is left out.
    assert [(row["category"], row["n"]) for row in rows] == [("chat", 1), ("code", 3)]
    assert rows[0]["win_rate"] == 0.0
    assert rows[1]["win_rate"] == pytest.approx(5 / 6)
    assert rows[1]["ci_low"] <= 5 / 6 <= rows[1]["ci_high"]
