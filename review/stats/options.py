"""What an analysis of a study is for and how it is computed: :class:`AnalysisOptions`, read by
:func:`review.stats.analysis.analyze` and :func:`review.stats.analysis.decide_study`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from review.stats.decision import DecisionThresholds
from review.stats.defaults import DEFAULT_BOOTSTRAP


@dataclass(frozen=True, kw_only=True)
class AnalysisOptions:
    """What :func:`analyze` and :func:`decide_study` compute a study's figures for, and how.

    Attributes:
        candidate: the fine-tune; None for a study of several model pairs.
        baseline: the model it must beat; None for a study of several model pairs.
        thresholds: decision thresholds; their dict form is read too, and None gives the
            defaults (after construction it is always a :class:`DecisionThresholds`).
        n_bootstrap: bootstrap rounds of every interval.
        seed: random seed; the same inputs and seed give the same document.
        study: study name, echoed in the result.
        overlap: votes per item the study asks for (the anytime sequence uses prompts once they
            have this many); default: the most any item has.
        planned_items: items of the study, for the judgments a settled verdict saves.
        judge, use_judge: the study's own model judge and whether its verdict uses it
            (:func:`review.stats.judged.judge_section`).

    Example:
        >>> options = AnalysisOptions(candidate="tuned", baseline="base", thresholds={"margin": 0.1})
        >>> options.thresholds.margin, options.n_bootstrap
        (0.1, 1000)
    """

    candidate: str | None
    baseline: str | None
    thresholds: DecisionThresholds | Mapping[str, Any] | None = None
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    study: str = ""
    overlap: int | None = None
    planned_items: int | None = None
    judge: str | None = None
    use_judge: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.thresholds, DecisionThresholds):
            object.__setattr__(self, "thresholds", DecisionThresholds.from_dict(self.thresholds))
