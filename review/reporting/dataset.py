"""The judgments of a study as the long DataFrame that :mod:`review.stats` reads.

One row per judgment, with the columns ``item``, ``prompt``, ``category``, ``rater``,
``model_left``, ``model_right``, ``choice``, ``strength``, ``seconds``, ``length_left``,
``length_right`` and ``gold`` (the expected winner of a gold item as a model name, ``tie``
or ``both_bad``; None for ordinary items).

Example::

    frame = study_judgments(session=session, study=get_study(session=session, name="sft-v1"))
    analysis = analyze(frame, AnalysisOptions(candidate="sft-v1", baseline="smollm2"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Select, String, case, cast, func, select
from sqlalchemy.orm import Session

from review.campaign.boilerplate import study_answers as answers_as_shown
from review.core.models import Comparison, Judgment, Prompt, Reviewer, Study
from review.core.queries import PairedItems

COLUMNS = ["item", "prompt", "category", "rater", "model_left", "model_right", "choice",
           "strength", "seconds", "length_left", "length_right", "gold"]


@dataclass(frozen=True)
class JudgmentJoin(PairedItems):
    """Each judgment of a study joined with its item, prompt, reviewer, both generations and
    both models; ``gen_a``/``model_a`` are the item's first generation and its model.

    The one place where a judgment's stored left generation becomes "which model and which
    answer were on the left": :attr:`model_left`, :attr:`model_right`, :attr:`answer_left`,
    :attr:`answer_right`, :attr:`length_left` and :attr:`length_right` are SQL expressions.

    Example::

        j = JudgmentJoin()
        rows = session.execute(j.select(study.id, Judgment.choice, j.model_left)).all()
    """

    @property
    def a_on_left(self) -> Any:
        return Judgment.left_generation_id == Comparison.generation_a_id

    def _side(self, first: Any, second: Any) -> Any:
        return case((self.a_on_left, first), else_=second)

    @property
    def model_left(self) -> Any:
        return self._side(self.model_a.name, self.model_b.name)

    @property
    def model_right(self) -> Any:
        return self._side(self.model_b.name, self.model_a.name)

    @property
    def answer_left(self) -> Any:
        return self._side(self.gen_a.output, self.gen_b.output)

    @property
    def answer_right(self) -> Any:
        return self._side(self.gen_b.output, self.gen_a.output)

    @property
    def length_left(self) -> Any:
        return func.length(self.answer_left)

    @property
    def length_right(self) -> Any:
        return func.length(self.answer_right)

    @property
    def gold(self) -> Any:
        """A gold item's expected answer as a model name, ``tie`` or ``both_bad``; else NULL."""
        return case((Comparison.gold_label == "a", self.model_a.name),
                    (Comparison.gold_label == "b", self.model_b.name),
                    else_=Comparison.gold_label)

    def select(self, study_id: int, *columns: Any) -> Select:
        return (
            self.join(select(*columns).select_from(Judgment)
                      .join(Comparison, Comparison.id == Judgment.comparison_id))
            .join(Reviewer, Reviewer.id == Judgment.reviewer_id)
            .where(Comparison.study_id == study_id)
            .order_by(Judgment.id)
        )


def study_judgments(*, session: Session, study: Study) -> pd.DataFrame:
    """Every judgment of ``study`` in the layout of :mod:`review.stats` (one query)."""
    j = JudgmentJoin()
    rows = session.execute(j.select(
        study.id,
        cast(Comparison.id, String), Prompt.external_id, Prompt.category, Reviewer.name,
        j.model_left, j.model_right, Judgment.choice, Judgment.strength, Judgment.seconds,
        j.length_left, j.length_right, j.gold,
    )).all()
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    for column in ("strength", "length_left", "length_right"):
        frame[column] = frame[column].astype("Int64")
    frame["seconds"] = frame["seconds"].astype(float)
    return frame


def study_answers(*, session: Session, study: Study) -> pd.DataFrame:
    """Both answers of every regular item of the study's candidate and baseline, as reviewers
    see them (without the boilerplate the study strips): ``prompt``, ``model``, ``text``."""
    return answers_as_shown(session=session, study=study, stripped=True)
