"""Krippendorff's alpha of a units x values count table, as the ``krippendorff`` package
computes it, in bounded memory.

The package (``krippendorff.alpha(value_counts=...)``) builds one V x V coincidence matrix per
unit at once, an ``(N, V, V)`` array and several temporaries of that size: for 200,000 units
and 7 values, hundreds of MiB. On a table stored row by row (C order) numpy sums those matrices
one unit after the other; :func:`package_alpha` does the same, chunk by chunk, for tables of
more than :data:`CHUNK_UNITS` units, and then applies the package's formula (Krippendorff 2011,
"Computing Krippendorff's alpha-reliability"):

    alpha = 1 - sum(o * d) / sum(e * d),  e = (n_v n_v' - diag(n_v)) / (n - 1),  n_v = sum of o

with the package's distances ``d`` for each level. Every floating-point operation is the
package's, in the package's order, so the result is the package's to the last bit (a test
compares them). Smaller tables, and tables stored otherwise (numpy then sums the units
pairwise, in another order), go to the package itself.

Example:
    >>> counts = np.random.default_rng(0).integers(0, 4, size=(10_000, 3))
    >>> counts = counts[counts.sum(axis=1) >= 2]
    >>> bool(package_alpha(counts, np.arange(3), "ordinal") == krippendorff.alpha(
    ...     value_counts=counts, value_domain=np.arange(3), level_of_measurement="ordinal"))
    True
"""

from __future__ import annotations

import krippendorff
import numpy as np

CHUNK_UNITS = 4096


def package_alpha(counts: np.ndarray, domain: np.ndarray, level: str) -> float:
    """``krippendorff.alpha(value_counts=counts, value_domain=domain,
    level_of_measurement=level)`` (``level`` one of nominal, ordinal, interval, ratio)."""
    counts = np.asarray(counts)
    domain = np.asarray(domain)
    if len(counts) <= CHUNK_UNITS or not counts.flags.c_contiguous:
        return krippendorff.alpha(value_counts=counts, value_domain=domain,
                                  level_of_measurement=level)
    o = coincidences(counts)
    n_v = o.sum(axis=0)
    e = np.divide(np.outer(n_v, n_v) - np.diagflat(n_v), n_v.sum() - 1, dtype=np.float64)
    d = _distances(domain, level, n_v)
    return 1 - (o * d).sum() / (e * d).sum()


def coincidences(counts: np.ndarray) -> np.ndarray:
    """The coincidence matrix ``o``: the sum over units of ``(c c' - diag(c)) / (m - 1)``, ``c``
    the unit's counts and ``m`` its number of values (at least 2), added unit after unit (the
    order of the package's sum over a C-ordered table)."""
    width = counts.shape[1]
    identity = np.eye(width)[np.newaxis, ...]
    total = np.zeros((width, width))
    for start in range(0, len(counts), CHUNK_UNITS):
        part = counts[start:start + CHUNK_UNITS]
        pairable = np.maximum(part.sum(axis=1), 2)
        unnormalized = (part[..., np.newaxis] * part[:, np.newaxis, :]
                        - part[:, np.newaxis, :] * identity)
        terms = np.divide(unnormalized, (pairable - 1).reshape((-1, 1, 1)), dtype=np.float64)
        # The running total first: the sum over axis 0 adds the rows one after the other.
        total = np.concatenate([total[np.newaxis], terms]).sum(axis=0)
    return total


def _distances(domain: np.ndarray, level: str, n_v: np.ndarray) -> np.ndarray:
    """The package's squared distance of every pair of values, for the four levels."""
    v1, v2 = domain[:, np.newaxis], domain[np.newaxis, :]
    if level == "nominal":
        return (v1 != v2).astype(np.float64)
    if level == "interval":
        return (v1 - v2).astype(np.float64) ** 2
    if level == "ratio":
        total = v1 + v2
        return np.divide(v1 - v2, total, out=np.zeros(np.broadcast(v1, v2).shape),
                         where=total != 0, dtype=np.float64) ** 2
    if level != "ordinal":
        raise ValueError(f"unknown level {level!r}")
    # Ordinal: the values from the lower of the two to the higher one, both included, counted
    # by n_v, less half of each of the two.
    index = np.arange(len(domain))
    i1 = np.minimum(index[:, np.newaxis], index[np.newaxis, :])
    i2 = np.maximum(index[:, np.newaxis], index[np.newaxis, :])
    ranges = np.dstack((i1, i2 + 1))
    between = np.add.reduceat(np.append(n_v, 0), ranges.reshape(-1))[::2].reshape(*i1.shape)
    return (between - np.divide(n_v[i1] + n_v[i2], 2, dtype=np.float64)) ** 2
