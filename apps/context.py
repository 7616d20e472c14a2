"""What every callback needs, built once per app from Settings: the engine and a few helpers.

No module-level state: :func:`apps.server.build_app` creates one :class:`AppContext` and
the callbacks close over it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import gradio as gr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from review.config import Settings
from review.errors import ReviewError
from review.models import ROLES, Reviewer
from review.ratelimit import LoginThrottle

# A sign-in lasts this long unless Settings.session_hours says otherwise.
SESSION_HOURS = 12.0


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    # SQLite has one writer at a time. Writers of this process queue here, in order,
    # instead of in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    sqlite_writer: threading.Lock = field(default_factory=threading.Lock)
    # Sign-in: sessions end after session_hours; failed attempts are limited per account
    # name and per client address within the throttle's window (see apps.login).
    session_hours: float = SESSION_HOURS
    max_failed_logins_per_name: int = 5
    max_failed_logins_per_address: int = 20
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        from review.db import make_engine

        return cls(settings=settings, engine=make_engine(settings),
                   session_hours=getattr(settings, "session_hours", SESSION_HOURS))

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction that commits on success; ``write=True`` for one that writes.

        A write session may call :meth:`done_writing` and go on reading.
        """
        from review.db import session_scope

        if not (write and self.engine.dialect.name == "sqlite"):
            with session_scope(self.engine, write=write) as session:
                yield session
            return
        self.sqlite_writer.acquire()
        held = [True]

        def release() -> None:
            if held[0]:
                held[0] = False
                self.sqlite_writer.release()

        try:
            with session_scope(self.engine, write=True) as session:
                session.info["release_writer"] = release
                yield session
        finally:
            release()

    def done_writing(self, session: Session) -> None:
        """End the writing part of a write session; what follows only reads.

        SQLite: commit now, so the database's single write lock is free while the
        screen is read (the session goes on in a new, read-only transaction).
        PostgreSQL: nothing; reading on in the same transaction saves round trips, and
        its row locks block no reader.
        """
        if self.engine.dialect.name == "sqlite":
            session.commit()
            release = session.info.pop("release_writer", None)
            if release is not None:
                release()

    @contextmanager
    def account(self, request: Any, *, write: bool = False,
                roles: Sequence[str] = ROLES) -> Iterator[tuple[Session, Reviewer]]:
        """A session and the logged-in account, checked against the reviewers table.

        ``request`` is the callback's ``gr.Request``; its ``username`` is set by Gradio
        from the login cookie and is None when nobody is logged in.
        """
        from review.assignment import require_account

        with self.session(write=write) as session:
            reviewer = require_account(session=session, name=getattr(request, "username", None),
                                       roles=roles)
            yield session, reviewer

    def check_password(self, username: str, password: str) -> bool:
        from review.accounts import authenticate

        with self.session() as session:
            return authenticate(session=session, name=username, password=password) is not None


def user_errors(fn: Callable) -> Callable:
    """Turn :class:`ReviewError` into ``gr.Error`` (its message reaches the user; nothing else does)."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ReviewError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return wrapper
