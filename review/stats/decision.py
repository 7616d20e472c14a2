"""The ship / do-not-ship / inconclusive verdict, as a checklist of rules.

Every rule is reported as ``pass``, ``fail`` or ``not_yet`` with its figure and threshold
(the ``checks`` of ``review analyze --json``):

``min_judgments``        at least ``min_judgments`` candidate-vs-baseline judgments (else not yet)
``reviewer_reliability`` reviewers who answered at least ``min_gold_answered`` gold items with an
                         accuracy below ``min_gold_accuracy`` are left out of the verdict (the
                         check fails only when nobody is left); reviewers who agree with the
                         leave-one-out majority no more than chance are flagged in the reasons
``win_rate_above_half``  the interval of the win rate lies above 0.5 (pass) or below it (fail)
``margin``               the estimated win rate reaches ``0.5 + margin`` (pass); the interval lies
                         below it (fail: more judgments will not make it worth shipping)
``both_bad_rate``        both answers bad in at most ``max_both_bad_rate`` of judgments
``guardrail:<category>`` non-inferiority of the category: its lower bound above
                         ``0.5 - guardrail_margin`` (pass), its upper bound below it (fail);
                         not yet with fewer than ``min_category_prompts`` prompts

**ship** when every check passes; **do_not_ship** when the win rate, the both-bad rate or a
guardrail fails (once ``min_judgments`` is reached); otherwise **inconclusive**. ``settled``
says that collecting more cannot change the verdict's direction: a ship or do-not-ship reached
by the anytime method, or a ``margin`` that fails.

Two methods, chosen per study (``method``):

* ``anytime`` (the default): the interval is the betting confidence sequence of
  :mod:`review.stats.sequential` over completed prompts, valid however often the study is
  looked at; guardrail categories each get a sequence at ``alpha / m`` (Bonferroni over the
  ``m`` guardrails), so the whole checklist is valid at every look.
* ``fixed``: one pre-planned look. The interval is the prompt-cluster bootstrap (or, with
  ``two_way``, a t interval clustered by prompts and reviewers); guardrails are one-sided
  prompt-clustered t tests, Holm-adjusted across categories.

Either way a false ship of equal models needs the interval's lower side to err, at most
``(1 - confidence) / 2``; studies of one training run share that budget
(:func:`run_confidence`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Sequence

SHIP, DO_NOT_SHIP, INCONCLUSIVE = "ship", "do_not_ship", "inconclusive"
VERDICTS = (SHIP, DO_NOT_SHIP, INCONCLUSIVE)
METHODS = ("anytime", "fixed")
PASS, FAIL, NOT_YET = "pass", "fail", "not_yet"
# Keys of thresholds stored by earlier versions, accepted and ignored.
RETIRED_KEYS = ("min_alpha",)


@dataclass(frozen=True)
class DecisionThresholds:
    """Thresholds of the decision rule (see the module docstring). Stored per study as JSON.

    Example:
        >>> thresholds = DecisionThresholds.from_dict({"margin": 0.1, "guardrail_categories": ["safety"]})
        >>> thresholds.margin, thresholds.method, thresholds.guardrail_categories
        (0.1, 'anytime', ('safety',))
        >>> thresholds.to_dict()["guardrail_categories"]
        ['safety']
    """

    method: str = "anytime"
    margin: float = 0.05
    min_judgments: int = 100
    max_both_bad_rate: float = 0.2
    guardrail_categories: tuple[str, ...] = field(default_factory=tuple)
    guardrail_margin: float = 0.05
    min_category_prompts: int = 10
    min_gold_accuracy: float = 0.7
    min_gold_answered: int = 3
    two_way: bool = False
    confidence: float = 0.95
    power: float = 0.8

    def __post_init__(self) -> None:
        categories = self.guardrail_categories
        if isinstance(categories, str):
            categories = (categories,)
        object.__setattr__(self, "guardrail_categories", tuple(str(c) for c in categories))
        whole = lambda v: int(v) == v and v >= 0  # noqa: E731
        checks = {
            "method": self.method in METHODS,
            "margin": 0.0 <= self.margin < 0.5,
            "min_judgments": whole(self.min_judgments),
            "max_both_bad_rate": 0.0 <= self.max_both_bad_rate <= 1.0,
            "guardrail_margin": 0.0 <= self.guardrail_margin < 0.5,
            "min_category_prompts": whole(self.min_category_prompts) and self.min_category_prompts >= 2,
            "min_gold_accuracy": 0.0 <= self.min_gold_accuracy <= 1.0,
            "min_gold_answered": whole(self.min_gold_answered) and self.min_gold_answered >= 1,
            "two_way": isinstance(self.two_way, bool),
            "confidence": 0.5 <= self.confidence < 1.0,
            "power": 0.5 <= self.power < 1.0,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in wrong)
            raise ValueError(f"invalid decision threshold(s): {values}")
        for name in ("min_judgments", "min_category_prompts", "min_gold_answered"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DecisionThresholds:
        """Thresholds from a mapping (e.g. the JSON stored with a study); missing keys take
        their defaults, unknown keys are an error (retired ones are ignored)."""
        data = {k: v for k, v in dict(data or {}).items() if k not in RETIRED_KEYS}
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


def decision_method(thresholds: Mapping[str, Any] | None) -> str:
    """The method of stored thresholds (``anytime`` when they do not say).

    Example:
        >>> decision_method({}), decision_method({"method": "fixed"})
        ('anytime', 'fixed')
    """
    method = (thresholds or {}).get("method", DecisionThresholds.method)
    return method if method in METHODS else DecisionThresholds.method


def run_confidence(confidence: float, position: int) -> float:
    """The confidence of the ``position``-th study (1, 2, ...) of a training run.

    The run's error budget ``alpha = 1 - confidence`` is spent as ``alpha * 6 / (pi^2 j^2)``
    on its j-th study; these sum to ``alpha``, so however many checkpoints are compared, the
    chance that any equal one ships stays within ``alpha / 2``.

    Example:
        >>> round(run_confidence(0.95, 1), 4), round(run_confidence(0.95, 5), 5)
        (0.9696, 0.99878)
    """
    return 1.0 - (1.0 - confidence) * 6.0 / (math.pi ** 2 * position ** 2)


@dataclass(frozen=True)
class Check:
    rule: str
    status: str
    value: float | None
    threshold: float | None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "value": self.value,
                "threshold": self.threshold}


@dataclass(frozen=True)
class DecisionEvidence:
    """What the rule looks at (candidate-vs-baseline judgments of reliable reviewers).

    ``ci_low``/``ci_high`` are the interval of the method in use; ``guardrails`` the checks
    of :func:`review.stats.guardrails.guardrail_checks`; ``excluded_reviewers`` those left out
    for their gold accuracy; ``has_gold`` whether any gold item was answered.
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str
    both_bad_rate: float | None = None
    guardrails: Sequence[Check] = ()
    excluded_reviewers: Sequence[str] = ()
    flagged_reviewers: Sequence[str] = ()
    n_reviewers: int = 0
    has_gold: bool = False
    planned_judgments: int | None = None
    additional_needed: int | None = None


@dataclass(frozen=True)
class Decision:
    """A verdict with readable reasons, the checklist, and what more data would do."""

    verdict: str | None
    reasons: tuple[str, ...]
    additional_judgments_needed: int | None = None
    method: str = "anytime"
    settled: bool = False
    checks: tuple[Check, ...] = ()
    judgments_saved: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons),
                "additional_judgments_needed": self.additional_judgments_needed,
                "method": self.method, "settled": self.settled,
                "checks": [check.to_dict() for check in self.checks]}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def decide(evidence: DecisionEvidence, thresholds: DecisionThresholds | None = None) -> Decision:
    """Apply the decision rule of this module.

    Example:
        >>> evidence = DecisionEvidence(0.62, 0.57, 0.67, n=400, method="anytime", both_bad_rate=0.05,
        ...                             has_gold=True, n_reviewers=3)
        >>> decision = decide(evidence)
        >>> decision.verdict, decision.settled, [c.status for c in decision.checks]
        ('ship', True, ['pass', 'pass', 'pass', 'pass', 'pass'])
    """
    t = thresholds or DecisionThresholds()
    target = 0.5 + t.margin
    interval = "confidence sequence" if evidence.method == "anytime" else "interval"
    checks: list[Check] = []
    ok = evidence.n >= t.min_judgments and evidence.estimate is not None
    checks.append(Check("min_judgments", PASS if ok else NOT_YET, float(evidence.n),
                        float(t.min_judgments),
                        "" if ok else f"only {evidence.n} judgments compare the candidate with the "
                                      f"baseline; the verdict needs {max(t.min_judgments, 1)}"))
    left = evidence.n_reviewers - len(evidence.excluded_reviewers)
    excluded = ", ".join(evidence.excluded_reviewers)
    if evidence.n_reviewers and left <= 0:
        checks.append(Check("reviewer_reliability", FAIL, float(len(evidence.excluded_reviewers)),
                            t.min_gold_accuracy, f"every reviewer failed the gold items ({excluded})"))
    else:
        reason = (f"left out of the verdict for gold accuracy below {t.min_gold_accuracy:.0%}: "
                  f"{excluded}" if excluded else
                  "" if evidence.has_gold else "no gold items were answered: reviewer reliability "
                                               "was not checked")
        checks.append(Check("reviewer_reliability", PASS, float(len(evidence.excluded_reviewers)),
                            t.min_gold_accuracy, reason))
    low, high, estimate = evidence.ci_low, evidence.ci_high, evidence.estimate
    span = f"win rate {_fmt(estimate)}, {interval} {_fmt(low)} to {_fmt(high)}"
    if low is not None and low > 0.5:
        checks.append(Check("win_rate_above_half", PASS, low, 0.5, f"the candidate is better: {span}"))
    elif high is not None and high < 0.5:
        checks.append(Check("win_rate_above_half", FAIL, high, 0.5, f"the baseline is better: {span}"))
    else:
        checks.append(Check("win_rate_above_half", NOT_YET, low, 0.5, f"no clear winner yet: {span}"))
    if estimate is not None and estimate >= target:
        checks.append(Check("margin", PASS, estimate, target))
    elif high is not None and high < target:
        checks.append(Check("margin", FAIL, estimate, target,
                            f"the win rate is below the {target:.0%} worth shipping "
                            f"({interval} ends at {_fmt(high)}): more judgments will not change that"))
    else:
        checks.append(Check("margin", NOT_YET, estimate, target,
                            f"the estimated win rate {_fmt(estimate)} is below the {target:.0%} "
                            f"required to ship (margin {t.margin:.0%})"))
    rate = evidence.both_bad_rate
    bad = rate is not None and rate > t.max_both_bad_rate
    checks.append(Check("both_bad_rate", FAIL if bad else PASS, rate, t.max_both_bad_rate,
                        f"both answers were bad in {_fmt(rate)} of judgments (at most "
                        f"{t.max_both_bad_rate:.0%} allowed)" if bad else ""))
    checks.extend(evidence.guardrails)

    status = {c.rule: c.status for c in checks}
    blocking = [c for c in checks if c.status == FAIL
                and (c.rule in ("win_rate_above_half", "both_bad_rate") or c.rule.startswith("guardrail:"))]
    needed = evidence.additional_needed
    if status["min_judgments"] != PASS or status["reviewer_reliability"] == FAIL:
        verdict = INCONCLUSIVE
        if evidence.n < t.min_judgments:
            needed = max(needed or 0, t.min_judgments - evidence.n)
    elif blocking:
        verdict = DO_NOT_SHIP
    elif all(c.status == PASS for c in checks):
        verdict = SHIP
    else:
        verdict = INCONCLUSIVE
    reasons = [c.reason for c in checks if c.reason and (c.status != PASS or c.rule in (
        "win_rate_above_half", "reviewer_reliability"))]
    if verdict == DO_NOT_SHIP:
        reasons = [c.reason for c in blocking] + [r for r in reasons if r.startswith("left out")]
    if evidence.flagged_reviewers:
        reasons.append("flagged, not left out: agree with the other reviewers' majority no more "
                       f"than chance: {', '.join(evidence.flagged_reviewers)}")
    anytime = evidence.method == "anytime"
    # Settled only on what the confidence sequences show: the win rate's side of 0.5, a
    # guardrail shown worse than its margin, or a margin out of reach. A both-bad share above
    # its limit is a point estimate that more votes can move.
    sequence_fail = any(c.rule == "win_rate_above_half" or c.rule.startswith("guardrail:")
                        for c in blocking)
    settled = anytime and ((verdict == SHIP) or (verdict == DO_NOT_SHIP and sequence_fail) or (
        verdict == INCONCLUSIVE and status["margin"] == FAIL))
    saved = None
    if settled and evidence.planned_judgments is not None:
        saved = max(0, evidence.planned_judgments - evidence.n)
        reasons.append(f"settled: stop collecting ({saved} of the {evidence.planned_judgments} "
                       "planned judgments saved)")
    if verdict != INCONCLUSIVE or settled:
        needed = None
    elif needed and evidence.planned_judgments and evidence.n + needed > evidence.planned_judgments:
        reasons.append(f"that is more than the {evidence.planned_judgments} judgments the items of this "
                       "study can take: add prompts to settle it")
    return Decision(verdict, tuple(reasons), needed, evidence.method, settled, tuple(checks), saved)
