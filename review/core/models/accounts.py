"""Who signs in: accounts (people and model judges), login sessions, the failed-login throttle
and known devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.core.models.base import Base, in_list, utcnow
from review.core.models.catalog import Model
from review.core.vocabulary import NAME_LENGTH, RATER_KINDS, ROLES, THROTTLE_KEY_LENGTH

class Reviewer(Base):
    """A rater. ``human``: a person who logs in (reviewers vote, analysts read results, admins
    manage). ``llm``: a model judge, linked to its model and parameters when it ran here; it
    has no password, never logs in, and its verdicts live in ``judge_verdicts``. A rater's
    kind never changes."""

    __tablename__ = "reviewers"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint(f"role IN ({in_list(ROLES)})", name="role"),
        CheckConstraint(f"kind IN ({in_list(RATER_KINDS)})", name="kind"),
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
