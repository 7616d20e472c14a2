"""One validated settings object for the whole platform, and the home of every default.

Every value can be set through an environment variable with the prefix ``REVIEW_``
(``REVIEW_DATABASE_URL``, ``REVIEW_LEASE_MINUTES``, ...). Nothing is read at import time:
build a :class:`Settings` where it is needed and pass it down. Services that take one of
these values as an argument fall back to :func:`default_setting`, so a default is written
only here.

Example::

    settings = Settings(database_url="sqlite:///votes.db")
    engine = make_engine(settings)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    port: int = Field(default=7860, ge=1, le=65535)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    lease_minutes: float = Field(default=30.0, gt=0,
                                 description="An item handed to a reviewer returns to the pool after this long.")
    session_hours: float = Field(default=12.0, gt=0, description="A login lasts this long.")
    login_failures_per_name: int = Field(
        default=5, ge=1, description="Failed logins to one account from one address before they pause.")
    login_failures_per_account: int = Field(
        default=50, ge=1, description="Failed logins to one account from anywhere before it pauses.")
    login_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins from one client address before it pauses.")
    login_window_minutes: float = Field(
        default=5.0, gt=0, description="Failures older than this are forgotten.")
    login_pause_minutes: float = Field(
        default=5.0, gt=0, description="How long logins stay refused once a limit is reached.")
    device_days: float = Field(
        default=180.0, gt=0, description="A device that signed in is known this long: its logins "
                                         "are limited on their own, exempt from the account's limits.")
    analysis_workers: int = Field(
        default=1, ge=1, le=64, description="Worker processes per server for analyses and reports "
                                            "(each holds one analysis at a time; more wait).")
    allowed_origins: str = Field(
        default="", description="Other origins (comma-separated scheme://host[:port]) whose pages "
                                "may call the web app with a reviewer's cookie; none by default.")

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


def default_setting(name: str) -> Any:
    """The default of setting ``name`` (what applies when nothing else says otherwise).

    Example:
        >>> default_setting("lease_minutes")
        30.0
    """
    return Settings.model_fields[name].default
