"""Prediction-powered win rates: a model judge on every prompt, corrected by people.

The unit is the prompt (clustering: a prompt's human votes are averaged first, so several
votes on one prompt never count as independent). ``y`` is a prompt's mean human score for the
candidate (1 win, 1/2 tie or both bad, 0 loss) and ``f`` the judge's score on the same prompt.

**PPI++** (Angelopoulos, Duchi & Zrnic 2023; for model evaluation Boyeau et al. 2024), when
people judged a random subset of ``n`` prompts and the judge the other ``N``::

    theta = lambda * mean(f_unlabeled) + mean(y - lambda * f_labeled)

unbiased for every ``lambda`` (the judge's bias cancels in the second term); the power-tuned
``lambda = cov(y, f) / ((1 + n/N) var(f))``, clipped to [0, 1], minimises the variance, and
``lambda = 0`` is the human-only mean, so the interval is never meaningfully wider than the
human-only one. :func:`ppi_mean` follows the PyPI package ``ppi-python`` (``ppi_mean_ci``) to
the last digit; a test checks it.

**Active selection** (Zrnic & Candes 2024): every prompt is drawn for people independently
with a probability ``pi`` that is highest where the judge is least sure
(:func:`selection_probabilities`); the inverse-probability-weighted estimate
(:func:`active_ppi_mean`)::

    theta = mean over all prompts of  lambda * f + drawn * (y - lambda * f) / pi

is unbiased for any fixed ``pi > 0`` and ``lambda``, with the variance-minimising ``lambda``.
Both intervals are normal (CLT) intervals, valid for one planned look: a study whose verdict
uses the judge decides once, when the people's part is complete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class PPIEstimate:
    """A prediction-powered mean and, for comparison, the human-only one on the same prompts.

    ``human_se`` is the standard error the labeled prompts alone give; ``saved_share`` is the
    share of human prompts the human-only mean would need *more* to be as narrow, as a share
    of those used: ``human_se^2 / se^2 - 1`` (0 when the judge does not help).
    """

    estimate: float
    ci_low: float
    ci_high: float
    se: float
    lam: float
    n_labeled: int
    n_unlabeled: int
    human_estimate: float
    human_se: float

    def human_interval(self, confidence: float) -> tuple[float, float]:
        z = _z(confidence)
        return self.human_estimate - z * self.human_se, self.human_estimate + z * self.human_se

    @property
    def saved_share(self) -> float:
        if self.se <= 0 or not math.isfinite(self.human_se):
            return 0.0
        return max(0.0, (self.human_se / self.se) ** 2 - 1.0)


# The squared error a judge's score has against people's votes where the judge is sure: the
# variance of a vote within a prompt (half of a vote's 0.25 when half of it is between
# prompts, as in the product's simulations), rounded down.
VOTE_NOISE = 0.2


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(1 - (1 - confidence) / 2))


def power_tuned_lambda(y: np.ndarray, f_labeled: np.ndarray, f_unlabeled: np.ndarray) -> float:
    """PPI++'s variance-minimising lambda for a mean, clipped to [0, 1] (ppi-python's
    ``_calc_lam_glm`` with ``clip=True``)."""
    n, big_n = len(y), len(f_unlabeled)
    if n < 2 or big_n < 1:
        return 0.0
    cov = float(np.mean((y - y.mean()) * (f_labeled - f_labeled.mean())))
    var = float(np.var(np.concatenate([f_labeled, f_unlabeled]), ddof=1))
    if var <= 0:
        return 0.0
    return float(np.clip(cov / ((1 + n / big_n) * var), 0.0, 1.0))


def ppi_mean(y: np.ndarray, f_labeled: np.ndarray, f_unlabeled: np.ndarray, *,
             confidence: float = 0.95, lam: float | None = None) -> PPIEstimate:
    """PPI++ mean of ``y`` with judge scores on the labeled and the unlabeled prompts.

    Example:
        >>> y = np.array([1.0, 0.0, 1.0, 1.0, 0.5, 0.0])
        >>> f = np.array([1.0, 0.0, 1.0, 0.5, 0.5, 0.0])
        >>> r = ppi_mean(y, f, np.array([1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0, 0.5]))
        >>> round(r.estimate, 4), round(r.lam, 4), r.se < r.human_se
        (0.6471, 0.5098, True)
    """
    y, f_labeled, f_unlabeled = (np.asarray(a, dtype=float) for a in (y, f_labeled, f_unlabeled))
    n, big_n = len(y), len(f_unlabeled)
    if n < 2:
        raise ValueError("PPI needs at least two prompts judged by people")
    if lam is None:
        lam = power_tuned_lambda(y, f_labeled, f_unlabeled)
    rectifier = y - lam * f_labeled
    imputed = lam * f_unlabeled
    estimate = float(rectifier.mean() + (imputed.mean() if big_n else 0.0))
    se = math.sqrt(float(np.var(rectifier)) / n + (float(np.var(imputed)) / big_n if big_n else 0.0))
    z = _z(confidence)
    return PPIEstimate(estimate, estimate - z * se, estimate + z * se, se, float(lam), n, big_n,
                       float(y.mean()), math.sqrt(float(np.var(y)) / n))


def selection_probabilities(scores: np.ndarray, expected: float, *,
                            vote_noise: float = VOTE_NOISE) -> np.ndarray:
    """Drawing probabilities for active selection: ``expected`` prompts in all (their sum),
    proportional to ``sqrt(vote_noise + f (1 - f))``, capped at 1.

    The best probabilities are proportional to the root of the expected squared error of the
    judge's score against the people's (Zrnic & Candes 2024). People disagree with each other
    even where the judge is sure, so that error is never 0: ``vote_noise`` stands for it, and
    ``f (1 - f)`` for the judge's own doubt (largest when its two orders disagree, its score
    is 1/2, or it failed). The resulting weights vary by at most a factor of 1.5, so a useless
    judge costs little (see docs/statistics.md) and every prompt stays drawable.

    Example:
        >>> p = selection_probabilities(np.array([0.0, 0.5, 1.0, 0.75]), expected=2)
        >>> [round(float(v), 3) for v in p], round(float(p.sum()), 6)
        ([0.409, 0.613, 0.409, 0.569], 2.0)
    """
    f = np.where(np.isnan(scores), 0.5, np.asarray(scores, dtype=float))
    weight = np.sqrt(vote_noise + np.clip(f * (1 - f), 0.0, 0.25))
    total = len(f)
    if expected >= total:
        return np.ones(total)
    probability = np.zeros(total)
    capped = np.zeros(total, dtype=bool)
    for _ in range(total):  # water-filling: cap at 1, share the rest among the others
        free = ~capped
        probability[free] = weight[free] * (expected - capped.sum()) / weight[free].sum()
        probability[capped] = 1.0
        over = free & (probability > 1.0)
        if not over.any():
            break
        capped |= over
    return probability


def active_ppi_mean(scores: np.ndarray, y: np.ndarray, drawn: np.ndarray, probability: np.ndarray,
                    *, confidence: float = 0.95) -> PPIEstimate:
    """Inverse-probability-weighted PPI over all prompts (active statistical inference).

    ``scores``: the judge's score on every prompt; ``y``: the human mean (ignored where not
    drawn); ``drawn``: whether the prompt was drawn for people; ``probability``: its drawing
    probability. Every drawn prompt must have its human score.
    """
    f = np.asarray(scores, dtype=float)
    f = np.where(np.isnan(f), 0.5, f)
    drawn = np.asarray(drawn, dtype=bool)
    pi = np.asarray(probability, dtype=float)
    y = np.where(drawn, np.asarray(y, dtype=float), 0.0)
    if np.isnan(y).any():
        raise ValueError("every prompt drawn for people needs its human score")
    n_drawn, total = int(drawn.sum()), len(f)
    if n_drawn < 2:
        raise ValueError("PPI needs at least two prompts judged by people")
    weight = np.where(drawn, 1.0 / pi, 0.0)
    # z = g + drawn (y - g) / pi with the control g = a + lambda * f: unbiased for any fixed
    # (a, lambda) because E[1 - drawn / pi] = 0; (a, lambda) minimise the variance of z, a
    # least-squares fit (an intercept keeps a useless judge from costing the Horvitz-Thompson
    # penalty: g = a constant is the Hajek-like centred estimate).
    part_y = weight * y
    centred = 1.0 - weight
    design = np.column_stack([centred, f * centred])
    coefficients, *_ = np.linalg.lstsq(design - design.mean(axis=0), part_y - part_y.mean(), rcond=None)
    lam = float(-coefficients[1])
    z_values = part_y + design @ (-coefficients)
    estimate = float(z_values.mean())
    # (a, lambda) were fitted on the drawn prompts: widen for the two coefficients, with a t
    # quantile on n_drawn - 3 degrees of freedom (coverage with 10-30 drawn prompts falls to
    # 86-90% without it).
    se = float(np.std(z_values, ddof=1) / math.sqrt(total)) * math.sqrt(n_drawn / max(n_drawn - 3, 1))
    # Human-only for comparison: what a uniform sample of as many prompts would give, from
    # the weighted (Hajek) mean and variance of the drawn prompts.
    w = weight[drawn]
    yd = y[drawn]
    human = float(np.sum(w * yd) / np.sum(w))
    human_se = math.sqrt(float(np.sum(w * (yd - human) ** 2) / np.sum(w)) / n_drawn)
    z = float(sps.t.ppf(1 - (1 - confidence) / 2, df=max(n_drawn - 3, 1)))
    return PPIEstimate(estimate, estimate - z * se, estimate + z * se, se, float(lam), n_drawn,
                       total - n_drawn, human, human_se)
