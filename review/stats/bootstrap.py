"""Vectorised bootstrap resampling of clusters (prompts, items, judgments).

Resampling ``n`` clusters with replacement only matters through how many times each cluster is
drawn, and clusters whose summaries are identical are interchangeable. So the clusters are
grouped into distinct *patterns* (identical rows of summary values) and every bootstrap round is
one multinomial draw of pattern counts: all rounds are drawn at once and every statistic is a
matrix product ``counts @ patterns``. This is exactly the ordinary nonparametric bootstrap,
only without materialising the resampled data.
"""

from __future__ import annotations

import numpy as np

# Drawing one multinomial count costs about as much as a dozen uniform draws, so the per-cluster
# path (draw indices, then bincount) wins when patterns are nearly as many as clusters.
_MULTINOMIAL_COST = 12
_CHUNK_CELLS = 4_000_000


def make_rng(seed: int, stream: int) -> np.random.Generator:
    """An independent, reproducible random stream for one statistic of one analysis.

    Example:
        >>> float(make_rng(0, 1).random()) == float(make_rng(0, 1).random())
        True
    """
    return np.random.default_rng([int(seed), int(stream)])


def resample_patterns(
    summaries: np.ndarray, n_rounds: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap clusters given one row of summary values per cluster.

    Args:
        summaries: array ``(n_clusters, k)`` (or ``(n_clusters,)``) of per-cluster values.
        n_rounds: number of bootstrap rounds.
        rng: random generator.

    Returns:
        ``(patterns, counts)``: the distinct summary rows ``(P, k)`` and, for every round, how
        many resampled clusters have each pattern ``(n_rounds, P)``; ``counts.sum(1) == n``.

    Example:
        >>> patterns, counts = resample_patterns(np.array([[1, 2], [1, 2], [0, 1]]), 3,
        ...                                      np.random.default_rng(0))
        >>> patterns.tolist(), counts.sum(axis=1).tolist()
        ([[0, 1], [1, 2]], [3, 3, 3])
    """
    summaries = np.asarray(summaries)
    if summaries.ndim == 1:
        summaries = summaries[:, None]
    n = len(summaries)
    if n == 0:
        return summaries[:0], np.zeros((n_rounds, 0), dtype=np.int64)
    patterns, inverse, frequency = np.unique(
        summaries, axis=0, return_inverse=True, return_counts=True
    )
    inverse = inverse.reshape(-1)
    n_patterns = len(patterns)
    if n_patterns * _MULTINOMIAL_COST <= n:
        counts = rng.multinomial(n, frequency / n, size=n_rounds)
        return patterns, counts
    counts = np.empty((n_rounds, n_patterns), dtype=np.int64)
    chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_rounds, chunk):
        stop = min(n_rounds, start + chunk)
        drawn = inverse[rng.integers(0, n, size=(stop - start, n))]
        offsets = (np.arange(stop - start) * n_patterns)[:, None]
        counts[start:stop] = np.bincount(
            (drawn + offsets).ravel(), minlength=(stop - start) * n_patterns
        ).reshape(stop - start, n_patterns)
    return patterns, counts


def bootstrap_ratio(
    numerators: np.ndarray, denominators: np.ndarray, n_rounds: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap ``sum(numerators) / sum(denominators)`` resampling clusters.

    Example:
        >>> draws = bootstrap_ratio(np.array([2.0, 0.0]), np.array([2.0, 2.0]), 1000,
        ...                         np.random.default_rng(0))
        >>> bool(draws.min() >= 0.0 and draws.max() <= 1.0)
        True
    """
    summaries = np.column_stack([np.asarray(numerators, float), np.asarray(denominators, float)])
    patterns, counts = resample_patterns(summaries, n_rounds, rng)
    totals = counts @ patterns
    with np.errstate(invalid="ignore", divide="ignore"):
        return totals[:, 0] / totals[:, 1]


def percentile_interval(
    draws: np.ndarray, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Equal-tailed percentile interval of bootstrap draws, ignoring NaN rounds.

    Example:
        >>> [round(bound, 6) for bound in percentile_interval(np.arange(101.0), 0.9)]
        [5.0, 95.0]
    """
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)
