"""The judgments of a study as the long DataFrame that :mod:`review.stats` reads.

One row per judgment, with the columns ``item``, ``prompt``, ``category``, ``rater``,
``model_left``, ``model_right``, ``choice``, ``strength``, ``seconds``, ``length_left``,
``length_right`` and ``gold`` (the expected winner of a gold item as a model name, ``tie``
or ``both_bad``; None for ordinary items).

Example::

    frame = study_judgments(session=session, study=get_study(session=session, name="sft-v1"))
    analysis = analyze(frame, candidate="sft-v1", baseline="smollm2")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from review.models import Comparison, Generation, Judgment, Model, Prompt, Reviewer, Study

COLUMNS = ["item", "prompt", "category", "rater", "model_left", "model_right", "choice",
           "strength", "seconds", "length_left", "length_right", "gold"]


@dataclass(frozen=True)
class JudgmentJoin:
    """Each judgment of a study joined with its item, prompt, reviewer, both generations and
    both models; ``gen_a``/``model_a`` are the item's first generation and its model.

    Example::

        j = JudgmentJoin()
        rows = session.execute(j.select(study.id, Judgment.choice, j.model_a.name)).all()
    """

    gen_a: Any = field(default_factory=lambda: aliased(Generation))
    gen_b: Any = field(default_factory=lambda: aliased(Generation))
    model_a: Any = field(default_factory=lambda: aliased(Model))
    model_b: Any = field(default_factory=lambda: aliased(Model))

    def select(self, study_id: int, *columns: Any) -> Select:
        return (
            select(*columns)
            .select_from(Judgment)
            .join(Comparison, Comparison.id == Judgment.comparison_id)
            .join(Prompt, Prompt.id == Comparison.prompt_id)
            .join(Reviewer, Reviewer.id == Judgment.reviewer_id)
            .join(self.gen_a, self.gen_a.id == Comparison.generation_a_id)
            .join(self.gen_b, self.gen_b.id == Comparison.generation_b_id)
            .join(self.model_a, self.model_a.id == self.gen_a.model_id)
            .join(self.model_b, self.model_b.id == self.gen_b.model_id)
            .where(Comparison.study_id == study_id)
            .order_by(Judgment.id)
        )


def study_judgments(*, session: Session, study: Study) -> pd.DataFrame:
    """Every judgment of ``study`` in the layout of :mod:`review.stats` (one query)."""
    j = JudgmentJoin()
    rows = session.execute(j.select(
        study.id,
        Comparison.id, Prompt.external_id, Prompt.category, Reviewer.name,
        Judgment.left_generation_id, Comparison.generation_a_id,
        j.model_a.name, j.model_b.name, Judgment.choice, Judgment.strength, Judgment.seconds,
        func.length(j.gen_a.output), func.length(j.gen_b.output), Comparison.gold_label,
    )).all()
    records = []
    for (item, prompt, category, rater, left_generation, generation_a, name_a, name_b, choice,
         strength, seconds, length_a, length_b, gold_label) in rows:
        a_on_left = left_generation == generation_a
        gold = {"a": name_a, "b": name_b}.get(gold_label, gold_label)
        records.append((
            str(item), str(prompt), category, rater,
            name_a if a_on_left else name_b, name_b if a_on_left else name_a,
            choice, strength, seconds,
            length_a if a_on_left else length_b, length_b if a_on_left else length_a, gold,
        ))
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    for column in ("strength", "length_left", "length_right"):
        frame[column] = frame[column].astype("Int64")
    frame["seconds"] = frame["seconds"].astype(float)
    return frame
