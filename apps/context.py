"""What every handler needs, built once per app from Settings: the database and a few helpers.

No module-level state: :func:`apps.server.build_app` creates one :class:`AppContext` and the
handlers close over it. The rules (who may do what, how writes are queued) live in
``review``; this only adapts them to requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from sqlalchemy.orm import Session

from review.core.config import Settings
from review.core.db import Database
from review.core.errors import ReviewError
from review.core.models import Reviewer
from review.reporting.pool import AnalysisKey, AnalysisPool


@dataclass
class AppContext:
    settings: Settings
    database: Database
    analyses: AnalysisPool
    _lookup: Callable[[str], str | None] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        return cls(settings=settings, database=Database(settings), analyses=AnalysisPool(settings))

    @property
    def engine(self) -> Any:
        return self.database.engine

    def session(self, *, write: bool = False) -> Any:
        """A transaction that commits on success (see :meth:`review.core.db.Database.session`)."""
        return self.database.session(write=write)

    @contextmanager
    def account(self, who: Any, *, write: bool = False,
                action: str = "review") -> Iterator[tuple[Session, Reviewer]]:
        """A session and the signed-in account, which must be allowed ``action``.

        ``who`` is the account's name (None when nobody is signed in), or a ``gr.Request``,
        whose ``username`` the server set from the session cookie.
        """
        from review.auth.permissions import require_account

        with self.session(write=write) as session:
            reviewer = require_account(session=session, name=account_name_of(who), action=action)
            yield session, reviewer

    def account_name(self, token: str) -> str | None:
        """The active account whose unexpired session ``token`` is, or None (run again while the
        database restarts)."""
        if self._lookup is None:
            from review.core.db import retry_on_disconnect

            self._lookup = retry_on_disconnect(self._account_name)  # built once: every request
        return self._lookup(token)

    def _account_name(self, token: str) -> str | None:
        from review.auth.sessions import account_for_token

        with self.session() as session:
            return account_for_token(session=session, token=token)

    def analysis_key(self, who: Any, *, kind: str, study: str, n_bootstrap: Any) -> AnalysisKey:
        """The key of an analysis of the study called ``study`` for an analyst or admin (the
        rounds checked); the session is let go before anything waits for the analysis."""
        from review.core.lookup import get_study
        from review.reporting.runner import bootstrap_rounds

        name = account_name_of(who)
        if name is not None:
            self.analyses.check_free(name)
        with self.account(who, action="view_results") as (session, _):
            return self.analyses.key(session=session, kind=kind, study=get_study(session=session, name=study),
                                     n_bootstrap=bootstrap_rounds(n_bootstrap))

    def close(self) -> None:
        """Stop the analysis workers and release the database."""
        self.analyses.close()
        self.database.dispose()

    def log_out(self, token: str) -> None:
        """End every session of the account that ``token`` belongs to (nothing when none)."""
        from review.auth.sessions import end_login_sessions

        name = self.account_name(token)
        if name is not None:
            with self.session(write=True) as session:
                end_login_sessions(session=session, account=name)


def account_name_of(who: Any) -> str | None:
    """An account's name given as itself or as a ``gr.Request`` (its ``username``)."""
    return who if who is None or isinstance(who, str) else getattr(who, "username", None)


def user_errors(fn: Callable) -> Callable:
    """For a page event: turn :class:`ReviewError` into ``gr.Error`` (its message reaches the
    user; nothing else does), and run the callback again while the database restarts
    (:func:`review.core.db.retry_on_disconnect`)."""
    import gradio as gr

    from review.core.db import retry_on_disconnect

    again = retry_on_disconnect(fn)

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return again(*args, **kwargs)
        except ReviewError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return wrapper
