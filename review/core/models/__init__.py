"""The data model (SQLAlchemy 2.0, typed), one module per concern: :mod:`.catalog` (models,
prompts, answers), :mod:`.accounts` (accounts, sessions, throttle, devices), :mod:`.campaign`
(studies, items, leases, votes, verdicts); everything is importable from here.

Uniqueness that matters for correctness is enforced by the database through named
constraints: one generation per (model, prompt, parameters hash), one judgment per
(comparison, reviewer), one assignment per (comparison, reviewer), unique model, study,
prompt-set and reviewer names. The schema itself is created by the Alembic migrations in
``migrations/``; a test checks that they agree with these classes.
"""

from review.core.models.accounts import KnownDevice, LoginSession, LoginThrottle, Reviewer
from review.core.models.base import Base, UTCDateTime, new_opaque_id, utcnow
from review.core.models.campaign import (
    Assignment,
    Comparison,
    JudgeVerdict,
    Judgment,
    Study,
    StudyReviewer,
)
from review.core.models.catalog import Generation, Model, Prompt, PromptSet
from review.core.vocabulary import (
    DEFAULT_OVERLAP,
    MODEL_KINDS,
    NAME_LENGTH,
    ROLES,
    STUDY_STATUSES,
    THROTTLE_KEY_LENGTH,
)

__all__ = [
    "DEFAULT_OVERLAP", "MODEL_KINDS", "NAME_LENGTH", "ROLES", "STUDY_STATUSES", "THROTTLE_KEY_LENGTH",
    "Assignment", "Base", "Comparison", "Generation", "JudgeVerdict", "Judgment", "KnownDevice",
    "LoginSession", "LoginThrottle", "Model", "Prompt", "PromptSet", "Reviewer", "Study",
    "StudyReviewer", "UTCDateTime", "new_opaque_id", "utcnow",
]
