"""Finding a named row, or saying clearly that there is none.

One home for "no model named 'x' (see `review models list`)" and its kind: every command,
service and page that takes a name from a user looks it up here.

Example::

    study = get_study(session=session, name="sft-v1")
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import NotFound, ReviewError
from review.core.models import Model, PromptSet, Study


def get_model(*, session: Session, name: str) -> Model:
    """The registered model called ``name``."""
    model = session.scalar(select(Model).where(Model.name == name))
    if model is None:
        raise NotFound(f"no model named {name!r} (see `review models list`)")
    return model


def get_prompt_set(*, session: Session, name: str) -> PromptSet:
    """The prompt set called ``name``."""
    prompt_set = session.scalar(select(PromptSet).where(PromptSet.name == name))
    if prompt_set is None:
        raise NotFound(f"no prompt set named {name!r} (import one with `review prompts import`)")
    return prompt_set


def get_study(*, session: Session, name: str) -> Study:
    """The study called ``name``; refuses an empty or non-text name with a readable message."""
    if not isinstance(name, str) or not name.strip():
        raise ReviewError("choose a study first")
    study = session.scalar(select(Study).where(Study.name == name))
    if study is None:
        raise NotFound(f"no study named {name!r} (see `review studies list`)")
    return study
