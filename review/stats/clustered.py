"""Tests and intervals that respect clustering: judgments of one prompt are not independent.

Three reviewers judging the same prompt tend to agree because the prompt is easy or hard for
the candidate, so treating their judgments as independent draws makes intervals too narrow and
p-values too small (under the null, a sign test on clustered votes rejects far more often than
5%). Everything here treats the *cluster* (a prompt; optionally also a reviewer) as the unit.

* :func:`cluster_mean_test`: the mean of per-judgment values with a cluster-robust (CR1)
  standard error, a Student t interval and a two-sided t test with ``C - 1`` degrees of
  freedom (``C`` clusters). Reference: Cameron & Miller, "A practitioner's guide to
  cluster-robust inference", J. Human Resources 2015, sections II-IV.
* :func:`two_way_mean_interval`: the same with two crossed clustering dimensions (prompts x
  reviewers), the Cameron-Gelbach-Miller variance ``V_prompt + V_reviewer - V_cell``
  (J. Business & Economic Statistics 2011), t with ``min(C_prompt, C_reviewer) - 1`` degrees
  of freedom. Use it when the result must hold for other reviewers than those who voted.
* :func:`holm`: Holm's step-down adjustment of p-values (Holm, Scand. J. Statistics 1979).

Example:
    >>> import numpy as np
    >>> result = cluster_mean_test(np.array([1, 1, 0, 1, 0, 0]), np.array([0, 0, 1, 1, 2, 2]), null=0.5)
    >>> round(result["estimate"], 3), result["n_clusters"]
    (0.5, 3)
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _cluster_sums(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, codes = np.unique(clusters, return_inverse=True)
    sums = np.bincount(codes, weights=values)
    sizes = np.bincount(codes).astype(float)
    return sums, sizes


def cluster_variance(values: np.ndarray, clusters: np.ndarray) -> tuple[float, float, int]:
    """The mean of ``values``, its CR1 cluster-robust variance and the number of clusters."""
    values = np.asarray(values, dtype=float)
    sums, sizes = _cluster_sums(values, np.asarray(clusters))
    n_clusters, total = len(sums), sizes.sum()
    mean = sums.sum() / total
    if n_clusters < 2:
        return float(mean), float("nan"), n_clusters
    residual = sums - mean * sizes
    variance = n_clusters / (n_clusters - 1) * float((residual ** 2).sum()) / total ** 2
    return float(mean), variance, n_clusters


def cluster_mean_test(values: np.ndarray, clusters: np.ndarray, *, null: float = 0.5,
                      confidence: float = 0.95) -> dict:
    """Mean of ``values`` with a cluster-robust t interval and two-sided p-value against ``null``.

    Returns ``{estimate, ci_low, ci_high, p_value, n, n_clusters}``; interval and p-value are
    None with fewer than two clusters or no variation between them.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None, "p_value": None, "n": 0,
                "n_clusters": 0}
    mean, variance, n_clusters = cluster_variance(values, clusters)
    result = {"estimate": mean, "ci_low": None, "ci_high": None, "p_value": None,
              "n": int(len(values)), "n_clusters": int(n_clusters)}
    if not np.isfinite(variance) or variance <= 0:
        return result
    se = float(np.sqrt(variance))
    quantile = float(stats.t.ppf(0.5 + confidence / 2.0, n_clusters - 1))
    result.update(ci_low=max(0.0, mean - quantile * se), ci_high=min(1.0, mean + quantile * se),
                  p_value=float(2.0 * stats.t.sf(abs(mean - null) / se, n_clusters - 1)))
    return result


def one_sided_p(values: np.ndarray, clusters: np.ndarray, *, null: float,
                alternative: str) -> float | None:
    """Cluster-robust one-sided t-test p-value: ``alternative`` ``greater`` (mean > null) or
    ``less`` (mean < null). None when it cannot be computed (fewer than two clusters)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return None
    mean, variance, n_clusters = cluster_variance(values, clusters)
    if not np.isfinite(variance):
        return None
    if variance <= 0:
        above = mean > null if alternative == "greater" else mean < null
        return 0.0 if above else 1.0
    statistic = (mean - null) / np.sqrt(variance)
    if alternative == "less":
        statistic = -statistic
    return float(stats.t.sf(statistic, n_clusters - 1))


def two_way_mean_interval(values: np.ndarray, prompts: np.ndarray, raters: np.ndarray, *,
                          confidence: float = 0.95) -> tuple[float | None, float | None]:
    """A t interval for the mean of ``values`` clustered by prompt *and* by rater (CGM 2011)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return None, None
    mean, v_prompt, c_prompt = cluster_variance(values, prompts)
    _, v_rater, c_rater = cluster_variance(values, raters)
    _, prompt_codes = np.unique(np.asarray(prompts), return_inverse=True)
    _, rater_codes = np.unique(np.asarray(raters), return_inverse=True)
    cells = prompt_codes.astype(np.int64) * (int(rater_codes.max()) + 1) + rater_codes
    _, v_cell, _ = cluster_variance(values, cells)
    if min(c_prompt, c_rater) < 2 or not all(np.isfinite([v_prompt, v_rater, v_cell])):
        return None, None
    variance = v_prompt + v_rater - v_cell
    if variance <= 0:  # the CGM estimate can be negative in small samples
        variance = max(v_prompt, v_rater)
    se = float(np.sqrt(variance))
    quantile = float(stats.t.ppf(0.5 + confidence / 2.0, min(c_prompt, c_rater) - 1))
    return max(0.0, mean - quantile * se), min(1.0, mean + quantile * se)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input order (None stays None and is not counted).

    Example:
        >>> holm([0.01, 0.04, 0.03, None])
        [0.03, 0.06, 0.06, None]
    """
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(present)
    for rank, (p, index) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = round(running, 12)
    return adjusted
