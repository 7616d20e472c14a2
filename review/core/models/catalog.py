"""What is compared: models, prompt sets and prompts, and the models' answers (generations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
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

from review.core.models.base import Base, in_list, utcnow
from review.core.vocabulary import MODEL_KINDS, NAME_LENGTH

class Model(Base):
    """A model whose answers are compared: a base model, a fine-tune, an adapter or an endpoint."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint(f"kind IN ({in_list(MODEL_KINDS)})", name="kind"),
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
