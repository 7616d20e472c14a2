"""Weighted logistic regression with Wald standard errors: scikit-learn fits, we add the errors.

The bias checks need coefficients *and* p-values. scikit-learn's ``LogisticRegression``
(unpenalised, Newton-Cholesky) finds the maximum-likelihood coefficients; the Wald standard
errors come from the Fisher information at that optimum, which scikit-learn does not report.
A fractional outcome ``y`` (a tie is half a win) is fitted as two weighted rows: ``y`` of a
success and ``1 - y`` of a failure, which is exactly its likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import expit


@dataclass(frozen=True)
class LogisticFit:
    """Coefficients, Wald standard errors and two-sided p-values, one per column of X."""

    coef: np.ndarray
    se: np.ndarray
    p_value: np.ndarray
    converged: bool


def fit_logistic(
    features: np.ndarray,
    outcome: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    clusters: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> LogisticFit:
    """Maximum-likelihood logistic regression of ``outcome`` (0..1) on ``features``.

    ``features`` must contain an intercept column if one is wanted. A fractional outcome ``y``
    is the likelihood of ``y`` successes and ``1 - y`` failures. Where the data separate the
    outcomes perfectly the maximum does not exist: ``converged`` is then False.

    With ``clusters`` (e.g. the prompt of each judgment) the standard errors are cluster-robust
    (the CR1 sandwich of Cameron & Miller 2015) and p-values use Student's t with ``C - 1``
    degrees of freedom, so that correlated judgments of one prompt are not counted as
    independent evidence.

    Example:
        >>> fit = fit_logistic(np.ones((4, 1)), np.array([1.0, 0.0, 1.0, 1.0]))
        >>> round(float(fit.coef[0]), 6)  # log(3 / 1): three successes in four
        1.098612
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    features = np.asarray(features, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    weights = np.ones(len(outcome)) if weights is None else np.asarray(weights, dtype=float)
    rows = np.vstack([features, features])
    labels = np.concatenate([np.ones(len(outcome)), np.zeros(len(outcome))])
    row_weights = np.concatenate([weights * outcome, weights * (1.0 - outcome)])
    keep = row_weights > 0
    rows, labels, row_weights = rows[keep], labels[keep], row_weights[keep]
    one_class = len(labels) == 0 or bool(labels.min() == labels.max())
    if one_class:
        # Every vote a win (or a loss): the likelihood has no maximum. A vanishing weight of
        # the missing outcome at the mean row lets the fit stop at a large finite value.
        rows = np.vstack([rows, features.mean(axis=0)])
        labels = np.append(labels, 1.0 - labels[0])
        row_weights = np.append(row_weights, 1e-9 * row_weights.sum())
    model = LogisticRegression(C=np.inf, fit_intercept=False, solver="newton-cholesky",
                               tol=tol, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(rows, labels, sample_weight=row_weights)
    coef = model.coef_[0].astype(float)
    converged = not one_class and not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    prob = expit(features @ coef)
    information = (features * (weights * prob * (1.0 - prob))[:, None]).T @ features
    covariance = np.linalg.pinv(information)
    reference = stats.norm
    if clusters is not None:
        _, codes = np.unique(np.asarray(clusters), return_inverse=True)
        n_clusters = int(codes.max()) + 1 if len(codes) else 0
        scores = features * (weights * (outcome - prob))[:, None]
        per_cluster = cluster_sums(codes, scores, n_clusters)
        if n_clusters >= 2:
            meat = per_cluster.T @ per_cluster * n_clusters / (n_clusters - 1)
            covariance = covariance @ meat @ covariance
            reference = stats.t(n_clusters - 1)
    se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = 2.0 * reference.sf(np.abs(coef / se))
    return LogisticFit(coef, se, p_value, converged)


def cluster_sums(codes: np.ndarray, values: np.ndarray, n_clusters: int) -> np.ndarray:
    """``(n_clusters, k)`` sums of the rows of ``values`` ``(n, k)`` by cluster code (0-based),
    each added in row order.

    Example:
        >>> cluster_sums(np.array([1, 0, 1]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), 2).tolist()
        [[3.0, 4.0], [6.0, 8.0]]
    """
    values = np.asarray(values, dtype=float)
    sums = np.zeros((n_clusters, values.shape[1]))
    for column in range(values.shape[1]):
        sums[:, column] = np.bincount(codes, weights=values[:, column], minlength=n_clusters)
    return sums
