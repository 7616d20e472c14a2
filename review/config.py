"""One validated settings object for the whole platform.

Every value can be set through an environment variable with the prefix ``REVIEW_``
(``REVIEW_DATABASE_URL``, ``REVIEW_DATA_DIR``, ...). Nothing is read at import time:
build a :class:`Settings` where it is needed and pass it down.

Example::

    settings = Settings(database_url="sqlite:///votes.db")
    engine = make_engine(settings)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_FILE = "review.db"


def default_database_url() -> str:
    """A SQLite file in the current working directory."""
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


class Settings(BaseSettings):
    """Platform settings (environment prefix ``REVIEW_``)."""

    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore")

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path.cwd() / "review-data",
        description="Where converted models and other generated files are kept.",
    )
    host: str = "127.0.0.1"
    port: int = 7860
    sqlite_busy_timeout_ms: int = 30_000
    lease_minutes: float = 30.0
    session_hours: float = Field(default=12.0, gt=0, description="A login lasts this long.")

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("database URL is empty")
        # Plain postgresql:// URLs are taken to mean psycopg 3, the driver we install.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value
