"""The review campaign: studies, their items (comparisons), who works on them, leases
(assignments), votes (judgments) and a model judge's verdicts."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import true

from review.core.models.accounts import Reviewer
from review.core.models.base import Base, in_list, new_opaque_id, utcnow
from review.core.models.catalog import Generation, Model, Prompt, PromptSet
from review.core.vocabulary import (
    ASSIGNMENT_STATUSES,
    DEFAULT_OVERLAP,
    GOLD_LABELS,
    JUDGE_ORDERS,
    NAME_LENGTH,
    STUDY_STATUSES,
)
from review.stats.choices import CHOICES, STRENGTHS

class Study(Base):
    """A review campaign: candidate vs baseline on a prompt set, k reviewers per item."""

    __tablename__ = "studies"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("overlap >= 1", name="overlap_positive"),
        CheckConstraint("gold_rate >= 0 AND gold_rate <= 1", name="gold_rate_range"),
        CheckConstraint(f"status IN ({in_list(STUDY_STATUSES)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    candidate_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    baseline_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    prompt_set_id: Mapped[int | None] = mapped_column(ForeignKey("prompt_sets.id", ondelete="RESTRICT"))
    params_hash: Mapped[str | None] = mapped_column(String(64))
    overlap: Mapped[int] = mapped_column(Integer, default=DEFAULT_OVERLAP)
    gold_rate: Mapped[float] = mapped_column(Float, default=0.0)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # The llm rater whose verdicts the study's verdict uses (prediction-powered), and the
    # human judgments the study may spend (None: every item gets ``overlap`` votes).
    judge_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id", ondelete="SET NULL"))
    human_budget: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    candidate: Mapped[Model | None] = relationship(foreign_keys=[candidate_model_id])
    baseline: Mapped[Model | None] = relationship(foreign_keys=[baseline_model_id])
    prompt_set: Mapped[PromptSet | None] = relationship()
    judge: Mapped["Reviewer | None"] = relationship(foreign_keys=[judge_id])


class Comparison(Base):
    """One item to judge: two generations for the same prompt.

    ``gold_label`` marks an attention check: the known correct answer, stated against
    ``generation_a`` / ``generation_b`` (never against the displayed left/right order).
    """

    __tablename__ = "comparisons"
    __table_args__ = (
        UniqueConstraint("study_id", "generation_a_id", "generation_b_id"),
        CheckConstraint("generation_a_id <> generation_b_id", name="distinct_generations"),
        CheckConstraint(f"gold_label IS NULL OR gold_label IN ({in_list(GOLD_LABELS)})", name="gold_label"),
        Index("ix_comparisons_study_id", "study_id"),
        # "The next item": the open items of a study in load order, then at random.
        Index("ix_comparisons_queue", "study_id", "human_selected", "load", "shuffle"),
        # A study's attention checks, without reading its regular items.
        Index("ix_comparisons_study_id_gold_label", "study_id", "gold_label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"))
    generation_a_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="RESTRICT"))
    generation_b_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="RESTRICT"))
    gold_label: Mapped[str | None] = mapped_column(String(20))
    # Active selection (a study using a judge under a human budget): the probability with
    # which this item was drawn for people, and whether it was. None / True otherwise.
    human_probability: Mapped[float | None] = mapped_column(Float)
    human_selected: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Kept by the database (triggers of migration 0005), never written by the application:
    # judgments; the load (assignments leased or done, plus judgments that came without an
    # assignment: what stands between the item and k); a count that grows with every judgment
    # or judge verdict added, changed or removed (an analysis cache's key).
    judgment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    load: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A random key: ties between items of equal load are broken in this order.
    shuffle: Mapped[float] = mapped_column(Float, default=random.random, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    study: Mapped[Study] = relationship()
    prompt: Mapped[Prompt] = relationship()
    generation_a: Mapped[Generation] = relationship(foreign_keys=[generation_a_id])
    generation_b: Mapped[Generation] = relationship(foreign_keys=[generation_b_id])


class StudyReviewer(Base):
    """Which reviewers work on which study (a reviewer sees only their studies)."""

    __tablename__ = "study_reviewers"
    __table_args__ = (UniqueConstraint("study_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    # Kept by the database (triggers of migration 0005): the reviewer's judgments in the study,
    # and the items they skipped and have not asked for again.
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """A lease of one item to one reviewer, with the left/right order drawn for it.

    The primary key is a random opaque string: it is what the browser sees.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("comparison_id", "reviewer_id"),
        CheckConstraint(f"status IN ({in_list(ASSIGNMENT_STATUSES)})", name="status"),
        Index("ix_assignments_reviewer_id_status", "reviewer_id", "status"),
        Index("ix_assignments_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_opaque_id)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    left_generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default="leased")
    leased_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()

    comparison: Mapped[Comparison] = relationship()
    reviewer: Mapped[Reviewer] = relationship()


class Judgment(Base):
    """One reviewer's vote on one item. The database allows one per (comparison, reviewer)."""

    __tablename__ = "judgments"
    __table_args__ = (
        UniqueConstraint("comparison_id", "reviewer_id"),
        CheckConstraint(f"choice IN ({in_list(CHOICES)})", name="choice"),
        CheckConstraint(f"strength IS NULL OR (strength >= {min(STRENGTHS)} AND strength <= {max(STRENGTHS)})",
                        name="strength_range"),
        Index("ix_judgments_reviewer_id", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="RESTRICT"))
    assignment_id: Mapped[str | None] = mapped_column(ForeignKey("assignments.id", ondelete="SET NULL"))
    left_generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="RESTRICT"))
    choice: Mapped[str] = mapped_column(String(20))
    strength: Mapped[int | None] = mapped_column(Integer)
    rationale: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    comparison: Mapped[Comparison] = relationship()
    reviewer: Mapped[Reviewer] = relationship()


class JudgeVerdict(Base):
    """One verdict of an llm rater on one item in one order (``ab``: the item's first answer
    shown as A). ``choice`` is stated against the item's answers (``a``, ``b``, ``tie``,
    ``both_bad``); None when the judge's output could not be parsed (``raw_output`` keeps it).
    Unique per (item, judge, order), so rerunning a judge never stores anything twice."""

    __tablename__ = "judge_verdicts"
    __table_args__ = (
        UniqueConstraint("comparison_id", "reviewer_id", "judge_order"),
        CheckConstraint(f"judge_order IN ({in_list(JUDGE_ORDERS)})", name="judge_order"),
        CheckConstraint(f"choice IS NULL OR choice IN ({in_list(GOLD_LABELS)})", name="choice"),
        CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
                        name="confidence_range"),
        Index("ix_judge_verdicts_reviewer_id", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    judge_order: Mapped[str] = mapped_column(String(2))
    choice: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[float | None] = mapped_column(Float)
    raw_output: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    comparison: Mapped[Comparison] = relationship()
    reviewer: Mapped[Reviewer] = relationship()
