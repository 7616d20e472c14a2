"""Counts of everything stored (``review status``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.core.models import (
    Comparison,
    Generation,
    Judgment,
    Model,
    Prompt,
    PromptSet,
    Reviewer,
    Study,
)


def database_counts(*, session: Session) -> dict[str, int]:
    """Number of rows of each kind, keyed as in ``review status --json``."""
    tables = {
        "models": Model, "prompt_sets": PromptSet, "prompts": Prompt, "generations": Generation,
        "studies": Study, "items": Comparison, "judgments": Judgment, "reviewers": Reviewer,
    }
    return {key: session.scalar(select(func.count()).select_from(model)) or 0
            for key, model in tables.items()}
