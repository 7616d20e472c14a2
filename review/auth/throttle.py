"""Limits on failed logins, kept in the database so that every server process shares them.

Failures are counted per key (``name:<account>``, ``address:<client>``), each key with its
own limit. Once a key reaches its limit within the window, every login under it is refused
for the pause, even with the right password, so a password cannot be guessed faster than
the limits allow, however many ``review serve`` processes share the database.

An attempt under the keys named ``counted_early`` is counted as a failure when it *starts*
and forgiven when it succeeds, so parallel guesses cannot slip past the limit while the
(slow) password checks run; other keys (the client address) count it only when it fails,
so that many reviewers behind one address can log in at the same moment. A successful
login clears its keys.

The window is fixed: it starts with a key's first failure and lasts ``window``; its count
starts again after that. Each key's row is locked while it is counted (PostgreSQL:
``SELECT ... FOR UPDATE``, in sorted key order; SQLite: the write transaction), so
concurrent attempts count exactly.

Example::

    limits = {"name:ana": 5, "address:10.0.0.7": 20}
    early = frozenset({"name:ana"})
    with database.session(write=True) as session:
        wait = begin_attempt(session=session, limits=limits, counted_early=early, policy=policy)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from review.core.config import Settings
from review.core.db import begin_write
from review.core.models import THROTTLE_KEY_LENGTH, LoginThrottle, utcnow


@dataclass(frozen=True)
class ThrottlePolicy:
    """How long failures are remembered and how long a key pauses at its limit."""

    window: timedelta
    pause: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(window=timedelta(minutes=settings.login_window_minutes),
                   pause=timedelta(minutes=settings.login_pause_minutes))


def throttle_key(kind: str, value: str) -> str:
    """The key of one account name or client address (cut to the column's length)."""
    return f"{kind}:{value}"[:THROTTLE_KEY_LENGTH]


def _locked_rows(session: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    """The throttle rows of ``keys``, created when missing, locked until commit."""
    if not session.in_transaction():
        begin_write(session)
    dialect = session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    for key in sorted(keys):
        session.execute(insert(LoginThrottle).values(key=key, failures=0)
                        .on_conflict_do_nothing(index_elements=["key"]))
    query = select(LoginThrottle).where(LoginThrottle.key.in_(keys)).order_by(LoginThrottle.key)
    if dialect == "postgresql":
        query = query.with_for_update()
    return {row.key: row for row in session.scalars(query)}


def _count_failure(row: LoginThrottle, limit: int, policy: ThrottlePolicy, now: datetime) -> None:
    if row.window_started_at is None or now - row.window_started_at >= policy.window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.blocked_until = now + policy.pause
        row.failures, row.window_started_at = 0, None


def begin_attempt(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                  counted_early: frozenset[str] = frozenset(),
                  now: datetime | None = None) -> float | None:
    """Start a login attempt under ``limits`` (key -> most failures allowed in the window).

    Returns the seconds left when any key is paused (the attempt is refused and not
    counted); otherwise None, after counting the attempt as a failure under the keys in
    ``counted_early`` (until :func:`attempt_succeeded` forgives it).
    """
    now = now or utcnow()
    rows = _locked_rows(session, list(limits))
    waits = [(row.blocked_until - now).total_seconds() for row in rows.values()
             if row.blocked_until is not None and row.blocked_until > now]
    if waits:
        return max(waits)
    for key in counted_early & set(limits):
        _count_failure(rows[key], limits[key], policy, now)
    session.flush()
    return None


def attempt_failed(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                   counted_early: frozenset[str] = frozenset(), now: datetime | None = None) -> None:
    """The attempt failed: count it under the keys :func:`begin_attempt` did not count yet."""
    now = now or utcnow()
    later = [key for key in limits if key not in counted_early]
    rows = _locked_rows(session, later) if later else {}
    for key in later:
        _count_failure(rows[key], limits[key], policy, now)
    session.flush()


def attempt_succeeded(*, session: Session, keys: list[str]) -> None:
    """The attempt succeeded: forget the keys' failures and pauses.

    Rows are reset, not deleted, and locked in key order like everywhere else: a concurrent
    attempt that has just created its row never finds it gone.
    """
    for row in _locked_rows(session, keys).values():
        row.failures, row.window_started_at, row.blocked_until = 0, None, None
    session.flush()


def retry_after(*, session: Session, key: str, now: datetime | None = None) -> float | None:
    """Seconds until ``key`` may try again, or None when it may now."""
    now = now or utcnow()
    until = session.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.key == key))
    left = (until - now).total_seconds() if until is not None else 0.0
    return left if left > 0 else None
