"""Collection progress of every study, for analysts: counts only, no results.

Example::

    for row in study_progress(session=session):
        print(row.study, row.judgments, row.needed)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.core.models import Comparison, Judgment, Reviewer, Study, StudyReviewer


@dataclass(frozen=True)
class StudyProgress:
    """Collection progress of a study (no results: counts only)."""

    study: str
    status: str
    overlap: int
    items: int
    gold_items: int
    judgments: int
    needed: int
    reviewers: int

    @property
    def target(self) -> int:
        """Judgments the study's regular items need in all: items × overlap (only the items
        drawn for people, when a judge's active selection left some to the judge)."""
        return self.items * self.overlap

    @property
    def share_done(self) -> float | None:
        """Share of :attr:`target` collected; an item judged more than k times does not make
        up for another (``needed`` counts what each item still lacks). None without items."""
        return (self.target - self.needed) / self.target if self.target else None


def study_progress(*, session: Session) -> list[StudyProgress]:
    """Items, judgments and judgments still needed for every study (for analysts)."""
    per_item = (
        select(Comparison.id.label("comparison_id"), Comparison.study_id,
               Comparison.gold_label, func.count(Judgment.id).label("n"))
        .outerjoin(Judgment, Judgment.comparison_id == Comparison.id)
        .where(Comparison.human_selected.is_(True))
        .group_by(Comparison.id, Comparison.study_id, Comparison.gold_label)
        .subquery()
    )
    rows = session.execute(select(per_item)).all()
    stats: dict[int, dict[str, int]] = {}
    studies = session.scalars(select(Study).order_by(Study.id)).all()
    overlap = {s.id: s.overlap for s in studies}
    for _, study_id, gold_label, n in rows:
        entry = stats.setdefault(study_id, {"items": 0, "gold": 0, "judgments": 0, "needed": 0})
        entry["judgments"] += n
        if gold_label is None:
            entry["items"] += 1
            entry["needed"] += max(0, overlap[study_id] - n)
        else:
            entry["gold"] += 1
    members = dict(session.execute(
        select(StudyReviewer.study_id, func.count(StudyReviewer.id)).group_by(StudyReviewer.study_id)
    ).all())
    result = []
    for study in studies:
        entry = stats.get(study.id, {"items": 0, "gold": 0, "judgments": 0, "needed": 0})
        result.append(StudyProgress(
            study=study.name, status=study.status, overlap=study.overlap, items=entry["items"],
            gold_items=entry["gold"], judgments=entry["judgments"], needed=entry["needed"],
            reviewers=members.get(study.id, 0)))
    return result


def list_studies(*, session: Session) -> list[dict[str, Any]]:
    """Every study with its models, overlap, status, items and judgments (``review studies list``)."""
    items = dict(session.execute(
        select(Comparison.study_id, func.count()).group_by(Comparison.study_id)).all())
    votes = dict(session.execute(
        select(Comparison.study_id, func.count()).join(Judgment, Judgment.comparison_id == Comparison.id)
        .group_by(Comparison.study_id)).all())
    return [{
        "study": s.name, "candidate": s.candidate.name if s.candidate else None,
        "baseline": s.baseline.name if s.baseline else None, "overlap": s.overlap,
        "status": s.status, "items": items.get(s.id, 0), "judgments": votes.get(s.id, 0),
    } for s in session.scalars(select(Study).order_by(Study.id))]


@dataclass(frozen=True)
class ProgressView:
    """A study's progress as one account may see it: its own (``you``, when it reviews the
    study) and the collection's (``collection``, for analysts and admins)."""

    status: str
    you: Any = None  # review.campaign.screen.Progress
    collection: StudyProgress | None = None


def progress_of(*, session: Session, reviewer: Reviewer, study_label: str) -> ProgressView:
    """The progress of the study ``study_label`` as ``reviewer`` may see it: a study they review
    (by its label) gives their own progress; analysts and admins also get the collection's of any
    study (by name). :class:`~review.core.errors.NotFound` when neither applies."""
    from review.auth.permissions import may
    from review.campaign.membership import study_for_reviewer
    from review.campaign.screen import reviewer_progress
    from review.core.errors import NotFound
    from review.core.lookup import get_study

    analyst = may(reviewer.role, "view_results")
    try:
        study = study_for_reviewer(session=session, reviewer=reviewer, label=study_label)
        you = reviewer_progress(session=session, reviewer=reviewer, study=study)
    except NotFound:
        if not analyst:
            raise
        study, you = get_study(session=session, name=study_label), None
    collection = None
    if analyst:
        collection = next(row for row in study_progress(session=session) if row.study == study.name)
    return ProgressView(status=study.status, you=you, collection=collection)
