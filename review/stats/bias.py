"""Bias checks: does the side an answer is shown on, or its length, sway reviewers?

* **Position bias**: share of decisive votes that went to the left (first shown) answer, with an
  exact two-sided binomial test against 1/2. Left/right order is randomised per assignment, so
  any departure from 1/2 is the reviewers', not the models'.
* **Length bias**: over decisive votes where both lengths are known, a logistic regression of
  "left won" on the length difference (left minus right, per 1,000 characters; the intercept
  absorbs position bias), plus the plain share of votes won by the longer answer.
* **Length-controlled win rate** (in the spirit of AlpacaEval 2.0's length-controlled win rate,
  Dubois et al., 2024): the candidate's score (a tie is half a win) regressed on
  ``tanh(length difference / its standard deviation)``; the win rate predicted at zero length
  difference is ``sigmoid(intercept)``. Its interval is the Wald interval of the intercept.

All return None when the lengths needed are missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from review.stats.logistic import fit_logistic
from review.stats.winrate import wilson_interval

# The length curve: up to this many quantile groups, and none below this many usable votes.
LENGTH_BINS = 4
MIN_LENGTH_VOTES = 10

LENGTH_UNIT = 1000.0
MIN_LENGTH_VOTES = 10
LENGTH_BIAS_KEYS = (
    "n",
    "longer_win_rate",
    "longer_win_p_value",
    "coefficient_per_1000_chars",
    "odds_ratio_per_1000_chars",
    "p_value",
)


def position_bias(left_won: np.ndarray) -> dict:
    """Share of decisive votes for the left answer, and the binomial p-value against 1/2.

    Args:
        left_won: 1.0 when the left answer won, 0.0 when the right one did, NaN otherwise.

    Example:
        >>> position_bias(np.array([1.0, 1.0, 0.0, np.nan]))
        {'left_rate': 0.6666666666666666, 'p_value': 1.0, 'n_decisive': 3}
    """
    values = np.asarray(left_won, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return {"left_rate": None, "p_value": None, "n_decisive": 0}
    left = int(values.sum())
    return {
        "left_rate": left / len(values),
        "p_value": float(stats.binomtest(left, len(values), 0.5).pvalue),
        "n_decisive": len(values),
    }


def position_bias_by_reviewer(encoded: pd.DataFrame) -> list[dict]:
    """:func:`position_bias` for each reviewer (columns ``rater`` and ``left_won``).

    Example:
        >>> frame = pd.DataFrame({"rater": ["ann", "ann", "bob"], "left_won": [1.0, 0.0, 1.0]})
        >>> [row["left_rate"] for row in position_bias_by_reviewer(frame)]
        [0.5, 1.0]
    """
    raters, names = pd.factorize(encoded["rater"], sort=True)
    left_won = encoded["left_won"].to_numpy(dtype=float)
    decisive = ~np.isnan(left_won)
    n_decisive = np.bincount(raters[decisive], minlength=len(names))
    n_left = np.bincount(raters[decisive], weights=left_won[decisive], minlength=len(names))
    rows = []
    for position, name in enumerate(names):
        n, left = int(n_decisive[position]), int(round(n_left[position]))
        rows.append(
            {
                "reviewer": str(name),
                "left_rate": left / n if n else None,
                "p_value": float(stats.binomtest(left, n, 0.5).pvalue) if n else None,
                "n_decisive": n,
            }
        )
    return rows


def length_bias(encoded: pd.DataFrame) -> dict | None:
    """Whether the longer answer tends to win, over decisive votes with both lengths known.

    Returns:
        ``{n, longer_win_rate, longer_win_p_value, coefficient_per_1000_chars,
        odds_ratio_per_1000_chars, p_value}`` or None when fewer than
        :data:`MIN_LENGTH_VOTES` decisive votes have both lengths.

    Example:
        >>> frame = pd.DataFrame({"left_won": [1.0, 0.0] * 10,
        ...                       "length_left": [900.0, 100.0] * 10, "length_right": [100.0] * 20})
        >>> length_bias(frame)["longer_win_rate"]
        1.0
    """
    left_won = encoded["left_won"].to_numpy(dtype=float)
    length_left = encoded["length_left"].to_numpy(dtype=float)
    length_right = encoded["length_right"].to_numpy(dtype=float)
    usable = ~np.isnan(left_won) & ~np.isnan(length_left) & ~np.isnan(length_right)
    if usable.sum() < MIN_LENGTH_VOTES:
        return None
    y = left_won[usable]
    difference = (length_left - length_right)[usable]
    unequal = difference != 0
    longer_won = (difference[unequal] > 0) == (y[unequal] == 1.0)
    result = {
        "n": int(usable.sum()),
        "longer_win_rate": float(longer_won.mean()) if unequal.any() else None,
        "longer_win_p_value": (
            float(stats.binomtest(int(longer_won.sum()), int(unequal.sum()), 0.5).pvalue)
            if unequal.any()
            else None
        ),
        "coefficient_per_1000_chars": None,
        "odds_ratio_per_1000_chars": None,
        "p_value": None,
    }
    if np.ptp(difference) > 0:
        fit = fit_logistic(np.column_stack([np.ones(len(y)), difference / LENGTH_UNIT]), y)
        result["coefficient_per_1000_chars"] = float(fit.coef[1])
        result["odds_ratio_per_1000_chars"] = float(np.exp(fit.coef[1]))
        result["p_value"] = float(fit.p_value[1])
    return result


def length_controlled_win_rate(candidate_frame: pd.DataFrame, confidence: float = 0.95) -> dict | None:
    """Candidate win rate predicted at zero length difference (see the module docstring).

    Args:
        candidate_frame: output of :func:`review.stats.outcomes.candidate_outcomes` (columns
            ``score``, ``length_candidate``, ``length_baseline``).

    Returns:
        ``{estimate, ci_low, ci_high, length_coefficient, p_value, n}`` or None when fewer than
        :data:`MIN_LENGTH_VOTES` judgments have both lengths.

    Example:
        >>> frame = pd.DataFrame({"score": [1.0, 0.0] * 10, "length_candidate": [500.0] * 20,
        ...                       "length_baseline": [500.0] * 20})
        >>> length_controlled_win_rate(frame)["estimate"]
        0.5
    """
    score = candidate_frame["score"].to_numpy(dtype=float)
    difference = (
        candidate_frame["length_candidate"].to_numpy(dtype=float)
        - candidate_frame["length_baseline"].to_numpy(dtype=float)
    )
    usable = ~np.isnan(difference)
    if usable.sum() < MIN_LENGTH_VOTES:
        return None
    score, difference = score[usable], difference[usable]
    spread = difference.std()
    if spread > 0:
        features = np.column_stack([np.ones(len(score)), np.tanh(difference / spread)])
    else:
        features = np.ones((len(score), 1))
    fit = fit_logistic(features, score)
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    intercept, se = float(fit.coef[0]), float(fit.se[0])
    return {
        "estimate": float(expit(intercept)),
        "ci_low": float(expit(intercept - z * se)),
        "ci_high": float(expit(intercept + z * se)),
        "length_coefficient": float(fit.coef[1]) if spread > 0 else None,
        "p_value": float(fit.p_value[1]) if spread > 0 else None,
        "n": int(len(score)),
    }


def length_bins(encoded: pd.DataFrame, *, confidence: float = 0.95,
                bins: int = LENGTH_BINS) -> list[dict[str, Any]]:
    """Share of decisive votes won by the longer answer, by how much longer it was.

    Votes are grouped into up to ``bins`` quantile groups of the absolute length difference
    (characters); each group has the share and its Wilson interval. Empty when fewer than
    :data:`MIN_LENGTH_VOTES` decisive votes compare answers of different lengths.

    Example:
        >>> frame = pd.DataFrame({"left_won": [1.0, 0.0] * 10, "length_left": [300.0, 100.0] * 10,
        ...                       "length_right": [100.0] * 20})
        >>> [(row["n"], row["longer_win_rate"]) for row in length_bins(frame, bins=1)]
        [(10, 1.0)]
    """
    left_won = encoded["left_won"].to_numpy(dtype=float)
    length_left = encoded["length_left"].to_numpy(dtype=float)
    length_right = encoded["length_right"].to_numpy(dtype=float)
    difference = length_left - length_right
    usable = ~np.isnan(left_won) & ~np.isnan(difference) & (difference != 0)
    if usable.sum() < MIN_LENGTH_VOTES:
        return []
    gap = np.abs(difference[usable])
    longer_won = (difference[usable] > 0) == (left_won[usable] == 1.0)
    codes = (pd.qcut(gap, q=bins, labels=False, duplicates="drop") if bins > 1
             else np.zeros(len(gap), dtype=int))
    rows = []
    for code in np.unique(codes):
        members = codes == code
        n = int(members.sum())
        wins = int(longer_won[members].sum())
        low, high = wilson_interval(wins, n, confidence)
        rows.append({"min_chars": int(gap[members].min()), "max_chars": int(gap[members].max()),
                     "n": n, "longer_win_rate": wins / n, "ci_low": low, "ci_high": high})
    return rows
