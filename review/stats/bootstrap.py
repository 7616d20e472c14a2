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
# Draws per chunk of rounds on the per-cluster path: few enough to stay in the processor's cache.
_CHUNK_CELLS = 500_000


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
    patterns, inverse, frequency = distinct_rows(summaries)
    n_patterns = len(patterns)
    if n_patterns * _MULTINOMIAL_COST <= n:
        counts = rng.multinomial(n, frequency / n, size=n_rounds)
        return patterns, counts
    counts = np.empty((n_rounds, n_patterns), dtype=np.int64)
    # 32-bit indices halve the memory traffic. For a range below 2**32 numpy draws 32-bit
    # integers either way, so the draws are the same as with the default 64-bit dtype.
    index_type = np.int32 if n < 2**31 else np.int64
    inverse = inverse.astype(index_type)
    chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_rounds, chunk):
        stop = min(n_rounds, start + chunk)
        drawn = inverse[rng.integers(0, n, size=(stop - start, n), dtype=index_type)]
        drawn += (np.arange(stop - start, dtype=index_type) * n_patterns)[:, None]
        counts[start:stop] = np.bincount(
            drawn.ravel(), minlength=(stop - start) * n_patterns
        ).reshape(stop - start, n_patterns)
    return patterns, counts


def distinct_rows(summaries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array in lexicographic order, the row of each input row and
    how often each occurs: ``np.unique(summaries, axis=0, return_inverse=True,
    return_counts=True)``, with a 1-D inverse.

    Integer rows are packed into one int64 key each (columns in mixed radix, the first the
    most significant), which sorts in the same order as the rows and much faster; other rows,
    or rows whose key would not fit, go to ``np.unique`` itself.

    Example:
        >>> patterns, inverse, frequency = distinct_rows(np.array([[1, 2], [0, 5], [1, 2]]))
        >>> patterns.tolist(), inverse.tolist(), frequency.tolist()
        ([[0, 5], [1, 2]], [1, 0, 1], [1, 2])
    """
    key = _row_keys(summaries)
    if key is None:
        patterns, inverse, frequency = np.unique(
            summaries, axis=0, return_inverse=True, return_counts=True
        )
        return patterns, inverse.reshape(-1), frequency
    _, first, inverse, frequency = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    return summaries[first], inverse.reshape(-1), frequency


def _row_keys(summaries: np.ndarray) -> np.ndarray | None:
    """One int64 per row, ordered as the rows are lexicographically; None when the rows are
    not integers or the key would not fit in 62 bits."""
    kind, width = summaries.dtype.kind, summaries.dtype.itemsize
    if len(summaries) == 0 or summaries.shape[1] == 0 or not (
        kind == "i" or (kind == "u" and width < 8)
    ):
        return None
    low = summaries.min(axis=0).astype(np.int64)
    high = summaries.max(axis=0).astype(np.int64)
    if float(np.prod(high.astype(float) - low.astype(float) + 1.0)) >= 2.0**62:
        return None
    span = high - low + 1
    key = np.zeros(len(summaries), dtype=np.int64)
    for column in range(summaries.shape[1]):
        key *= span[column]
        key += summaries[:, column].astype(np.int64) - low[column]
    return key


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
