"""What every callback needs, built once per app from Settings: the database and a few helpers.

No module-level state: :func:`apps.server.build_app` creates one :class:`AppContext` and
the callbacks close over it. The rules (who may do what, how writes are queued) live in
``review``; this only adapts them to Gradio's request objects and errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any

import gradio as gr
from sqlalchemy.orm import Session

from review.core.config import Settings
from review.core.db import Database
from review.core.errors import ReviewError
from review.core.models import Reviewer


@dataclass
class AppContext:
    settings: Settings
    database: Database

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        return cls(settings=settings, database=Database(settings))

    @property
    def engine(self) -> Any:
        return self.database.engine

    def session(self, *, write: bool = False) -> Any:
        """A transaction that commits on success (see :meth:`review.core.db.Database.session`)."""
        return self.database.session(write=write)

    @contextmanager
    def account(self, request: Any, *, write: bool = False,
                action: str = "review") -> Iterator[tuple[Session, Reviewer]]:
        """A session and the logged-in account, which must be allowed ``action``.

        ``request`` is the callback's ``gr.Request``; its ``username`` is set by Gradio
        from the login cookie and is None when nobody is logged in.
        """
        from review.auth.permissions import require_account

        with self.session(write=write) as session:
            reviewer = require_account(session=session, name=getattr(request, "username", None),
                                       action=action)
            yield session, reviewer


def user_errors(fn: Callable) -> Callable:
    """Turn :class:`ReviewError` into ``gr.Error`` (its message reaches the user; nothing else
    does), titled by kind so that :mod:`apps.security` answers API clients with the matching
    4xx status instead of Gradio's 500; run the callback again while the database restarts
    (:func:`review.core.db.retry_on_disconnect`)."""
    from apps.security import refusal_title
    from review.core.db import retry_on_disconnect

    again = retry_on_disconnect(fn)

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return again(*args, **kwargs)
        except ReviewError as exc:
            raise gr.Error(str(exc), title=refusal_title(exc), print_exception=False) from None

    return wrapper
