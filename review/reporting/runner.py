"""The analysis of one study: its judgments from the database through :mod:`review.stats`.

The bootstrap rounds a user may ask for are bounded here, for the CLI and the dashboard alike.

Example::

    result = analyze_study(session=session, study=get_study(session=session, name="sft-v1"))
    print(format_analysis(result))   # review.reporting.formatters
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.models import Comparison, Study
from review.core.queries import regular_item
from review.campaign.judge_data import judge_verdict_frame, study_item_frame
from review.reporting.dataset import study_answers, study_judgments
from review.stats.defaults import DEFAULT_BOOTSTRAP

MIN_BOOTSTRAP, MAX_BOOTSTRAP = 50, 10_000


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
                  seed: int = 0, frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """The ``review analyze --json`` document for ``study``: its thresholds, its overlap, its
    planned items, and its share of its training run's error budget; ``identifiability`` of
    the answers as reviewers see them and ``boilerplate_stripped`` (``[{"model", "opening",
    "closing"}]``, see :mod:`review.campaign.boilerplate`).

    ``frame`` is the study's judgments when already loaded (saves a query).
    """
    from dataclasses import replace

    from review.stats import AnalysisOptions, DecisionThresholds, analyze, run_confidence

    if frame is None:
        frame = study_judgments(session=session, study=study)
    thresholds = DecisionThresholds.from_dict(study.thresholds or {})
    budget = run_position(session=session, study=study)
    if budget is not None:
        thresholds = replace(thresholds, confidence=run_confidence(thresholds.confidence, budget[1]))
    planned = session.scalar(select(func.count(Comparison.id)).where(
        Comparison.study_id == study.id, regular_item()))
    options = AnalysisOptions(
        candidate=study.candidate.name if study.candidate else None,
        baseline=study.baseline.name if study.baseline else None,
        thresholds=thresholds, n_bootstrap=n_bootstrap, seed=seed, study=study.name,
        overlap=study.overlap, planned_items=planned or None,
        judge=study.judge.name if study.judge else None, use_judge=study.judge_id is not None,
    )
    result = analyze(
        frame, options,
        judge_verdicts=judge_verdict_frame(session=session, study_id=study.id),
        items=study_item_frame(session=session, study_id=study.id),
    )
    from review.campaign.boilerplate import stripped_boilerplate
    from review.stats.identifiability import identifiability

    # The check reads the answers as reviewers see them, boilerplate stripped.
    result["identifiability"] = identifiability(study_answers(session=session, study=study), seed=seed)
    result["boilerplate_stripped"] = stripped_boilerplate(study)
    result["truncated_answers"] = truncated_answers(session=session, study=study)
    result["error_budget"] = None if budget is None else {
        "run": budget[0], "position": budget[1], "confidence": thresholds.confidence,
        "rule": "the j-th study of a training run gets alpha * 6 / (pi^2 j^2) of the run's "
                "alpha = 1 - confidence, so that all its studies together spend at most alpha"}
    return result


def run_position(*, session: Session, study: Study) -> tuple[str, int] | None:
    """The training run a study belongs to (``meta["run"]``, set by the checkpoint watcher)
    and its position among that run's studies (1 = the first created); None outside a run."""
    run = (study.meta or {}).get("run")
    if not run:
        return None
    ids = [s.id for s in session.scalars(select(Study).order_by(Study.id))
           if (s.meta or {}).get("run") == run]
    return run, ids.index(study.id) + 1


def truncated_answers(*, session: Session, study: Study) -> dict[str, int]:
    """``{model name: how many of its answers in the study's regular items were cut at
    max_new_tokens}``: the generations whose ``meta["finish_reason"]`` is ``"length"``
    (:func:`review.generation.job.store_answer`), every model with answers in the study
    listed, 0 included. Answers imported or generated before finish reasons were stored
    count as not cut. For analysts only: a reviewer is never told (blinding).

    Example::

        truncated_answers(session=session, study=study)  # {"base": 0, "sft-v1": 12}
    """
    from sqlalchemy import case, union

    from review.core.models import Generation, Model

    shown = union(
        select(Comparison.generation_a_id.label("generation_id"))
        .where(Comparison.study_id == study.id, regular_item()),
        select(Comparison.generation_b_id).where(Comparison.study_id == study.id, regular_item()),
    ).subquery()
    cut = case((Generation.meta["finish_reason"].as_string() == "length", 1), else_=0)
    rows = session.execute(
        select(Model.name, func.sum(cut))
        .join(Generation, Generation.model_id == Model.id)
        .where(Generation.id.in_(select(shown.c.generation_id)))
        .group_by(Model.name).order_by(Model.name))
    return {name: int(count or 0) for name, count in rows}
