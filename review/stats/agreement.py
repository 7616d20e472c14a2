"""Inter-annotator agreement over a long table of ratings: columns ``item``, ``rater``, ``value``.

These functions are generic: ``value`` is any label (or number, for the ordinal, interval and
ratio levels of Krippendorff's alpha). Rows with a missing value are not ratings and are dropped.
A rater rates an item at most once; a repeated (item, rater) pair is an error.

Every coefficient is None when it is undefined: no item has two ratings, or (for the
chance-corrected ones) all ratings carry the same value, so expected disagreement is zero.

Conventions:

* Krippendorff's alpha is computed by the ``krippendorff`` package from the units x values count
  table (cheap even for 100,000 items x 50 raters, where the raters x units matrix would be mostly
  empty; on large tables the package's own sums are taken in chunks, to the same last bit, by
  :mod:`review.stats.coincidences`). Its bootstrap interval resamples items; the coincidence
  matrices are summed with the vectorised resampling of :mod:`review.stats.bootstrap` and a test
  pins the result at the original sample to the package's.
* Fleiss' kappa uses the usual generalisation to items with unequal numbers of ratings: each
  item's agreement ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))`` is averaged over the items
  with at least two ratings and the chance term uses the pooled category shares. With equal
  numbers of ratings per item this is exactly Fleiss (1971).
* Pairwise Cohen's kappa compares two raters over the items both rated. It is computed from the
  raters' confusion tables in one vectorised pass, with scikit-learn's formula
  (``sklearn.metrics.cohen_kappa_score``; a test checks every pair against it).
* Percent agreement follows the MT-Bench paper (Zheng et al., 2023): every pair of ratings of
  the same item is one comparison, pooled over items. ``ignore`` drops the pairs in which either
  rating is one of the ignored values ("without ties").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

import numpy as np
import pandas as pd
from scipy import sparse

from review.stats.bootstrap import make_rng, percentile_interval, resample_patterns
from review.stats.coincidences import package_alpha
from review.stats.defaults import DEFAULT_BOOTSTRAP

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class Ratings:
    """Ratings as integer codes: ``item``, ``rater`` and ``value`` index ``items``, ``raters``
    and ``domain`` (sorted where the values can be sorted)."""

    item: np.ndarray
    rater: np.ndarray
    value: np.ndarray
    items: np.ndarray
    raters: np.ndarray
    domain: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.items)

    def value_counts(self) -> np.ndarray:
        """Units x values table: how many ratings of each value each item received."""
        width = len(self.domain)
        flat = np.bincount(
            self.item.astype(np.int64) * width + self.value, minlength=self.n_items * width
        )
        return flat.reshape(self.n_items, width)


def ratings_from_long(df: pd.DataFrame) -> Ratings:
    """Integer-coded ratings from a long DataFrame with columns ``item``, ``rater``, ``value``.

    Example:
        >>> long = pd.DataFrame({"item": [1, 1], "rater": ["a", "b"], "value": ["x", "y"]})
        >>> ratings_from_long(long).value_counts().tolist()
        [[1, 1]]
    """
    missing = [c for c in ("item", "rater", "value") if c not in df.columns]
    if missing:
        raise ValueError(f"ratings lack column(s): {', '.join(missing)}")
    df = df[df["value"].notna()]
    item, items = pd.factorize(df["item"], sort=False)
    rater, raters = pd.factorize(df["rater"].astype(str), sort=True)
    values = df["value"].to_numpy()
    try:
        domain = np.asarray(sorted(pd.unique(values)))
    except TypeError:
        domain = np.asarray(pd.unique(values), dtype=object)
    value = pd.Index(domain).get_indexer(values)
    ratings = Ratings(
        item.astype(np.int64),
        rater.astype(np.int64),
        value.astype(np.int64),
        np.asarray(items),
        np.asarray(raters),
        domain,
    )
    key = ratings.item * max(len(raters), 1) + ratings.rater
    if len(np.unique(key)) != len(key):
        raise ValueError("a rater rated the same item more than once; keep one rating per pair")
    return ratings


# --- Krippendorff's alpha ---------------------------------------------------------------------


def krippendorff_alpha(df: pd.DataFrame, level: str = "nominal") -> float | None:
    """Krippendorff's alpha of the ratings, computed by the ``krippendorff`` package.

    Args:
        df: long DataFrame with columns ``item``, ``rater``, ``value``.
        level: ``nominal``, ``ordinal``, ``interval`` or ``ratio`` (the last three need
            numeric or at least sortable values; the order of the values is their sort order).

    Returns:
        alpha, or None when undefined (no item rated twice, or a single value used throughout).

    Example:
        >>> long = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "rater": ["a", "b"] * 3,
        ...                      "value": ["yes", "yes", "no", "no", "yes", "no"]})
        >>> round(krippendorff_alpha(long), 4)
        0.4444
    """
    return alpha_from_ratings(ratings_from_long(df), level)


def alpha_from_ratings(ratings: Ratings, level: str = "nominal") -> float | None:
    """:func:`krippendorff_alpha` on integer-coded ratings."""
    counts, domain = _pairable(ratings, level)
    if counts is None:
        return None
    value = package_alpha(counts, domain, level)
    return float(value) if np.isfinite(value) else None


def krippendorff_alpha_interval(
    df: pd.DataFrame,
    level: str = "nominal",
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of Krippendorff's alpha, resampling items.

    Example:
        >>> long = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 4, 4], "rater": ["a", "b"] * 4,
        ...                      "value": ["y", "y", "n", "n", "y", "n", "n", "n"]})
        >>> low, high = krippendorff_alpha_interval(long, n_bootstrap=200)
        >>> low <= high
        True
    """
    draws = alpha_bootstrap(ratings_from_long(df), level, n_bootstrap, make_rng(seed, 0))
    return percentile_interval(draws, confidence)


def alpha_bootstrap(
    ratings: Ratings, level: str, n_rounds: int, rng: np.random.Generator
) -> np.ndarray:
    """Krippendorff's alpha in ``n_rounds`` bootstrap resamples of the items.

    Alpha depends on the data only through the coincidence matrix ``o``, a sum of one matrix
    per item, so every round is ``counts @ per-pattern coincidences`` followed by the package's
    formula ``1 - sum(o * d) / sum(e * d)``. Rounds where alpha is undefined are NaN.
    """
    counts, domain = _pairable(ratings, level)
    if counts is None:
        return np.full(n_rounds, np.nan)
    patterns, drawn = resample_patterns(counts, n_rounds, rng)
    return alpha_of_resamples(patterns, drawn, domain, level)


def alpha_of_resamples(
    patterns: np.ndarray, drawn: np.ndarray, domain: np.ndarray, level: str
) -> np.ndarray:
    """Alpha for each row of ``drawn`` (how many items of each value-count ``pattern``).

    With ``drawn`` holding each pattern's frequency in the data this is the package's alpha.
    """
    width = len(domain)
    pattern_totals = patterns.sum(axis=1).astype(float)
    coincidence = (
        patterns[:, :, None] * patterns[:, None, :] - patterns[:, :, None] * np.eye(width)
    ) / (pattern_totals - 1.0)[:, None, None]
    observed = (np.atleast_2d(drawn) @ coincidence.reshape(len(patterns), -1)).reshape(
        -1, width, width
    )
    marginals = observed.sum(axis=2)
    total = marginals.sum(axis=1)
    expected = marginals[:, :, None] * marginals[:, None, :] - marginals[:, :, None] * np.eye(
        width
    )
    expected /= (total - 1.0)[:, None, None]
    distance = _distances(np.asarray(domain), level, marginals)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - (observed * distance).sum(axis=(1, 2)) / (expected * distance).sum(
            axis=(1, 2)
        )


def _pairable(ratings: Ratings, level: str) -> tuple[np.ndarray | None, np.ndarray]:
    """Counts of the items with at least two ratings (the others add nothing to alpha)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    domain = ratings.domain
    if level != "nominal" and domain.dtype.kind not in "iuf":
        raise ValueError(f"level {level!r} needs numeric values")
    counts = ratings.value_counts()
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0:
        return None, domain
    used = counts.sum(axis=0) > 0
    if used.sum() < 2:
        return None, domain
    if level == "nominal":
        # Unused values change nothing; dropping them keeps the package's arrays small.
        return counts[:, used], np.arange(int(used.sum()))
    return counts, domain


def _distances(domain: np.ndarray, level: str, marginals: np.ndarray) -> np.ndarray:
    """Squared distance matrices (rounds x V x V) of Krippendorff's metrics."""
    width = len(domain)
    if level == "nominal":
        return (1.0 - np.eye(width))[None]
    if level == "interval":
        values = domain.astype(float)
        return ((values[:, None] - values[None, :]) ** 2)[None]
    if level == "ratio":
        values = domain.astype(float)
        sums = values[:, None] + values[None, :]
        diffs = values[:, None] - values[None, :]
        ratio = np.divide(diffs, sums, out=np.zeros_like(sums), where=sums != 0)
        return (ratio**2)[None]
    # ordinal: (sum of n_g for g between c and k, minus half of n_c and n_k) squared
    cumulative = np.concatenate([np.zeros((len(marginals), 1)), marginals.cumsum(axis=1)], 1)
    index = np.arange(width)
    low = np.minimum(index[:, None], index[None, :])
    high = np.maximum(index[:, None], index[None, :])
    between = cumulative[:, high + 1] - cumulative[:, low]
    halves = (marginals[:, :, None] + marginals[:, None, :]) / 2.0
    return (between - halves) ** 2


# --- Fleiss' kappa ----------------------------------------------------------------------------


def fleiss_kappa(df: pd.DataFrame) -> float | None:
    """Fleiss' kappa, generalised to items with unequal numbers of ratings.

    Items with fewer than two ratings are left out. See the module docstring for the formula.

    Example:
        >>> long = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["a", "b"] * 2,
        ...                      "value": ["yes", "yes", "no", "no"]})
        >>> fleiss_kappa(long)
        1.0
    """
    return fleiss_from_ratings(ratings_from_long(df))


def fleiss_from_ratings(ratings: Ratings) -> float | None:
    """:func:`fleiss_kappa` on integer-coded ratings."""
    counts = ratings.value_counts().astype(float)
    per_item = counts.sum(axis=1)
    keep = per_item >= 2
    if not keep.any():
        return None
    counts, per_item = counts[keep], per_item[keep]
    observed = ((counts * (counts - 1.0)).sum(axis=1) / (per_item * (per_item - 1.0))).mean()
    shares = counts.sum(axis=0) / per_item.sum()
    chance = float((shares**2).sum())
    if chance >= 1.0 - 1e-12:
        return None
    return float((observed - chance) / (1.0 - chance))


# --- Cohen's kappa ----------------------------------------------------------------------------


def pairwise_cohen_kappa(df: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa for every pair of raters who rated at least one item in common.

    Returns:
        DataFrame with columns ``rater_a``, ``rater_b`` (``rater_a < rater_b``), ``kappa``
        (None when undefined: both raters gave one and the same value throughout) and ``n``
        (items both rated), sorted by rater names.

    Example:
        >>> long = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["a", "b"] * 2,
        ...                      "value": ["yes", "yes", "no", "yes"]})
        >>> pairwise_cohen_kappa(long).to_dict("records")
        [{'rater_a': 'a', 'rater_b': 'b', 'kappa': 0.0, 'n': 2}]
    """
    return cohen_from_ratings(ratings_from_long(df))


def cohen_from_ratings(ratings: Ratings) -> pd.DataFrame:
    """:func:`pairwise_cohen_kappa` on integer-coded ratings.

    With ``X`` the items x (rater, value) indicator matrix, ``X.T @ X`` holds every pair of
    raters' confusion table at once; one sparse product replaces a loop over rater pairs.
    """
    width = len(ratings.domain)
    n_raters = len(ratings.raters)
    indicator = sparse.csr_matrix(
        (np.ones(len(ratings.item)), (ratings.item, ratings.rater * width + ratings.value)),
        shape=(ratings.n_items, n_raters * width),
    )
    together = (indicator.T @ indicator).tocoo()
    rater_a, value_a = np.divmod(together.row.astype(np.int64), width)
    rater_b, value_b = np.divmod(together.col.astype(np.int64), width)
    keep = rater_a < rater_b
    pair_keys, pair = np.unique(rater_a[keep] * n_raters + rater_b[keep], return_inverse=True)
    confusion = np.zeros((len(pair_keys), width, width))
    np.add.at(confusion, (pair.reshape(-1), value_a[keep], value_b[keep]), together.data[keep])
    if len(pair_keys) == 0:
        return pd.DataFrame(
            {"rater_a": [], "rater_b": [], "kappa": [], "n": []}
        ).astype({"rater_a": object, "rater_b": object, "kappa": object, "n": int})
    n = confusion.sum(axis=(1, 2))
    observed = np.trace(confusion, axis1=1, axis2=2) / n
    chance = (confusion.sum(axis=2) * confusion.sum(axis=1)).sum(axis=1) / (n * n)
    defined = chance < 1.0 - 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = (observed - chance) / (1.0 - chance)
    return pd.DataFrame(
        {
            "rater_a": np.asarray(ratings.raters, dtype=object)[pair_keys // n_raters],
            "rater_b": np.asarray(ratings.raters, dtype=object)[pair_keys % n_raters],
            "kappa": [float(k) if ok else None for k, ok in zip(kappa, defined)],
            "n": np.rint(n).astype(int),
        }
    )


# --- percent agreement ------------------------------------------------------------------------


def percent_agreement(df: pd.DataFrame, ignore: Collection | None = None) -> float | None:
    """Share of agreeing pairs among all pairs of ratings of the same item (MT-Bench style).

    Args:
        df: long DataFrame with columns ``item``, ``rater``, ``value``.
        ignore: values whose pairs are dropped, e.g. ``{"tie"}`` for agreement without ties.

    Example:
        >>> long = pd.DataFrame({"item": [1, 1, 1], "rater": ["a", "b", "c"],
        ...                      "value": ["x", "x", "y"]})
        >>> round(percent_agreement(long), 4)  # pairs ab agree, ac and bc do not
        0.3333
    """
    return percent_from_ratings(ratings_from_long(df), ignore)


def percent_from_ratings(ratings: Ratings, ignore: Collection | None = None) -> float | None:
    """:func:`percent_agreement` on integer-coded ratings."""
    counts = ratings.value_counts().astype(float)
    if ignore:
        ignored = set(ignore)
        keep = np.array([value not in ignored for value in ratings.domain], dtype=bool)
        counts = counts[:, keep]
    per_item = counts.sum(axis=1)
    pairs = (per_item * (per_item - 1.0) / 2.0).sum()
    if pairs == 0:
        return None
    agreeing = (counts * (counts - 1.0) / 2.0).sum()
    return float(agreeing / pairs)


__all__ = [
    "LEVELS",
    "Ratings",
    "alpha_bootstrap",
    "alpha_from_ratings",
    "alpha_of_resamples",
    "cohen_from_ratings",
    "fleiss_from_ratings",
    "fleiss_kappa",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "pairwise_cohen_kappa",
    "percent_agreement",
    "percent_from_ratings",
    "ratings_from_long",
]
