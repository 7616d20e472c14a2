"""Guardrail categories as non-inferiority tests, corrected across categories.

A guardrail is a category that the fine-tune must not make worse (general skills, safety).
"Not clearly regressed" is not enough: a category truly at 0.40 inside a candidate that wins
overall would pass that test most of the time with few prompts. Each guardrail is instead a
non-inferiority test with margin ``delta = guardrail_margin``:

* **pass** when the category's win rate is shown to be above ``0.5 - delta``;
* **fail** when it is shown to be below ``0.5 - delta`` (worse by more than the margin);
* **not yet** otherwise, and always with fewer than ``min_category_prompts`` prompts (a
  category of six prompts cannot carry a verdict either way).

With ``m`` guardrails the family is corrected: the anytime method gives each category a
confidence sequence at ``alpha / m`` (Bonferroni, valid at every look); the fixed method uses
one-sided prompt-clustered t tests with Holm's step-down adjustment. Either way the chance that
any equal category fails, or that any category truly below the margin passes, stays within
``alpha / 2``.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"category": ["safety"] * 6, "prompt": ["p1", "p1", "p2", "p2", "p3", "p3"],
    ...                       "score": [1.0, 0.5, 1.0, 1.0, 0.0, 0.5]})
    >>> [c.status for c in guardrail_checks(frame, ["safety"], k=2, method="anytime",
    ...                                     margin=0.05, min_prompts=10, confidence=0.95)]
    ['not_yet']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from review.stats.clustered import holm, one_sided_p
from review.stats.decision import FAIL, NOT_YET, PASS, Check
from review.stats.sequential import completed_prompts, confidence_sequence


def guardrail_checks(frame: pd.DataFrame, categories: Sequence[str], *, k: int | np.ndarray, method: str,
                     margin: float, min_prompts: int, confidence: float) -> list[Check]:
    """One check per guardrail category, over candidate outcomes (``category``, ``prompt``,
    ``score``) in arrival order."""
    if not categories:
        return []
    alpha = 1.0 - confidence
    bound = 0.5 - margin
    m = len(categories)
    column = frame["category"].astype(object).to_numpy()
    scores = frame["score"].to_numpy(dtype=float)
    prompts = frame["prompt"].astype(str).to_numpy()
    need = np.broadcast_to(np.asarray(k), (len(frame),))
    rows = [(name, scores[mask], prompts[mask], need[mask])
            for name in categories for mask in [column == name]]
    if method == "anytime":
        return [_anytime(name, scores, prompts, needed, alpha / m, bound, min_prompts)
                for name, scores, prompts, needed in rows]
    p_pass = holm([_p(scores, prompts, bound, "greater", min_prompts) for _, scores, prompts, _ in rows])
    p_fail = holm([_p(scores, prompts, bound, "less", min_prompts) for _, scores, prompts, _ in rows])
    checks = []
    for (name, scores, prompts, _), passed, failed in zip(rows, p_pass, p_fail, strict=True):
        estimate = float(scores.mean()) if len(scores) else None
        n_prompts = len(np.unique(prompts))
        if n_prompts < min_prompts:
            checks.append(guardrail_check(name, NOT_YET, estimate, bound, prompts=n_prompts,
                                          needed=min_prompts))
        elif passed is not None and passed < alpha / 2:
            checks.append(guardrail_check(name, PASS, estimate, bound))
        elif failed is not None and failed < alpha / 2:
            checks.append(guardrail_check(name, FAIL, estimate, bound, p_value=failed))
        else:
            checks.append(guardrail_check(name, NOT_YET, estimate, bound, prompts=n_prompts))
    return checks


def guardrail_check(name: str, status: str, estimate: float | None, bound: float, *,
                    prompts: int | None = None, needed: int | None = None,
                    at_most: float | None = None, p_value: float | None = None,
                    judged: str = "judged prompts", contradictory: bool = False) -> Check:
    """The check of guardrail category ``name``: rule ``guardrail:<name>``, and the reason of a
    check that does not pass, worded here for every method.

    Args:
        name, status, estimate, bound: the category, ``pass`` | ``fail`` | ``not_yet``, its win
            rate (None when unknown) and the non-inferiority bound ``0.5 - margin``.
        prompts: the prompts the estimate rests on.
        needed: the prompts the category needs before it can pass or fail, when it has fewer.
        at_most: the upper end of its interval, when that is below the bound (a failure).
        p_value: the adjusted p-value of the test that failed it (a failure without an interval).
        judged: what ``prompts`` counts, as the reason says it.
        contradictory: its votes leave no interval at all; nothing is decided.

    Example:
        >>> guardrail_check("math", "fail", 0.3, 0.45, at_most=0.41).reason
        "guardrail category 'math' regressed: its win rate is at most 41.0%, below 45%"
        >>> guardrail_check("math", "not_yet", 0.5, 0.45, prompts=4, needed=10).reason
        "guardrail category 'math' has 4 judged prompts; it needs 10 before it can pass or fail"
    """
    rule, subject = f"guardrail:{name}", f"guardrail category {name!r}"
    if status == PASS:
        return Check(rule, PASS, estimate, bound)
    if needed is not None:
        reason = f"{subject} has {prompts} {judged}; it needs {needed} before it can pass or fail"
    elif contradictory:
        reason = f"{subject}: its votes contradict each other; not decided"
    elif status == FAIL and p_value is not None:
        reason = (f"{subject} regressed: win rate {estimate:.1%} is below {bound:.0%} "
                  f"(Holm-adjusted p = {p_value:.3g})")
    elif status == FAIL:
        reason = f"{subject} regressed: its win rate is at most {at_most:.1%}, below {bound:.0%}"
    else:
        over = "" if prompts is None else f" over {prompts} prompts"
        reason = f"{subject} ({estimate:.1%}{over}) is not yet shown to be above {bound:.0%}"
    return Check(rule, status, estimate, bound, reason)


def _p(scores: np.ndarray, prompts: np.ndarray, bound: float, alternative: str,
       min_prompts: int) -> float | None:
    if len(np.unique(prompts)) < min_prompts:
        return None
    return one_sided_p(scores, prompts, null=bound, alternative=alternative)


def _anytime(name: str, scores: np.ndarray, prompts: np.ndarray, k: int | np.ndarray, alpha: float,
             bound: float, min_prompts: int) -> Check:
    means, _ = completed_prompts(scores, prompts, k)
    estimate = float(scores.mean()) if len(scores) else None
    if len(means) < min_prompts:
        return guardrail_check(name, NOT_YET, estimate, bound, prompts=len(means), needed=min_prompts)
    low, high = confidence_sequence(means, alpha=alpha)
    if low[-1] >= high[-1]:  # an empty sequence decides nothing
        return guardrail_check(name, NOT_YET, estimate, bound, contradictory=True)
    if low[-1] > bound:
        return guardrail_check(name, PASS, estimate, bound)
    if high[-1] < bound:
        return guardrail_check(name, FAIL, estimate, bound, at_most=high[-1])
    return guardrail_check(name, NOT_YET, estimate, bound, prompts=len(means))
