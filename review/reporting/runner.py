"""The analysis of one study: its judgments from the database through :mod:`review.stats`.

The bootstrap rounds a user may ask for are bounded here, for the CLI and the dashboard alike.

Example::

    result = analyze_study(session=session, study=get_study(session=session, name="sft-v1"))
    print(format_analysis(result))   # review.reporting.formatters
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.models import Study
from review.reporting.dataset import study_judgments

DEFAULT_BOOTSTRAP, MIN_BOOTSTRAP, MAX_BOOTSTRAP = 1000, 50, 10_000


def bootstrap_rounds(value: Any) -> int:
    """Bootstrap rounds asked for by a user: a whole number from 50 to 10,000.

    Example:
        >>> bootstrap_rounds(200)
        200
    """
    try:
        rounds = int(value)
    except (TypeError, ValueError, OverflowError):
        rounds = None
    if rounds is None or rounds != value or not MIN_BOOTSTRAP <= rounds <= MAX_BOOTSTRAP:
        raise ReviewError(f"bootstrap rounds must be a whole number from {MIN_BOOTSTRAP} "
                          f"to {MAX_BOOTSTRAP}, got {value!r}")
    return rounds


def analyze_study(*, session: Session, study: Study, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                  seed: int = 0) -> dict[str, Any]:
    """The ``review analyze --json`` document for ``study`` (thresholds from the study)."""
    from review.stats import DecisionThresholds, analyze

    frame = study_judgments(session=session, study=study)
    return analyze(
        frame,
        candidate=study.candidate.name if study.candidate else None,
        baseline=study.baseline.name if study.baseline else None,
        thresholds=DecisionThresholds.from_dict(study.thresholds or {}),
        n_bootstrap=n_bootstrap, seed=seed, study=study.name,
    )
