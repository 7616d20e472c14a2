"""The data model (SQLAlchemy 2.0, typed).

Uniqueness that matters for correctness is enforced by the database through named
constraints: one generation per (model, prompt, parameters hash), one judgment per
(comparison, reviewer), one assignment per (comparison, reviewer), unique model, study,
prompt-set and reviewer names. The schema itself is created by the Alembic migrations in
``migrations/``; a test checks that they agree with these classes.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql import true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from review.core.vocabulary import (
    ASSIGNMENT_STATUSES,
    DEFAULT_OVERLAP,
    GOLD_LABELS,
    JUDGE_ORDERS,
    MODEL_KINDS,
    NAME_LENGTH,
    RATER_KINDS,
    ROLES,
    STUDY_STATUSES,
    THROTTLE_KEY_LENGTH,
)
from review.stats.choices import CHOICES


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def new_opaque_id() -> str:
    """A random URL-safe id that reveals nothing about what it points to."""
    return secrets.token_urlsafe(16)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime(),
    }


class Model(Base):
    """A model whose answers are compared: a base model, a fine-tune, an adapter or an endpoint."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint(f"kind IN ({_in(MODEL_KINDS)})", name="kind"),
        Index("ix_models_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(Text)
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    training_step: Mapped[int | None] = mapped_column(Integer)
    run_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    base_model: Mapped[Model | None] = relationship(remote_side=[id])


class PromptSet(Base):
    __tablename__ = "prompt_sets"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    prompts: Mapped[list[Prompt]] = relationship(back_populates="prompt_set", order_by="Prompt.id")


class Prompt(Base):
    """One prompt of a set: a chat (list of messages; a plain prompt is one user message)."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("prompt_set_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_set_id: Mapped[int] = mapped_column(ForeignKey("prompt_sets.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    messages: Mapped[list[Any]] = mapped_column()
    category: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    reference: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    prompt_set: Mapped[PromptSet] = relationship(back_populates="prompts")

    @property
    def text(self) -> str:
        """The last user message (what a one-line listing shows)."""
        return self.messages[-1]["content"] if self.messages else ""


class Generation(Base):
    """One model's answer to one prompt under one set of decoding parameters."""

    __tablename__ = "generations"
    __table_args__ = (UniqueConstraint("model_id", "prompt_id", "params_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"))
    params_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column()
    output: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int | None] = mapped_column(Integer)
    latency_seconds: Mapped[float | None] = mapped_column(Float)
    backend: Mapped[str] = mapped_column(String(50))
    chat_template: Mapped[str | None] = mapped_column(Text)
    model_hash: Mapped[str | None] = mapped_column(String(64))
    library_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    model: Mapped[Model] = relationship()
    prompt: Mapped[Prompt] = relationship()


class Study(Base):
    """A review campaign: candidate vs baseline on a prompt set, k reviewers per item."""

    __tablename__ = "studies"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("overlap >= 1", name="overlap_positive"),
        CheckConstraint("gold_rate >= 0 AND gold_rate <= 1", name="gold_rate_range"),
        CheckConstraint(f"status IN ({_in(STUDY_STATUSES)})", name="status"),
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
        CheckConstraint(f"gold_label IS NULL OR gold_label IN ({_in(GOLD_LABELS)})", name="gold_label"),
        Index("ix_comparisons_study_id", "study_id"),
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    study: Mapped[Study] = relationship()
    prompt: Mapped[Prompt] = relationship()
    generation_a: Mapped[Generation] = relationship(foreign_keys=[generation_a_id])
    generation_b: Mapped[Generation] = relationship(foreign_keys=[generation_b_id])


class Reviewer(Base):
    """A rater. ``human``: a person who logs in (reviewers vote, analysts read results, admins
    manage). ``llm``: a model judge, linked to its model and parameters when it ran here; it
    has no password, never logs in, and its verdicts live in ``judge_verdicts``. A rater's
    kind never changes."""

    __tablename__ = "reviewers"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint(f"role IN ({_in(ROLES)})", name="role"),
        CheckConstraint(f"kind IN ({_in(RATER_KINDS)})", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(20), default="human", server_default="human")
    role: Mapped[str] = mapped_column(String(20), default="reviewer")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    judge_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    judge_params: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    judge_model: Mapped[Model | None] = relationship()


class LoginSession(Base):
    """A signed-in browser or API client; it lasts until ``expires_at`` or logout.

    Only the sha256 of the session token is stored, so a copy of the database does not
    let anyone in. Any ``review serve`` process on the database accepts it.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_reviewer_id", "reviewer_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LoginThrottle(Base):
    """Failed logins under one key (``name:<account>``, ``address:<client>``, ...).

    ``failures`` counts the failures since ``window_started_at``; once it reaches the key's
    limit, logins under the key are refused until ``blocked_until``. ``in_flight``: attempts
    started and not yet ended (the last at ``in_flight_since``); ``queued_since``: when the
    longest-waiting attempt for a place began to wait (it asks again by ``queued_until``).
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(THROTTLE_KEY_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime | None] = mapped_column()
    blocked_until: Mapped[datetime | None] = mapped_column()
    in_flight: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    in_flight_since: Mapped[datetime | None] = mapped_column()
    queued_since: Mapped[datetime | None] = mapped_column()
    queued_until: Mapped[datetime | None] = mapped_column()


class KnownDevice(Base):
    """A client an account signed in from (a device cookie), known until ``expires_at``; only
    the token's sha256 is stored. See review.auth.devices."""

    __tablename__ = "known_devices"
    __table_args__ = (Index("ix_known_devices_reviewer_id", "reviewer_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class StudyReviewer(Base):
    """Which reviewers work on which study (a reviewer sees only their studies)."""

    __tablename__ = "study_reviewers"
    __table_args__ = (UniqueConstraint("study_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """A lease of one item to one reviewer, with the left/right order drawn for it.

    The primary key is a random opaque string: it is what the browser sees.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("comparison_id", "reviewer_id"),
        CheckConstraint(f"status IN ({_in(ASSIGNMENT_STATUSES)})", name="status"),
        Index("ix_assignments_reviewer_id_status", "reviewer_id", "status"),
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
        CheckConstraint(f"choice IN ({_in(CHOICES)})", name="choice"),
        CheckConstraint("strength IS NULL OR (strength >= 1 AND strength <= 3)", name="strength_range"),
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
        CheckConstraint(f"judge_order IN ({_in(JUDGE_ORDERS)})", name="judge_order"),
        CheckConstraint(f"choice IS NULL OR choice IN ({_in(GOLD_LABELS)})", name="choice"),
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
