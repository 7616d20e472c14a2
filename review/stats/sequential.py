"""Anytime-valid intervals for a win rate: valid however often, and whenever, anyone looks.

A fixed-sample interval (the prompt bootstrap of :mod:`review.stats.winrate`) is valid for one
look planned in advance. A dashboard refreshing every 30 seconds looks hundreds of times, and
stopping at the first "ship" then ships equal models far more often than the interval's level
says. A *confidence sequence* is a sequence of intervals that covers the true win rate at every
moment at once, with probability ``1 - alpha``: looking often, or stopping when it looks good,
costs nothing.

Method: the betting confidence sequence for the mean of bounded observations (Waudby-Smith &
Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2023; hedged capital
process with the predictable plug-in bets of their section 4, ``theta = 1/2``, ``c = 1/2``) on
a grid of candidate means, intersected over time. It is exact for observations in ``[0, 1]``
that are independent with a common mean: no normal approximation.

The observations are *prompts*, not judgments: judgments of one prompt are correlated (an easy
prompt is won by every reviewer), so a prompt enters the sequence once its first ``k`` votes are
in (``k`` = the study's overlap), with the mean score of those ``k`` votes (ties and both_bad
count one half), in the order in which prompts complete. The assumption: the order in which
prompts complete does not depend on how they are judged (the platform hands items out in random
order among those with the fewest judgments), so completed prompts are a random sample of the
prompt set. Prompts not complete yet are not used by the sequence.

Example:
    >>> import numpy as np
    >>> x = np.full(200, 0.7)
    >>> low, high = confidence_sequence(x, alpha=0.05)
    >>> bool(low[-1] > 0.5), bool(high[-1] < 0.8)
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Candidate means, every 0.001 (0.5 and every margin of three decimals are on the grid).
GRID = np.round(np.arange(1, 1000) / 1000.0, 3)
BET_CAP = 0.5  # c of the paper: bets stay within half the distance to the boundary
# Planning needs less precision: candidate means every 0.005.
PLANNING_GRID = np.round(np.arange(1, 200) / 200.0, 3)
CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class SequentialWinRate:
    """The confidence sequence at the latest look: its bounds and what it is built from."""

    ci_low: float | None
    ci_high: float | None
    n_prompts: int          # completed prompts in the sequence


def confidence_sequence(x: np.ndarray, alpha: float,
                        grid: np.ndarray = GRID) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, after each observation, of a ``1 - alpha`` confidence sequence
    for the common mean of ``x`` (values in [0, 1]), intersected over time.

    ``P(mean in [low[t], high[t]] for every t) >= 1 - alpha``, and each side alone errs with
    probability at most ``alpha / 2``. Bounds are grid points: ``low[t]`` is the largest mean
    the lower side has excluded (0 when none), ``high[t]`` the smallest the upper side has.
    When ``low[t] >= high[t]`` the sequence is empty: the data contradict themselves (a rare
    event of probability at most ``alpha``), and callers treat the bounds as undecided
    (:func:`sequential_win_rate` returns None). Memory stays bounded: observations are
    processed in chunks.
    """
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    t = np.arange(1, n + 1, dtype=float)
    # Predictable plug-in bets (WSR 2023, eq. 26-27): the bet at t uses observations before t.
    mean_hat = (0.5 + np.cumsum(x)) / (t + 1.0)
    var_hat = (0.25 + np.cumsum((x - mean_hat) ** 2)) / (t + 1.0)
    previous_var = np.concatenate([[0.25], var_hat[:-1]])
    bet = np.sqrt(2.0 * np.log(2.0 / alpha) / (previous_var * t * np.log(1.0 + t)))
    m = grid[None, :]
    cap_up, cap_down = BET_CAP / m, BET_CAP / (1.0 - m)
    # Hedged capital max(K+, K-) / 2 >= 1 / alpha: K+ >= 2 / alpha excludes m from below (the
    # mean is above m), K- >= 2 / alpha from above. Each side keeps its own running
    # intersection, so a bound is only ever set by the side that crossed.
    threshold = np.log(2.0 / alpha)
    log_up, log_down = np.zeros(len(grid)), np.zeros(len(grid))
    below, above = np.zeros(len(grid), dtype=bool), np.zeros(len(grid), dtype=bool)
    low, high = np.empty(n), np.empty(n)
    chunk = max(1, CHUNK_CELLS // len(grid))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        diff = x[start:stop, None] - m
        up = log_up + np.cumsum(np.log1p(np.minimum(bet[start:stop, None], cap_up) * diff), axis=0)
        down = log_down + np.cumsum(np.log1p(-np.minimum(bet[start:stop, None], cap_down) * diff), axis=0)
        # The row at which each grid point is excluded (-1: before this chunk; stop - start: not
        # in it); a point stays excluded once it is (the running intersection).
        excluded_below = _exclusion_rows(up >= threshold, below)
        excluded_above = _exclusion_rows(down >= threshold, above)
        log_up, log_down = up[-1], down[-1]
        below, above = excluded_below < stop - start, excluded_above < stop - start
        # K+ falls as m rises: the means it excluded are the grid points below the first one it
        # did not; K- likewise from the top.
        rows = np.arange(stop - start)
        first_kept = _first_above(excluded_below, rows)
        last_kept = len(grid) - 1 - _first_above(excluded_above[::-1], rows)
        low[start:stop] = np.where(first_kept > 0, grid[np.clip(first_kept - 1, 0, len(grid) - 1)], 0.0)
        high[start:stop] = np.where(last_kept < len(grid) - 1, grid[np.clip(last_kept + 1, 0, len(grid) - 1)], 1.0)
    return low, high


def _exclusion_rows(crossed: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Per column of ``crossed`` (rows x grid points), the first row that crossed the threshold:
    -1 where the point was ``excluded`` already, the number of rows where no row crossed."""
    first = np.where(crossed.any(axis=0), crossed.argmax(axis=0), len(crossed))
    return np.where(excluded, -1, first)


def _first_above(excluded_at: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row ``t``, the first grid point not yet excluded at ``t`` (``excluded_at > t``), or
    the number of points when every one is: the first point at which the running maximum of
    ``excluded_at`` passes ``t``."""
    return np.searchsorted(np.maximum.accumulate(excluded_at), rows, side="right")


def completed_prompts(scores: np.ndarray, prompts: np.ndarray,
                      k: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of each prompt's first ``k`` judgments, in the order prompts reach ``k``.

    ``scores`` and ``prompts`` are in arrival order. ``k`` is one number, or per row the
    judgments its prompt needs (a prompt with several items of the pair needs ``k`` for each).
    Returns the means and, for each, the position (0-based) of the judgment that completed it.

    Example:
        >>> means, at = completed_prompts(np.array([1, 0, 1, 0.5, 1]), np.array([0, 1, 0, 1, 2]), 2)
        >>> means.tolist(), at.tolist()
        ([1.0, 0.25], [2, 3])
    """
    scores = np.asarray(scores, dtype=float)
    prompts = np.asarray(prompts)
    if len(scores) == 0:
        return np.zeros(0), np.zeros(0, dtype=int)
    need = np.broadcast_to(np.asarray(k), scores.shape).astype(int)
    prompts = pd.factorize(prompts)[0]  # integers group faster than prompt ids
    rank = pd.Series(prompts).groupby(prompts).cumcount().to_numpy()
    first_k = rank < need
    sums = pd.Series(scores[first_k]).groupby(prompts[first_k]).sum()
    done = np.flatnonzero((rank == need - 1) & (need >= 1))
    means = sums.loc[prompts[done]].to_numpy(dtype=float) / need[done]
    return means, done


def sequential_win_rate(scores: np.ndarray, prompts: np.ndarray, *, k: int | np.ndarray,
                        confidence: float) -> SequentialWinRate:
    """The confidence sequence of the prompt-level win rate at the latest look (see module)."""
    means, _ = completed_prompts(scores, prompts, k)
    if len(means) == 0:
        return SequentialWinRate(None, None, 0)
    low, high = confidence_sequence(means, alpha=1.0 - confidence)
    if low[-1] >= high[-1]:  # an empty sequence decides nothing
        return SequentialWinRate(None, None, len(means))
    return SequentialWinRate(float(low[-1]), float(high[-1]), len(means))


def plan_sequential(win_rate: float, *, margin: float, confidence: float, power: float,
                    prompt_sd: float, k: int, max_prompts: int = 2000, n_simulations: int = 200,
                    seed: int = 0) -> int | None:
    """Judgments needed for the anytime rule to ship with probability ``power`` when the true
    win rate is ``win_rate``: the ``power`` quantile of the stopping time, by simulation.

    Prompt means are drawn from a Beta distribution with mean ``win_rate`` and standard deviation
    ``prompt_sd`` (the spread of prompt-level means of ``k`` votes). None when ``win_rate`` is
    below ``0.5 + margin`` or the rule would need more than ``max_prompts`` prompts.

    Example:
        >>> plan_sequential(0.65, margin=0.05, confidence=0.95, power=0.8, prompt_sd=0.3, k=3) > 0
        True
    """
    if win_rate < 0.5 + margin or not 0 < win_rate < 1:
        return None
    variance = min(max(prompt_sd, 1e-3) ** 2, win_rate * (1 - win_rate) * 0.999)
    common = win_rate * (1 - win_rate) / variance - 1.0
    a, b = win_rate * common, (1 - win_rate) * common
    rng = np.random.default_rng(seed)
    stops = []
    for _ in range(n_simulations):
        means = rng.beta(a, b, size=max_prompts)
        low, high = confidence_sequence(means, alpha=1.0 - confidence, grid=PLANNING_GRID)
        running = np.cumsum(means) / np.arange(1, max_prompts + 1)
        ship = np.flatnonzero((low > 0.5) & (low < high) & (running >= 0.5 + margin))
        stops.append(ship[0] + 1 if len(ship) else np.inf)
    prompts_needed = float(np.quantile(stops, power))
    return None if not np.isfinite(prompts_needed) else int(prompts_needed * k)
