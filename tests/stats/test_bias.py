"""Position and length bias, and the length-controlled win rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from review.stats import (
    candidate_outcomes,
    encode,
    length_bias,
    length_controlled_win_rate,
    position_bias,
    position_bias_by_reviewer,
)


def test_position_bias_by_hand():
    # 7 of 10 decisive votes went left; two-sided binomial p = 2 * (1 + 10 + 45 + 120) / 1024.
    left_won = np.array([1.0] * 7 + [0.0] * 3 + [np.nan] * 4)
    assert position_bias(left_won) == {
        "left_rate": 0.7,
        "p_value": pytest.approx(352 / 1024),
        "n_decisive": 10,
    }
    assert position_bias(np.array([np.nan]))["left_rate"] is None


def test_position_bias_per_reviewer(make_judgments):
    frame = encode(make_judgments([
        ("i1", "ann", "x", "y", "left"),
        ("i2", "ann", "y", "x", "left"),
        ("i3", "ann", "x", "y", "tie"),
        ("i1", "bob", "y", "x", "right"),
    ]))
    rows = position_bias_by_reviewer(frame)
    assert [(r["reviewer"], r["left_rate"], r["n_decisive"]) for r in rows] == [
        ("ann", 1.0, 2),
        ("bob", 0.0, 1),
    ]


def length_votes(n_longer_won: int, n_shorter_won: int) -> pd.DataFrame:
    """Decisive votes where the left answer is 1,000 characters longer (or shorter)."""
    rows = []
    for index in range(n_longer_won + n_shorter_won):
        longer_won = index < n_longer_won
        left_longer = index % 2 == 0
        rows.append({
            "left_won": 1.0 if longer_won == left_longer else 0.0,
            "length_left": 1500.0 if left_longer else 500.0,
            "length_right": 500.0 if left_longer else 1500.0,
        })
    return pd.DataFrame(rows)


def test_length_bias_detects_the_longer_answer_winning():
    result = length_bias(length_votes(80, 20))
    assert result["n"] == 100
    assert result["longer_win_rate"] == 0.8
    # Differences of +-1000 characters, balanced over sides: the slope per 1,000 characters is
    # half the log-odds gap between the two groups, (logit(0.8) - logit(0.2)) / 2 = logit(0.8).
    assert result["coefficient_per_1000_chars"] == pytest.approx(logit(0.8), abs=1e-6)
    assert result["p_value"] < 1e-6


def test_length_bias_is_none_without_lengths():
    frame = pd.DataFrame({"left_won": [1.0] * 20, "length_left": [np.nan] * 20, "length_right": [np.nan] * 20})
    assert length_bias(frame) is None


def test_length_controlled_win_rate_by_hand(make_judgments):
    # 50 judgments with the candidate 400 characters longer (it wins 40, loses 10) and 50 with it
    # 400 shorter (wins 20, loses 30). The length term is +-tanh(1), a saturated model, so the
    # prediction at zero difference is sigmoid((logit(0.8) + logit(0.4)) / 2) = 0.6202, against
    # a raw win rate of 0.6.
    rows, lengths = [], []
    for index in range(100):
        longer = index < 50
        won = index < 40 or 50 <= index < 70
        rows.append((f"i{index}", "ann", "tuned", "base", "left" if won else "right"))
        lengths.append((900 if longer else 500, 500 if longer else 900))
    frame = make_judgments(rows, length_left=[a for a, _ in lengths], length_right=[b for _, b in lengths])
    result = length_controlled_win_rate(candidate_outcomes(frame, "tuned", "base"))
    expected = expit((logit(0.8) + logit(0.4)) / 2)
    assert result["estimate"] == pytest.approx(expected, abs=1e-6)
    assert round(expected, 4) == 0.6202
    assert result["ci_low"] < result["estimate"] < result["ci_high"]
    assert result["length_coefficient"] > 0
    assert result["n"] == 100


def test_length_controlled_win_rate_is_none_without_lengths(make_judgments):
    frame = make_judgments([(f"i{i}", "ann", "tuned", "base", "left") for i in range(20)])
    assert length_controlled_win_rate(candidate_outcomes(frame, "tuned", "base")) is None


def test_length_control_is_not_identified_when_the_candidate_is_always_longer(make_judgments):
    # 40 wins, 10 losses, the candidate 400 characters longer every time: the win rate at equal
    # length is never observed, so it is not reported (the former fit said 0.98 [0, 1]).
    rows = [(f"i{i}", "ann", "tuned", "base", "left" if i < 40 else "right") for i in range(50)]
    frame = make_judgments(rows, length_left=[900] * 50, length_right=[500] * 50)
    result = length_controlled_win_rate(candidate_outcomes(frame, "tuned", "base"))
    assert result["identified"] is False and result["estimate"] is None
    assert result["reason"] == ("the candidate's answer is longer in 100% of judgments: the win "
                                "rate at equal length would be an extrapolation")
    assert "not part of the quality" in result["assumption"]


def test_bias_tests_treat_the_prompt_as_the_unit():
    # 30 prompts whose 4 votes all go left (or right) together: by prompt, 18 left and 12
    # right. Counted as 120 independent votes (72 vs 48) the binomial test rejects at 5%; with
    # the prompt as the unit it does not (p = 0.28 with 29 degrees of freedom).
    prompts = np.repeat(np.arange(30), 4)
    left_won = np.repeat((np.arange(30) < 18).astype(float), 4)
    independent = position_bias(left_won)
    clustered = position_bias(left_won, prompts)
    assert independent["p_value"] < 0.05
    assert clustered["p_value"] == pytest.approx(0.28, abs=0.01)
    assert clustered["left_rate"] == independent["left_rate"] == 0.6
