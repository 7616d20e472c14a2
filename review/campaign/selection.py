"""A study that uses its model judge: the verdict is prediction-powered, and under a human
budget people see only the items drawn for them, those the judge is least sure of first.

Each regular item is drawn independently with probability ``pi`` from
:func:`review.stats.ppi.selection_probabilities` (``budget / overlap`` items expected, more
where the judge's two orders disagree or it called a tie), and both the probability and the
draw are stored on the item, so the estimate can weight each human-judged prompt by
``1 / pi`` and stays unbiased. The draw uses the judge's verdicts only, never a human vote;
so a budget is set before people start (afterwards the draw could no longer be independent of
what they said). Drawn items still get exactly ``overlap`` votes each. A budget must pay for at
least 20 items and for the verdict's ``min_judgments``, and leave each guardrail category its
``min_category_prompts`` in expectation, so that the one look can decide.

Example::

    with session_scope(engine, write=True) as session:
        use_judge(session=session, study_name="sft-vs-base", judge_name="judge:qwen",
                  human_budget=150)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.core.errors import NotFound, ReviewError
from review.core.lookup import get_study
from review.campaign.judge_data import judge_verdict_frame
from review.core.models import Comparison, Judgment, Reviewer, Study
from review.core.queries import regular_item
from review.stats.decision import DecisionThresholds
from review.stats.judges import judge_items
from review.stats.ppi import selection_probabilities

# Fewest items a human budget may pay for: the weighted interval needs enough drawn prompts.
MIN_DRAWN_ITEMS = 20


@dataclass(frozen=True)
class Selection:
    study: str
    judge: str | None
    human_budget: int | None
    items: int
    drawn: int
    expected: float


def _judge(session: Session, name: str) -> Reviewer:
    rater = session.scalar(select(Reviewer).where(Reviewer.name == name))
    if rater is None:
        raise NotFound(f"no judge named {name!r}: run `review judge` or import its verdicts "
                       "with `review import-judgments --rater-kind llm`")
    if rater.kind != "llm":
        raise ReviewError(f"{name!r} is a person, not a model judge")
    return rater


def item_scores(session: Session, study_id: int, judge_id: int) -> dict[int, float]:
    """The judge's score for each item it judged (NaN where every output failed)."""
    items = judge_items(judge_verdict_frame(session=session, study_id=study_id, rater_id=judge_id))
    return {int(row.item): float(row.score_a) for row in items.itertuples(index=False)}


def _reset(study: Study, items: list[Comparison], judge_id: int | None) -> None:
    study.judge_id, study.human_budget = judge_id, None
    for item in items:
        item.human_probability, item.human_selected = None, True


def use_judge(*, session: Session, study_name: str, judge_name: str | None,
              human_budget: int | None = None, seed: int = 0) -> Selection:
    """Let the study's verdict use ``judge_name`` (None: stop using a judge), and draw the items
    for people under ``human_budget`` judgments (None: every item, ``overlap`` votes each)."""
    study = get_study(session=session, name=study_name)
    items = session.scalars(select(Comparison).where(
        Comparison.study_id == study.id, regular_item()).order_by(Comparison.id)).all()
    voted = session.scalar(select(func.count(Judgment.id)).join(
        Comparison, Comparison.id == Judgment.comparison_id).where(
        Comparison.study_id == study.id, regular_item()))
    rater = _judge(session, judge_name) if judge_name is not None else None
    if voted and (human_budget is not None or study.human_budget is not None):
        same = (rater is not None and rater.id == study.judge_id and human_budget == study.human_budget
                and (study.meta or {}).get("selection_seed") == seed)
        if not same:
            raise ReviewError(f"study {study.name!r} already has {voted} human judgments: the draw "
                              "under a human budget is fixed before people start, so that it cannot "
                              "depend on their votes")
        drawn = sum(item.human_selected for item in items)
        return Selection(study.name, rater.name, human_budget, len(items), drawn,
                         float(sum(item.human_probability or 0.0 for item in items)))
    if rater is None:
        if human_budget is not None:
            raise ReviewError("a human budget needs a judge: give --judge")
        _reset(study, items, None)
        session.flush()
        return Selection(study.name, None, None, len(items), len(items), float(len(items)))
    scores = item_scores(session, study.id, rater.id)
    missing = [item.id for item in items if item.id not in scores]
    if missing:
        raise ReviewError(f"judge {judge_name!r} has not judged {len(missing)} of the study's "
                          f"{len(items)} items: run `review judge --study {study.name!r}` first")
    if human_budget is None:
        _reset(study, items, rater.id)
        session.flush()
        return Selection(study.name, rater.name, None, len(items), len(items), float(len(items)))
    _check_budget(study, items, human_budget)
    expected = min(len(items), human_budget / study.overlap)
    probability = selection_probabilities(np.array([scores[item.id] for item in items]), expected)
    _check_guardrails(study, items, probability)
    rng = np.random.default_rng([seed, study.id])
    drawn = rng.random(len(items)) < probability
    for item, pi, chosen in zip(items, probability, drawn, strict=True):
        item.human_probability, item.human_selected = float(pi), bool(chosen)
    study.judge_id, study.human_budget = rater.id, human_budget
    study.meta = {**(study.meta or {}), "selection_seed": seed}
    session.flush()
    return Selection(study.name, rater.name, human_budget, len(items), int(drawn.sum()), float(expected))


def _check_budget(study: Study, items: list[Comparison], budget: int) -> None:
    if study.candidate_model_id is None or study.baseline_model_id is None:
        raise ReviewError(f"study {study.name!r} has no candidate and baseline: a human budget "
                          "draws candidate-vs-baseline items")
    pair = {study.candidate_model_id, study.baseline_model_id}
    others = [i.id for i in items if {i.generation_a.model_id, i.generation_b.model_id} != pair]
    if others:
        raise ReviewError(f"{len(others)} items of study {study.name!r} compare other models: "
                          "a human budget needs a study of the candidate and the baseline only")
    if budget < MIN_DRAWN_ITEMS * study.overlap:
        raise ReviewError(f"--human-budget {budget} pays for {budget / study.overlap:.0f} items at "
                          f"{study.overlap} votes each; it must pay for at least {MIN_DRAWN_ITEMS}")
    needed = DecisionThresholds.from_dict(study.thresholds or {}).min_judgments
    if budget < needed:
        raise ReviewError(f"--human-budget {budget} is below the {needed} judgments the verdict "
                          "needs (min_judgments): raise the budget or lower that threshold")


def _check_guardrails(study: Study, items: list[Comparison], probability: np.ndarray) -> None:
    thresholds = DecisionThresholds.from_dict(study.thresholds or {})
    categories = np.array([item.prompt.category for item in items], dtype=object)
    for name in thresholds.guardrail_categories:
        expected = float(probability[categories == name].sum())
        if expected < thresholds.min_category_prompts:
            raise ReviewError(f"under this budget about {expected:.0f} prompts of guardrail category "
                              f"{name!r} would go to people; it needs {thresholds.min_category_prompts}: "
                              "raise the budget")
