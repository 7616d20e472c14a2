"""A study that uses its model judge: the verdict is prediction-powered, and under a human
budget people see only the items drawn for them, those the judge is least sure of first.

Each regular item is drawn independently with probability ``pi`` from
:func:`review.stats.ppi.selection_probabilities` (``budget / overlap`` items expected, more
where the judge's two orders disagree or it called a tie), and both the probability and the
draw are stored on the item, so the estimate can weight each human-judged prompt by
``1 / pi`` and stays unbiased. The draw uses the judge's verdicts only, never a human vote;
so a budget is set before people start (afterwards the draw could no longer be independent of
what they said). Drawn items still get exactly ``overlap`` votes each.

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
from review.core.models import Comparison, JudgeVerdict, Judgment, Reviewer
from review.stats.ppi import selection_probabilities

SCORES = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


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
    """The judge's mean score for each item's first answer, over its parsed orders."""
    rows = session.execute(select(JudgeVerdict.comparison_id, JudgeVerdict.choice).join(
        Comparison, Comparison.id == JudgeVerdict.comparison_id).where(
        Comparison.study_id == study_id, JudgeVerdict.reviewer_id == judge_id)).all()
    values: dict[int, list[float]] = {}
    for comparison_id, choice in rows:
        values.setdefault(comparison_id, [])
        if choice is not None:
            values[comparison_id].append(SCORES[choice])
    return {key: float(np.mean(v)) if v else float("nan") for key, v in values.items()}


def use_judge(*, session: Session, study_name: str, judge_name: str | None,
              human_budget: int | None = None, seed: int = 0) -> Selection:
    """Let the study's verdict use ``judge_name`` (None: stop using a judge), and draw the items
    for people under ``human_budget`` judgments (None: every item, ``overlap`` votes each)."""
    study = get_study(session=session, name=study_name)
    items = session.scalars(select(Comparison).where(
        Comparison.study_id == study.id, Comparison.gold_label.is_(None)).order_by(Comparison.id)).all()
    voted = session.scalar(select(func.count(Judgment.id)).join(
        Comparison, Comparison.id == Judgment.comparison_id).where(
        Comparison.study_id == study.id, Comparison.gold_label.is_(None)))
    changes_draw = human_budget is not None or study.human_budget is not None
    if voted and changes_draw and human_budget != study.human_budget:
        raise ReviewError(f"study {study.name!r} already has {voted} human judgments: a human budget "
                          "is set before people start, so that the draw cannot depend on their votes")
    if judge_name is None:
        if human_budget is not None:
            raise ReviewError("a human budget needs a judge: give --judge")
        study.judge_id, study.human_budget = None, None
        for item in items:
            item.human_probability, item.human_selected = None, True
        session.flush()
        return Selection(study.name, None, None, len(items), len(items), float(len(items)))
    rater = _judge(session, judge_name)
    scores = item_scores(session, study.id, rater.id)
    missing = [item.id for item in items if item.id not in scores]
    if missing:
        raise ReviewError(f"judge {judge_name!r} has not judged {len(missing)} of the study's "
                          f"{len(items)} items: run `review judge --study {study.name!r}` first")
    if human_budget is not None and not 1 <= human_budget:
        raise ReviewError(f"--human-budget must be a positive number of judgments, got {human_budget}")
    study.judge_id = rater.id
    if human_budget is None:
        study.human_budget = None
        for item in items:
            item.human_probability, item.human_selected = None, True
        session.flush()
        return Selection(study.name, rater.name, None, len(items), len(items), float(len(items)))
    expected = min(len(items), human_budget / study.overlap)
    if expected < 2:
        raise ReviewError(f"a budget of {human_budget} judgments at {study.overlap} per item pays for "
                          "fewer than 2 items: the estimate needs at least 2")
    probability = selection_probabilities(np.array([scores[item.id] for item in items]), expected)
    rng = np.random.default_rng([seed, study.id])
    drawn = rng.random(len(items)) < probability
    for item, pi, chosen in zip(items, probability, drawn, strict=True):
        item.human_probability, item.human_selected = float(pi), bool(chosen)
    study.human_budget = human_budget
    study.meta = {**(study.meta or {}), "selection_seed": seed}
    session.flush()
    return Selection(study.name, rater.name, human_budget, len(items), int(drawn.sum()), float(expected))
