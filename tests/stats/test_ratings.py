"""Bradley-Terry ratings on the Elo scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from review.stats import bradley_terry
from review.stats.ratings import ELO_SCALE, PairTable, fit_bradley_terry


def battles(wins: dict[tuple[str, str], tuple[int, int, int]]) -> pd.DataFrame:
    """Judgments from {(model x, model y): (x wins, y wins, ties)}, sides alternating."""
    rows = []
    for (x, y), (x_wins, y_wins, ties) in wins.items():
        outcomes = ["x"] * x_wins + ["y"] * y_wins + ["tie"] * ties
        for index, outcome in enumerate(outcomes):
            left, right = (x, y) if index % 2 == 0 else (y, x)
            if outcome == "tie":
                choice = "tie"
            else:
                choice = "left" if (outcome == "x") == (left == x) else "right"
            rows.append((f"{x}-{y}-{index}", f"r{index % 7}", left, right, choice))
    return pd.DataFrame(rows, columns=["item", "rater", "model_left", "model_right", "choice"])


def scores(ratings) -> dict[str, float]:
    return {rating.model: rating.score for rating in ratings}


def test_a_beats_b_three_times_in_four():
    # P(A beats B) = 3/4 -> theta_A - theta_B = ln 3 -> 400 * log10(3) = 190.85 Elo points.
    # (The weak prior moves it by about 0.01 point with 400 judgments.)
    ratings = bradley_terry(battles({("A", "B"): (300, 100, 0)}), anchor="B", n_bootstrap=0)
    assert scores(ratings) == {"A": pytest.approx(1000 + 400 * math.log10(3), abs=0.1), "B": 1000.0}
    assert [rating.model for rating in ratings] == ["A", "B"]
    assert ratings[0].n == 400


def test_ties_count_half_a_win_each_way():
    # 100 wins + 100 ties against 0 wins: 150 to 50, again 3 to 1.
    ratings = bradley_terry(battles({("A", "B"): (100, 0, 100)}), anchor="B", n_bootstrap=0)
    assert scores(ratings)["A"] == pytest.approx(1000 + 400 * math.log10(3), abs=0.1)


def test_mean_is_1000_without_an_anchor():
    ratings = bradley_terry(battles({("A", "B"): (300, 100, 0)}), n_bootstrap=0)
    values = scores(ratings)
    assert (values["A"] + values["B"]) / 2 == pytest.approx(1000.0)
    assert values["A"] - values["B"] == pytest.approx(400 * math.log10(3), abs=0.1)


def test_agrees_with_logistic_regression_as_chatbot_arena_fits_it():
    # Chatbot Arena's compute_mle_elo: one row per battle, +1 for model_a, -1 for model_b,
    # (almost) no regularisation; a tie is entered once as a win and once as a loss, here with
    # weight 1/2 each so that it counts as one judgment, as in review.stats.
    rng = np.random.default_rng(11)
    strength = {"m0": 0.0, "m1": 0.4, "m2": 0.9, "m3": 1.5}
    names = list(strength)
    counts = {}
    for x, y in [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]:
        p = 1 / (1 + math.exp(strength[y] - strength[x]))
        n = 300
        ties = rng.binomial(n, 0.1)
        x_wins = rng.binomial(n - ties, p)
        counts[(x, y)] = (x_wins, n - ties - x_wins, ties)
    ours = scores(bradley_terry(battles(counts), anchor="m0", n_bootstrap=0))

    rows, labels, weights = [], [], []
    for (x, y), (x_wins, y_wins, ties) in counts.items():
        vector = np.zeros(len(names))
        vector[names.index(x)], vector[names.index(y)] = 1.0, -1.0
        for label, count, weight in ((1, x_wins, 1.0), (0, y_wins, 1.0), (1, ties, 0.5), (0, ties, 0.5)):
            rows += [vector] * count
            labels += [label] * count
            weights += [weight] * count
    model = LogisticRegression(fit_intercept=False, C=1e6, tol=1e-8, max_iter=1000)
    model.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    theta = model.coef_[0]
    for index, name in enumerate(names):
        expected = 1000 + ELO_SCALE * (theta[index] - theta[0])
        assert ours[name] == pytest.approx(expected, abs=0.5)


def test_batched_fit_equals_one_fit_per_table():
    table = PairTable(
        np.array(["a", "b", "c"]), np.array([0, 0, 1]), np.array([1, 2, 2]),
        np.array([[30, 10, 5], [20, 20, 0], [5, 25, 3]]),
    )
    rng = np.random.default_rng(2)
    resamples = rng.multinomial(table.counts.sum(), table.counts.ravel() / table.counts.sum(), size=5)
    batched = fit_bradley_terry(table, resamples.reshape(5, 3, 3))
    for index in range(5):
        single = PairTable(table.models, table.first, table.second, resamples[index].reshape(3, 3))
        np.testing.assert_allclose(batched[index], fit_bradley_terry(single)[0], atol=1e-9)


def test_bootstrap_interval_is_seeded_and_brackets_the_score():
    frame = battles({("A", "B"): (60, 40, 10), ("B", "C"): (55, 45, 0), ("A", "C"): (70, 30, 5)})
    first = bradley_terry(frame, anchor="B", n_bootstrap=300, seed=4)
    assert first == bradley_terry(frame, anchor="B", n_bootstrap=300, seed=4)
    for rating in first:
        assert rating.ci_low <= rating.score <= rating.ci_high
    anchored = next(rating for rating in first if rating.model == "B")
    assert anchored.ci_low == anchored.ci_high == 1000.0


def test_a_model_that_never_loses_gets_a_finite_score():
    ratings = bradley_terry(battles({("A", "B"): (20, 0, 0), ("B", "C"): (10, 10, 0)}), anchor="B", n_bootstrap=50)
    values = scores(ratings)
    assert math.isfinite(values["A"]) and values["A"] > values["B"]
    assert all(math.isfinite(r.ci_high) for r in ratings)


def test_gold_items_and_self_comparisons_are_left_out():
    frame = battles({("A", "B"): (3, 1, 0)})
    frame.loc[len(frame)] = ["g1", "r1", "B", "A", "left"]
    frame.loc[len(frame)] = ["s1", "r1", "A", "A", "left"]
    frame["gold"] = [None] * (len(frame) - 2) + ["B", None]
    ratings = bradley_terry(frame, anchor="B", n_bootstrap=0)
    assert {rating.model: rating.n for rating in ratings} == {"A": 4, "B": 4}
