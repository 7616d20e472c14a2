"""A study's model-judge verdicts and items as the DataFrames :mod:`review.stats` reads.

Example::

    verdicts = judge_verdict_frame(session=session, study_id=study.id)
    items = study_item_frame(session=session, study_id=study.id)
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from review.core.models import Comparison, JudgeVerdict, Prompt, Reviewer
from review.core.queries import PairedItems, regular_item
from review.core.vocabulary import JUDGE_ORDERS, judge_left_right

JUDGE_COLUMNS = ["item", "prompt", "category", "rater", "model_left", "model_right", "choice",
                 "order", "prob_left"]
# A verdict's choice (against the item's answers) as a side, per order.
_SIDES = {order: dict(zip(judge_left_right(order, "a", "b"), ("left", "right"))) for order in JUDGE_ORDERS}


def judge_verdict_frame(*, session: Session, study_id: int, rater_id: int | None = None) -> pd.DataFrame:
    """The judges' verdicts on the study's regular items, one row per item and order, in the
    layout of :mod:`review.stats.judges`: ``choice`` None for a failed verdict, ``prob_left``
    the judge's probability that Assistant A (left) is better, ties counting half (NaN when
    the judge gave no probabilities)."""
    pairs = PairedItems()
    query = pairs.join(
        select(cast(Comparison.id, String), Prompt.external_id, Prompt.category, Reviewer.name,
               pairs.model_a.name, pairs.model_b.name, JudgeVerdict.judge_order, JudgeVerdict.choice,
               JudgeVerdict.meta)
        .select_from(JudgeVerdict)
        .join(Comparison, Comparison.id == JudgeVerdict.comparison_id)
    ).join(Reviewer, Reviewer.id == JudgeVerdict.reviewer_id).where(
        Comparison.study_id == study_id, regular_item())
    if rater_id is not None:
        query = query.where(JudgeVerdict.reviewer_id == rater_id)
    records = []
    for item, prompt, category, rater, first, second, order, choice, meta in \
            session.execute(query.order_by(JudgeVerdict.id)):
        left, right = judge_left_right(order, first, second)
        side = None if choice is None else _SIDES[order].get(choice, choice)
        p = (meta or {}).get("option_probabilities") or {}
        prob_left = p["A"] + 0.5 * p.get("C", 0.0) if choice is not None and "A" in p else float("nan")
        records.append((item, prompt, category, rater, left, right, side, order, prob_left))
    return pd.DataFrame.from_records(records, columns=JUDGE_COLUMNS)


def study_item_frame(*, session: Session, study_id: int) -> pd.DataFrame:
    """The study's regular items: ``item``, ``prompt``, ``category``, ``model_a``, ``model_b``
    (the models of its first and second answer), ``human_probability`` and ``human_selected``."""
    pairs = PairedItems()
    rows = session.execute(pairs.select_items(
        cast(Comparison.id, String), Prompt.external_id, Prompt.category, pairs.model_a.name,
        pairs.model_b.name, Comparison.human_probability, Comparison.human_selected)
        .where(Comparison.study_id == study_id, regular_item())
        .order_by(Comparison.id)).all()
    return pd.DataFrame.from_records(rows, columns=["item", "prompt", "category", "model_a", "model_b",
                                                    "human_probability", "human_selected"])
