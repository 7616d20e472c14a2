"""The ship / do-not-ship / inconclusive verdict and the thresholds behind it.

The rule, applied to the judgments comparing the candidate with the baseline (win rate ``w``
with ties and both_bad as half a win, and its cluster-bootstrap interval ``[low, high]`` at
``confidence``):

1. **Inconclusive** when the evidence is too thin to act on, whatever it says: fewer than
   ``min_judgments`` judgments, or reviewers agreeing too little (Krippendorff's nominal alpha
   below ``min_alpha``; skipped, with a note, when no item has two judgments).
2. Otherwise **do_not_ship** when any of:
   the baseline is clearly better (``high < 0.5``);
   both answers were bad too often (both_bad share above ``max_both_bad_rate``);
   a guardrail category clearly regressed (its interval's upper end below 0.5).
3. Otherwise **ship** when the candidate is clearly better *and* by a margin worth shipping:
   ``low > 0.5`` and ``w >= 0.5 + margin``, and every guardrail category has judgments.
4. Otherwise **inconclusive**.

Why this rule: requiring ``low > 0.5`` bounds the false-ship rate of equal models by the
one-sided error of the interval, nominally 2.5% at 95% confidence, before the margin makes it
smaller still. Requiring ``low > 0.5 + margin`` instead would be far more conservative than a
team usually wants: with 400 judgments and a true win rate of 0.60 it ships less than half the
time. Putting the margin on the estimate keeps the power above 80% there while refusing a
statistically clear but practically tiny improvement. The test-suite's seeded simulation
(200 prompts x 2 reviewers, prompts of varying difficulty) checks both figures: equal models
ship in about 4% of studies, a candidate with a true win rate of 0.60 in about 90%.

``additional_judgments_needed`` (inconclusive only) is a normal-approximation power analysis at
the observed effect: the total judgments for which ``low > 0.5`` with probability ``power`` if
the true win rate were the observed one,
``n = deff * (z_(1 - (1 - confidence) / 2) + z_power)^2 * s^2 / (w - 0.5)^2``, where ``s^2`` is
the per-judgment variance of the scores and ``deff`` the design effect (bootstrap variance over
the independent-judgments variance, at least 1). It is raised to ``min_judgments`` if that is
higher, and reported minus the judgments already collected. It is None when the observed win
rate is below ``0.5 + margin`` (more judgments at that effect would not lead to ship, and at or
below 1/2 the required number is unbounded), or when more judgments are not what is missing;
except that a study with fewer than ``min_judgments`` judgments is always told at least how
many are missing to reach ``min_judgments``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Sequence

from scipy import stats

from review.stats.winrate import WinRate

SHIP, DO_NOT_SHIP, INCONCLUSIVE = "ship", "do_not_ship", "inconclusive"
VERDICTS = (SHIP, DO_NOT_SHIP, INCONCLUSIVE)


@dataclass(frozen=True)
class DecisionThresholds:
    """Thresholds of the decision rule (see the module docstring). Stored per study as JSON.

    Attributes:
        margin: ship needs an estimated win rate of at least ``0.5 + margin``.
        min_alpha: below this Krippendorff's nominal alpha the verdict is inconclusive.
        min_judgments: below this many candidate-vs-baseline judgments: inconclusive.
        max_both_bad_rate: above this share of both_bad votes: do_not_ship.
        guardrail_categories: categories that must not clearly regress (and must be judged).
        confidence: level of every interval of the analysis.
        power: target power of ``additional_judgments_needed``.

    Example:
        >>> thresholds = DecisionThresholds.from_dict({"margin": 0.1, "guardrail_categories": ["safety"]})
        >>> thresholds.margin, thresholds.min_judgments, thresholds.guardrail_categories
        (0.1, 100, ('safety',))
        >>> thresholds.to_dict()["guardrail_categories"]
        ['safety']
    """

    margin: float = 0.05
    min_alpha: float = 0.2
    min_judgments: int = 100
    max_both_bad_rate: float = 0.2
    guardrail_categories: tuple[str, ...] = field(default_factory=tuple)
    confidence: float = 0.95
    power: float = 0.8

    def __post_init__(self) -> None:
        categories = self.guardrail_categories
        if isinstance(categories, str):
            categories = (categories,)
        object.__setattr__(self, "guardrail_categories", tuple(str(c) for c in categories))
        checks = {
            "margin": 0.0 <= self.margin < 0.5,
            "min_alpha": -1.0 <= self.min_alpha <= 1.0,
            "min_judgments": int(self.min_judgments) == self.min_judgments
            and self.min_judgments >= 0,
            "max_both_bad_rate": 0.0 <= self.max_both_bad_rate <= 1.0,
            "confidence": 0.5 <= self.confidence < 1.0,
            "power": 0.5 <= self.power < 1.0,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in wrong)
            raise ValueError(f"invalid decision threshold(s): {values}")
        object.__setattr__(self, "min_judgments", int(self.min_judgments))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "DecisionThresholds":
        """Thresholds from a mapping (e.g. the JSON stored with a study); missing keys take
        their defaults, unknown keys are an error."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown decision threshold(s): {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict; ``from_dict(to_dict())`` round-trips."""
        data = asdict(self)
        data["guardrail_categories"] = list(self.guardrail_categories)
        return data


@dataclass(frozen=True)
class DecisionEvidence:
    """What the rule looks at, all about candidate-vs-baseline judgments (except alpha)."""

    win_rate: WinRate
    both_bad_rate: float | None
    alpha_nominal: float | None
    by_category: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Decision:
    """A verdict with the reasons a person can read, and how many more judgments would help."""

    verdict: str | None
    reasons: tuple[str, ...]
    additional_judgments_needed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "additional_judgments_needed": self.additional_judgments_needed,
        }


def decide(evidence: DecisionEvidence, thresholds: DecisionThresholds | None = None) -> Decision:
    """Apply the decision rule of this module.

    Example:
        >>> evidence = DecisionEvidence(
        ...     WinRate(0.62, 0.57, 0.67, "cluster_bootstrap_prompt", 400, 200, 1.2, 0.2),
        ...     both_bad_rate=0.05, alpha_nominal=0.4)
        >>> decide(evidence).verdict
        'ship'
    """
    thresholds = thresholds or DecisionThresholds()
    rate = evidence.win_rate
    level = f"{thresholds.confidence:.0%}"
    target = 0.5 + thresholds.margin
    notes: list[str] = []

    thin: list[str] = []
    if rate.n < thresholds.min_judgments or rate.estimate is None:
        thin.append(
            f"only {rate.n} judgments compare the candidate with the baseline; "
            f"at least {max(thresholds.min_judgments, 1)} are needed"
        )
    if evidence.alpha_nominal is None:
        notes.append(
            "reviewer agreement could not be measured (no item has two judgments), "
            "so the min_alpha check was skipped"
        )
    elif evidence.alpha_nominal < thresholds.min_alpha:
        thin.append(
            f"reviewers agree too little: Krippendorff's alpha {evidence.alpha_nominal:.2f} "
            f"is below {thresholds.min_alpha:.2f}"
        )
    summary = _describe(rate, level)
    if thin:
        reasons = thin + ([summary] if summary else []) + notes
        needed = _additional(evidence, thresholds)
        if rate.n < thresholds.min_judgments:
            needed = max(needed or 0, thresholds.min_judgments - rate.n)
        return Decision(INCONCLUSIVE, tuple(reasons), needed)

    blockers: list[str] = []
    if rate.ci_high is not None and rate.ci_high < 0.5:
        blockers.append(f"the baseline is better: {summary} is below 0.5")
    if evidence.both_bad_rate is not None and evidence.both_bad_rate > thresholds.max_both_bad_rate:
        blockers.append(
            f"both answers were bad in {evidence.both_bad_rate:.1%} of judgments "
            f"(at most {thresholds.max_both_bad_rate:.1%} allowed)"
        )
    categories = {row["category"]: row for row in evidence.by_category}
    unjudged: list[str] = []
    for name in thresholds.guardrail_categories:
        row = categories.get(name)
        if row is None or row.get("win_rate") is None:
            unjudged.append(f"guardrail category {name!r} has no judgments")
        elif row.get("ci_high") is not None and row["ci_high"] < 0.5:
            blockers.append(
                f"guardrail category {name!r} regressed: win rate {row['win_rate']:.3f} "
                f"({level} CI {row['ci_low']:.3f}-{row['ci_high']:.3f}) is below 0.5"
            )
    if blockers:
        return Decision(DO_NOT_SHIP, tuple(blockers + notes))

    clearly_better = rate.ci_low is not None and rate.ci_low > 0.5
    big_enough = rate.estimate >= target
    if clearly_better and big_enough and not unjudged:
        reasons = [
            f"the candidate is better: {summary} is above 0.5 "
            f"and at least {target:.2f} (margin {thresholds.margin:.2f})"
        ]
        return Decision(SHIP, tuple(reasons + notes))

    reasons = list(unjudged)
    if not clearly_better:
        reasons.append(f"no clear winner: {summary} includes 0.5")
    if not big_enough:
        reasons.append(
            f"the estimated win rate {rate.estimate:.3f} is below the {target:.2f} "
            f"required to ship (margin {thresholds.margin:.2f})"
        )
    return Decision(INCONCLUSIVE, tuple(reasons + notes), _additional(evidence, thresholds))


def additional_judgments_needed(
    win_rate: WinRate, thresholds: DecisionThresholds | None = None
) -> int | None:
    """More candidate-vs-baseline judgments needed at the observed effect (module docstring).

    Example:
        >>> rate = WinRate(0.55, 0.49, 0.61, "cluster_bootstrap_prompt", 200, 100, 1.0, 0.2)
        >>> additional_judgments_needed(rate)  # 7.85 * 0.2 / 0.05**2 = 628 in all
        428
    """
    thresholds = thresholds or DecisionThresholds()
    estimate = win_rate.estimate
    if estimate is None or estimate < 0.5 + thresholds.margin or estimate - 0.5 < 1e-3:
        return None
    z = stats.norm.ppf(0.5 + thresholds.confidence / 2.0) + stats.norm.ppf(thresholds.power)
    design_effect = max(1.0, win_rate.design_effect or 1.0)
    variance = win_rate.score_variance or 0.0
    total = design_effect * z * z * variance / (estimate - 0.5) ** 2
    needed = max(math.ceil(total - 1e-9), thresholds.min_judgments) - win_rate.n
    return int(needed) if needed > 0 else None


def _describe(rate: WinRate, level: str) -> str | None:
    if rate.estimate is None:
        return None
    if rate.ci_low is None or rate.ci_high is None:
        return f"win rate {rate.estimate:.3f} (n={rate.n}, no interval)"
    return (
        f"win rate {rate.estimate:.3f} ({level} CI {rate.ci_low:.3f}-{rate.ci_high:.3f}, "
        f"n={rate.n})"
    )


def _additional(evidence: DecisionEvidence, thresholds: DecisionThresholds) -> int | None:
    return additional_judgments_needed(evidence.win_rate, thresholds)
