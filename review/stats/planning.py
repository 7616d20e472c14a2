"""How many judgments a study needs: prospective power, with the margin and the method.

``judgments_for_power`` answers "how many judgments for 80% power at a true win rate of X":
the number at which the study's rule ships with probability ``power`` when the true win rate
is X. Both conditions of shipping count: the interval above 0.5 *and* the estimate at least
``0.5 + margin`` (leaving the margin out, as a plain power formula does, ships only about half
the time at a true 0.55).

* ``fixed``: normal approximation with the design effect of prompt clustering,
  ``n = deff * s^2 * max((z_(1-alpha/2) + z_power) / (w - 0.5), z_power / (w - 0.5 - margin))^2``
  with ``s^2`` the per-judgment score variance.
* ``anytime``: the ``power`` quantile of the stopping time of the confidence sequence, by
  simulation (:func:`review.stats.sequential.plan_sequential`), with prompts' mean scores
  spread as ``prompt_sd``.

Example:
    >>> judgments_for_power(0.65, method="fixed", margin=0.05, confidence=0.95, power=0.8,
    ...                     score_variance=0.2, design_effect=1.5)
    105
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy import stats

from review.stats.sequential import plan_sequential

# Typical spreads when nothing was measured yet: per-judgment score variance, and the standard
# deviation of prompts' mean scores over k votes (prompts differ; a third of the variance).
DEFAULT_SCORE_VARIANCE = 0.2
DEFAULT_DESIGN_EFFECT = 1.5


def judgments_for_power(win_rate: float, *, method: str, margin: float, confidence: float,
                        power: float, score_variance: float = DEFAULT_SCORE_VARIANCE,
                        design_effect: float = DEFAULT_DESIGN_EFFECT, k: int = 3,
                        prompt_sd: float | None = None) -> int | None:
    """Judgments in all for the rule to ship with probability ``power`` at ``win_rate``.

    None when ``win_rate`` is at or below ``0.5 + margin`` (the rule then should not ship)
    or the anytime rule would need more prompts than it simulates (six times the fixed
    design's, at most 2,000).
    """
    if not 0.5 + margin < win_rate < 1.0:
        return None
    z_alpha = stats.norm.ppf(0.5 + confidence / 2.0)
    z_power = stats.norm.ppf(power)
    ratio = max((z_alpha + z_power) / (win_rate - 0.5), z_power / (win_rate - 0.5 - margin))
    fixed = int(math.ceil(max(1.0, design_effect) * score_variance * ratio ** 2 - 1e-9))
    if method != "anytime":
        return fixed
    spread = prompt_sd if prompt_sd is not None else math.sqrt(score_variance * design_effect / k)
    # The sequence needs a few times the fixed design's prompts at most: simulate that far.
    horizon = min(2000, max(100, 6 * fixed // k))
    return _plan(round(win_rate, 2), round(margin, 3), round(confidence, 4), round(power, 3),
                 round(spread, 2), k, horizon)


@lru_cache(maxsize=256)
def _plan(win_rate: float, margin: float, confidence: float, power: float, prompt_sd: float,
          k: int, horizon: int) -> int | None:
    return plan_sequential(win_rate, margin=margin, confidence=confidence, power=power,
                           prompt_sd=prompt_sd, k=k, max_prompts=horizon, n_simulations=60)
