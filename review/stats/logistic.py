"""Weighted logistic regression by Newton-Raphson, with Wald standard errors.

Small and dependency-free on purpose: the bias checks need coefficients *and* p-values, and
fractional outcomes (a tie is half a win) are fitted as two weighted rows, which scikit-learn's
estimator does not report standard errors for.
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
    max_iter: int = 50,
    tol: float = 1e-10,
) -> LogisticFit:
    """Maximum-likelihood logistic regression of ``outcome`` (0..1) on ``features``.

    ``features`` must contain an intercept column if one is wanted. A fractional outcome ``y``
    is the likelihood of ``y`` successes and ``1 - y`` failures. Steps are halved whenever they
    would lower the likelihood, so the fit never diverges.

    Example:
        >>> fit = fit_logistic(np.ones((4, 1)), np.array([1.0, 0.0, 1.0, 1.0]))
        >>> round(float(fit.coef[0]), 6)  # log(3 / 1): three successes in four
        1.098612
    """
    features = np.asarray(features, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    weights = np.ones(len(outcome)) if weights is None else np.asarray(weights, dtype=float)
    coef = np.zeros(features.shape[1])

    def log_likelihood(beta: np.ndarray) -> float:
        eta = features @ beta
        return float((weights * (outcome * eta - np.logaddexp(0.0, eta))).sum())

    current = log_likelihood(coef)
    converged = False
    information = np.eye(len(coef))
    for _ in range(max_iter):
        prob = expit(features @ coef)
        gradient = features.T @ (weights * (outcome - prob))
        information = (features * (weights * prob * (1.0 - prob))[:, None]).T @ features
        step = np.linalg.lstsq(information, gradient, rcond=None)[0]
        size = 1.0
        while size > 1e-8:
            trial = coef + size * step
            value = log_likelihood(trial)
            if value >= current - 1e-12:
                break
            size /= 2.0
        coef, change = trial, size * np.abs(step).max()
        current = value
        if change < tol:
            converged = True
            break
    prob = expit(features @ coef)
    information = (features * (weights * prob * (1.0 - prob))[:, None]).T @ features
    covariance = np.linalg.pinv(information)
    se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = 2.0 * stats.norm.sf(np.abs(coef / se))
    return LogisticFit(coef, se, p_value, converged)
