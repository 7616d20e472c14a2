"""Win rate of a candidate over a baseline, with honest intervals.

The win rate counts a tie or a both_bad vote as half a win. Its main interval is a percentile
bootstrap that resamples *prompts*: all judgments of a prompt move together, because reviewers
judging the same prompt are not independent draws (an easy prompt tends to be won by everyone).
The Wilson interval, which treats every judgment as independent, is reported next to it so the
difference (the design effect) is visible. Decisive votes alone get an exact sign test.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from review.stats.bootstrap import bootstrap_ratio, make_rng, percentile_interval
from review.stats.defaults import DEFAULT_BOOTSTRAP
from review.stats.outcomes import BASELINE, CANDIDATE, OUTCOMES, candidate_outcomes

WIN_RATE_METHOD = "cluster_bootstrap_prompt"
STREAM_WIN_RATE = 1
STREAM_CATEGORY = 1000


@dataclass(frozen=True)
class WinRate:
    """A win rate (ties and both_bad count 1/2) with its cluster-bootstrap interval.

    ``design_effect`` is the bootstrap variance divided by the variance an independent-judgments
    analysis would assume (``score_variance / n``); it is None when either is zero.
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    n: int
    n_prompts: int
    design_effect: float | None = None
    score_variance: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DecisiveWinRate:
    """Share of decisive votes won by the candidate, with an exact two-sided sign test."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    wins: int
    losses: int

    def to_dict(self) -> dict:
        return asdict(self)


def win_rate_from_scores(
    scores: np.ndarray,
    prompts: np.ndarray,
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    rng: np.random.Generator | None = None,
    confidence: float = 0.95,
) -> WinRate:
    """Mean score with a percentile bootstrap interval that resamples prompts.

    Args:
        scores: one score per judgment (1 win, 0 loss, 1/2 tie or both_bad).
        prompts: the prompt (cluster) of each judgment.
        n_bootstrap: bootstrap rounds.
        rng: random generator (default: seeded with 0).
        confidence: interval level.

    Example:
        >>> result = win_rate_from_scores(np.array([1.0, 1.0, 0.5, 0.0]),
        ...                               np.array(["p1", "p1", "p2", "p3"]), n_bootstrap=200)
        >>> result.estimate
        0.625
    """
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    if n == 0:
        return WinRate(None, None, None, WIN_RATE_METHOD, 0, 0)
    rng = rng if rng is not None else make_rng(0, STREAM_WIN_RATE)
    prompt_codes, prompt_index = pd.factorize(np.asarray(prompts))
    n_prompts = len(prompt_index)
    # Scores are multiples of 1/2: summed as exact integers, prompts with the same sum and size
    # share one resampling pattern.
    doubled = np.bincount(prompt_codes, weights=2.0 * scores, minlength=n_prompts)
    if np.allclose(doubled, np.rint(doubled)):
        doubled = np.rint(doubled)
    sizes = np.bincount(prompt_codes, minlength=n_prompts).astype(float)
    estimate = float(scores.mean())
    draws = bootstrap_ratio(doubled, sizes, n_bootstrap, rng) / 2.0
    low, high = percentile_interval(draws, confidence)
    score_variance = float(scores.var())
    bootstrap_variance = float(draws.var(ddof=1)) if n_bootstrap > 1 else 0.0
    design_effect = (
        bootstrap_variance / (score_variance / n)
        if score_variance > 0 and bootstrap_variance > 0
        else None
    )
    return WinRate(
        estimate, low, high, WIN_RATE_METHOD, n, n_prompts, design_effect, score_variance
    )


def win_rate(
    judgments: pd.DataFrame,
    *,
    candidate: str,
    baseline: str,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
) -> WinRate:
    """Win rate of ``candidate`` over ``baseline`` on the items comparing exactly those two.

    Ties and both_bad count as half a win. The interval is a percentile cluster bootstrap over
    prompts, reproducible for a given ``seed``.

    Example:
        >>> frame = pd.DataFrame({"item": ["i1", "i1", "i2"], "prompt": ["p1", "p1", "p2"],
        ...     "rater": ["ann", "bob", "ann"], "model_left": ["tuned", "base", "base"],
        ...     "model_right": ["base", "tuned", "tuned"], "choice": ["left", "tie", "left"]})
        >>> win_rate(frame, candidate="tuned", baseline="base", n_bootstrap=200).estimate
        0.5
    """
    subset = candidate_outcomes(judgments, candidate, baseline)
    return win_rate_from_scores(
        subset["score"].to_numpy(),
        subset["prompt"].to_numpy(),
        n_bootstrap=n_bootstrap,
        rng=make_rng(seed, STREAM_WIN_RATE),
        confidence=confidence,
    )


def wilson_interval(
    successes: float, n: int, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (``successes`` may be fractional for ties).

    Example:
        >>> low, high = wilson_interval(8, 10)
        >>> round(low, 4), round(high, 4)
        (0.4902, 0.9433)
    """
    if n <= 0:
        return None, None
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    z2n = z * z / n
    center = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return float(center - half), float(center + half)


def sign_test(wins: int, losses: int, confidence: float = 0.95) -> DecisiveWinRate:
    """Decisive win rate ``wins / (wins + losses)``, exact two-sided binomial test against 1/2
    and its exact (Clopper-Pearson) interval.

    Example:
        >>> result = sign_test(8, 2)
        >>> result.estimate, round(result.p_value, 6)
        (0.8, 0.109375)
    """
    wins, losses = int(wins), int(losses)
    decisive = wins + losses
    if decisive == 0:
        return DecisiveWinRate(None, None, None, None, wins, losses)
    test = stats.binomtest(wins, decisive, 0.5)
    interval = test.proportion_ci(confidence_level=confidence, method="exact")
    return DecisiveWinRate(
        wins / decisive,
        float(interval.low),
        float(interval.high),
        float(test.pvalue),
        wins,
        losses,
    )


def mean_score(judgments: pd.DataFrame, candidate: str, baseline: str) -> tuple[float, int]:
    """The candidate's plain win rate (ties and both_bad count 1/2) and its number of votes.

    No interval: for ranking (e.g. the best checkpoint so far), not for deciding.

    Example:
        >>> frame = pd.DataFrame({"item": ["1", "2", "3"], "rater": ["a", "a", "a"],
        ...     "model_left": ["ft", "base", "ft"], "model_right": ["base", "ft", "base"],
        ...     "choice": ["left", "left", "tie"]})
        >>> mean_score(frame, "ft", "base")  # won, lost, tie: (1 + 0 + 0.5) / 3
        (0.5, 3)
    """
    scores = candidate_outcomes(judgments, candidate, baseline)["score"].to_numpy(dtype=float)
    return (float(scores.mean()) if len(scores) else 0.0), int(len(scores))


def outcome_counts(outcomes: pd.Series | np.ndarray) -> dict[str, int]:
    """Counts of ``candidate``, ``baseline``, ``tie`` and ``both_bad`` outcomes.

    Example:
        >>> outcome_counts(np.array(["candidate", "tie", "candidate"]))
        {'candidate': 2, 'baseline': 0, 'tie': 1, 'both_bad': 0}
    """
    values = np.asarray(outcomes, dtype=object)
    return {label: int((values == label).sum()) for label in OUTCOMES}


def win_rate_by_category(
    candidate_frame: pd.DataFrame,
    *,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[dict]:
    """Win rate per category from :func:`review.stats.outcomes.candidate_outcomes` output.

    Judgments without a category are left out. Each category has its own seeded random stream,
    so adding a category does not change the intervals of the others.

    Returns:
        ``[{category, n, win_rate, ci_low, ci_high}, ...]`` sorted by category.

    Example:
        >>> frame = pd.DataFrame({"category": ["code", "code"], "score": [1.0, 0.5],
        ...                       "prompt": ["p1", "p2"]})
        >>> win_rate_by_category(frame, n_bootstrap=100)[0]["win_rate"]
        0.75
    """
    rows = []
    known = candidate_frame[candidate_frame["category"].notna()]
    for category, group in known.groupby(known["category"].astype(str), sort=True):
        stream = STREAM_CATEGORY + zlib.crc32(str(category).encode())
        result = win_rate_from_scores(
            group["score"].to_numpy(),
            group["prompt"].to_numpy(),
            n_bootstrap=n_bootstrap,
            rng=make_rng(seed, stream),
            confidence=confidence,
        )
        rows.append(
            {
                "category": str(category),
                "n": result.n,
                "win_rate": result.estimate,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
            }
        )
    return rows


__all__ = [
    "BASELINE",
    "CANDIDATE",
    "DecisiveWinRate",
    "WIN_RATE_METHOD",
    "WinRate",
    "outcome_counts",
    "sign_test",
    "wilson_interval",
    "win_rate",
    "win_rate_by_category",
    "win_rate_from_scores",
]
