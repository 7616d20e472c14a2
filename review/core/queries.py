"""Query pieces that several services share: which items are regular (not attention checks),
and a study's items with their prompt and answers.

Example::

    items = PairedItems()
    rows = session.execute(items.select_items(Prompt.external_id, items.model_a.name,
                                              items.model_b.name)
                           .where(Comparison.study_id == study.id, regular_item())).all()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import aliased

from review.core.models import Comparison, Generation, Model, Prompt


def regular_item() -> ColumnElement[bool]:
    """The SQL condition that an item is a regular one: it has no gold label, so it is not an
    attention check (an item whose answer is planted, see :mod:`review.campaign.gold`).

    Example::

        planned = session.scalar(select(func.count(Comparison.id))
                                 .where(Comparison.study_id == study.id, regular_item()))
    """
    return Comparison.gold_label.is_(None)


@dataclass(frozen=True)
class PairedItems:
    """Items (comparisons) joined with their prompt, both generations and both generations'
    models: ``gen_a``/``model_a`` are the item's first answer and its model, ``gen_b``/``model_b``
    its second (aliases, so that a query can name both)."""

    gen_a: Any = field(default_factory=lambda: aliased(Generation))
    gen_b: Any = field(default_factory=lambda: aliased(Generation))
    model_a: Any = field(default_factory=lambda: aliased(Model))
    model_b: Any = field(default_factory=lambda: aliased(Model))

    def join(self, query: Select) -> Select:
        """``query``, whose FROM already reaches :class:`Comparison`, joined with each item's
        prompt, both answers and both models."""
        return (query.join(Prompt, Prompt.id == Comparison.prompt_id)
                .join(self.gen_a, self.gen_a.id == Comparison.generation_a_id)
                .join(self.gen_b, self.gen_b.id == Comparison.generation_b_id)
                .join(self.model_a, self.model_a.id == self.gen_a.model_id)
                .join(self.model_b, self.model_b.id == self.gen_b.model_id))

    def select_items(self, *columns: Any) -> Select:
        """``columns`` of every item, joined as by :meth:`join`."""
        return self.join(select(*columns).select_from(Comparison))
