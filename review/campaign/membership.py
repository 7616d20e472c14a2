"""Who works on which study, and how a reviewer sees their studies.

A reviewer sees only the studies they are on; a study's label never names a model.

Example::

    assign_reviewers(session=session, study="sft-vs-base", reviewers=["ana", "bo"])
    study = study_for_reviewer(session=session, reviewer=ana, label=None)  # their first study
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import NotFound, ReviewError
from review.core.lookup import get_study
from review.core.models import Comparison, Generation, Model, Reviewer, Study, StudyReviewer


@dataclass(frozen=True)
class StudyChoice:
    """A study as a reviewer may see it: a label that never names a model."""

    label: str
    study_id: int
    status: str


def assign_reviewers(*, session: Session, study: str, reviewers: Sequence[str]) -> list[str]:
    """Put reviewers on a study (idempotent); returns the names that were added.

    Example::

        assign_reviewers(session=session, study="sft-vs-base", reviewers=["ana", "bo"])
    """
    study_row = get_study(session=session, name=study)
    if not reviewers:
        raise ReviewError("name at least one reviewer")
    rows = {r.name: r for r in session.scalars(select(Reviewer).where(Reviewer.name.in_(reviewers)))}
    missing = [name for name in reviewers if name not in rows]
    if missing:
        raise ReviewError(f"no reviewer named {', '.join(repr(m) for m in missing)}: "
                          "create accounts with `review reviewers add`")
    judges = [name for name in reviewers if rows[name].kind != "human"]
    if judges:
        raise ReviewError(f"{', '.join(repr(j) for j in judges)} is a model judge, not a person: "
                          "judges judge with `review judge`")
    present = set(session.scalars(
        select(StudyReviewer.reviewer_id).where(StudyReviewer.study_id == study_row.id)))
    added = []
    for name in dict.fromkeys(reviewers):
        reviewer = rows[name]
        if reviewer.id not in present:
            session.add(StudyReviewer(study_id=study_row.id, reviewer_id=reviewer.id))
            present.add(reviewer.id)
            added.append(name)
    session.flush()
    return added


def reviewer_studies(*, session: Session, reviewer: Reviewer) -> list[StudyChoice]:
    """The studies this reviewer is on, labelled so that no label names a model.

    A study's name is shown unless it contains the name of a model in the study (study
    names are often "ft-v2-vs-base"); such a study is shown as "Study 1", "Study 2", ...
    (its position in this reviewer's list). ``meta["display_name"]`` overrides both.
    """
    studies = session.scalars(
        select(Study).join(StudyReviewer, StudyReviewer.study_id == Study.id)
        .where(StudyReviewer.reviewer_id == reviewer.id).order_by(Study.id)
    ).all()
    choices = []
    for position, study in enumerate(studies, start=1):
        label = (study.meta or {}).get("display_name") or study.name
        names = _model_names(session, study)
        if any(name and name.lower() in label.lower() for name in names):
            label = f"Study {position}"
        choices.append(StudyChoice(label=label, study_id=study.id, status=study.status))
    return choices


def _model_names(session: Session, study: Study) -> set[str]:
    generation_model = (
        select(Model.name).join(Generation, Generation.model_id == Model.id)
        .join(Comparison, (Comparison.generation_a_id == Generation.id)
              | (Comparison.generation_b_id == Generation.id))
        .where(Comparison.study_id == study.id).distinct()
    )
    names = set(session.scalars(generation_model))
    for model_id in (study.candidate_model_id, study.baseline_model_id):
        if model_id is not None:
            names.add(session.scalar(select(Model.name).where(Model.id == model_id)))
    return names


def study_for_reviewer(*, session: Session, reviewer: Reviewer, label: str | None) -> Study:
    """The reviewer's study with this label (their first study when ``None``).

    A label is matched against what :func:`reviewer_studies` may show for each study: its
    display name, its name, or "Study N". Only the reviewer's own studies can match, so
    this needs no model names (it runs on every request).
    """
    studies = session.scalars(
        select(Study).join(StudyReviewer, StudyReviewer.study_id == Study.id)
        .where(StudyReviewer.reviewer_id == reviewer.id).order_by(Study.id)
    ).all()
    if label is None:
        if not studies:
            raise NotFound("you are not assigned to any study yet")
        return studies[0]
    for position, study in enumerate(studies, start=1):
        if label in ((study.meta or {}).get("display_name"), study.name, f"Study {position}"):
            return study
    raise NotFound(f"no study {label!r} for you")
