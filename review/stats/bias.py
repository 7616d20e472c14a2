"""Bias checks: does the side an answer is shown on, or its length, sway reviewers?

* **Position bias**: share of decisive votes that went to the left (first shown) answer, with a
  two-sided test against 1/2 that treats the prompt as the unit (cluster-robust t test, see
  :mod:`review.stats.clustered`): votes on one prompt are correlated. Left/right order is
  randomised per assignment, so any departure from 1/2 is the reviewers', not the models'.
  Per reviewer (votes on different prompts), an exact binomial test.
* **Length bias**: over decisive votes where both lengths are known, a logistic regression of
  "left won" on the length difference (left minus right, per 1,000 characters; the intercept
  absorbs position bias) with prompt-clustered standard errors, plus the share of votes won by
  the longer answer with a prompt-clustered test against 1/2.
* **Length-controlled win rate** (in the spirit of AlpacaEval 2.0's length-controlled win rate,
  Dubois et al., 2024): the candidate's score (a tie is half a win) regressed on
  ``tanh(length difference / its standard deviation)``; the win rate predicted at zero length
  difference is ``sigmoid(intercept)``, with a prompt-clustered Wald interval.
  **Its assumption**: the length difference affects votes but is not itself part of the
  quality being judged. When a fine-tune is better *because* its answers are fuller, the
  adjustment removes a real improvement. It is only **identified** when the candidate's
  answers are sometimes shorter and sometimes longer than the baseline's (each in at least
  :data:`MIN_LENGTH_SIDE_SHARE` of judgments); otherwise it would extrapolate to a length
  difference never observed, and it is reported as None with the reason.

All return None when the lengths needed are missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from review.stats.clustered import cluster_mean_test
from review.stats.logistic import fit_logistic
from review.stats.winrate import wilson_interval

# The length curve: up to this many quantile groups, and none below this many usable votes.
LENGTH_BINS = 4
MIN_LENGTH_VOTES = 10

LENGTH_UNIT = 1000.0
# The length-controlled win rate needs the candidate shorter and longer each this often.
MIN_LENGTH_SIDE_SHARE = 0.1
LENGTH_BIAS_KEYS = (
    "n",
    "longer_win_rate",
    "longer_win_p_value",
    "coefficient_per_1000_chars",
    "odds_ratio_per_1000_chars",
    "p_value",
)


def position_bias(left_won: np.ndarray, prompts: np.ndarray | None = None) -> dict:
    """Share of decisive votes for the left answer, and a p-value against 1/2.

    Args:
        left_won: 1.0 when the left answer won, 0.0 when the right one did, NaN otherwise.
        prompts: the prompt of each vote: the test is then prompt-clustered (t test on the
            cluster-robust standard error); without it, an exact binomial test.

    Example:
        >>> position_bias(np.array([1.0, 1.0, 0.0, np.nan]))
        {'left_rate': 0.6666666666666666, 'p_value': 1.0, 'n_decisive': 3}
    """
    values = np.asarray(left_won, dtype=float)
    decisive = ~np.isnan(values)
    values = values[decisive]
    if len(values) == 0:
        return {"left_rate": None, "p_value": None, "n_decisive": 0}
    left = int(values.sum())
    if prompts is not None:
        p_value = cluster_mean_test(values, np.asarray(prompts)[decisive], null=0.5)["p_value"]
    else:
        p_value = float(stats.binomtest(left, len(values), 0.5).pvalue)
    return {"left_rate": left / len(values), "p_value": p_value, "n_decisive": len(values)}


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
    prompts = _prompts(encoded)[usable]
    y = left_won[usable]
    difference = (length_left - length_right)[usable]
    unequal = difference != 0
    longer_won = (difference[unequal] > 0) == (y[unequal] == 1.0)
    result = {
        "n": int(usable.sum()),
        "longer_win_rate": float(longer_won.mean()) if unequal.any() else None,
        "longer_win_p_value": (
            cluster_mean_test(longer_won.astype(float), prompts[unequal], null=0.5)["p_value"]
            if unequal.any()
            else None
        ),
        "coefficient_per_1000_chars": None,
        "odds_ratio_per_1000_chars": None,
        "p_value": None,
    }
    if np.ptp(difference) > 0:
        fit = fit_logistic(np.column_stack([np.ones(len(y)), difference / LENGTH_UNIT]), y,
                           clusters=prompts)
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
        ``{estimate, ci_low, ci_high, length_coefficient, p_value, n, identified, reason,
        assumption}`` or None when fewer than :data:`MIN_LENGTH_VOTES` judgments have both
        lengths; ``estimate`` and its interval are None when it is not identified.

    Example:
        >>> frame = pd.DataFrame({"score": [1.0, 0.0] * 10, "length_candidate": [500.0] * 20,
        ...                       "length_baseline": [500.0] * 20})
        >>> length_controlled_win_rate(frame)["identified"]
        False
    """
    score = candidate_frame["score"].to_numpy(dtype=float)
    difference = (
        candidate_frame["length_candidate"].to_numpy(dtype=float)
        - candidate_frame["length_baseline"].to_numpy(dtype=float)
    )
    usable = ~np.isnan(difference)
    if usable.sum() < MIN_LENGTH_VOTES:
        return None
    prompts = _prompts(candidate_frame)[usable]
    score, difference = score[usable], difference[usable]
    result = {"estimate": None, "ci_low": None, "ci_high": None, "length_coefficient": None,
              "p_value": None, "n": int(len(score)), "identified": False, "reason": None,
              "assumption": LENGTH_CONTROL_ASSUMPTION}
    shorter, longer = float((difference < 0).mean()), float((difference > 0).mean())
    if shorter == 0 and longer == 0:
        result["reason"] = "the two models' answers always have the same length: nothing to control for"
        return result
    if min(shorter, longer) < MIN_LENGTH_SIDE_SHARE:
        side = "longer" if longer > shorter else "shorter"
        result["reason"] = (f"the candidate's answer is {side} in {max(shorter, longer):.0%} of "
                            "judgments: the win rate at equal length would be an extrapolation")
        return result
    spread = difference.std()
    features = np.column_stack([np.ones(len(score)), np.tanh(difference / spread)])
    fit = fit_logistic(features, score, clusters=prompts)
    n_prompts = len(np.unique(prompts))
    quantile = float(stats.t.ppf(0.5 + confidence / 2.0, max(n_prompts - 1, 1)))
    intercept, se = float(fit.coef[0]), float(fit.se[0])
    result.update(estimate=float(expit(intercept)), ci_low=float(expit(intercept - quantile * se)),
                  ci_high=float(expit(intercept + quantile * se)),
                  length_coefficient=float(fit.coef[1]), p_value=float(fit.p_value[1]),
                  identified=True)
    return result


LENGTH_CONTROL_ASSUMPTION = ("length differences sway votes but are not part of the quality "
                             "judged; if better answers are better because they are fuller, "
                             "this removes a real improvement")


def _prompts(frame: pd.DataFrame) -> np.ndarray:
    """The prompt of each row (the clustering unit); each row its own prompt when unknown."""
    if "prompt" in frame.columns and frame["prompt"].notna().all():
        column = frame["prompt"]
        if isinstance(column.dtype, pd.CategoricalDtype):
            return column.cat.codes.to_numpy()  # integers: grouping them is fast
        return np.asarray(column.astype(str))
    return np.arange(len(frame))


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
    # One group when the gaps do not split (qcut gives no group to equal values).
    codes = (pd.qcut(gap, q=bins, labels=False, duplicates="drop") if bins > 1 and len(np.unique(gap)) > 1
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
