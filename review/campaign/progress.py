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

from review.core.models import Comparison, Judgment, Study, StudyReviewer


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
