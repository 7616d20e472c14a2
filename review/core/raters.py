"""Raters by name, of one kind: a rater's kind (``human`` or ``llm``) never changes.

A person's account never collects a model judge's verdicts, and a judge's account never a
person's votes: human figures would otherwise count a model, or a judge's agreement a person.

Example::

    raters = existing_raters(session=session, names={"gpt-judge"}, kind="llm",
                             remedy="give the judge another name")
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.models import Reviewer

# What an account of each kind is, as a refusal names it.
KIND_WORDS = {"human": "a person's account", "llm": "a model judge"}


def existing_raters(*, session: Session, names: Iterable[str], kind: str, remedy: str) -> dict[str, Reviewer]:
    """The raters already called one of ``names``, by name (names without one are left out).

    Raises:
        ReviewError: one of them is not of ``kind``; the message names every such rater, says
            that a rater's kind never changes, and ends with ``remedy`` (what to do instead).
    """
    raters = {rater.name: rater for rater in session.scalars(
        select(Reviewer).where(Reviewer.name.in_(set(names))))}
    others = sorted(name for name, rater in raters.items() if rater.kind != kind)
    if others:
        raise ReviewError(f"{', '.join(map(repr, others))} is {KIND_WORDS[raters[others[0]].kind]}: "
                          f"a rater's kind never changes; {remedy}")
    return raters
