"""Limits on failed logins, kept in the database so that every server process shares them.

Failures are counted per key (see :func:`review.auth.login.login_limits`), each key with its
own limit. Once a key reaches its limit within the window, every login under it is refused
for the pause, even with the right password, so a password cannot be guessed faster than
the limits allow, however many ``review serve`` processes share the database.

Attempts are counted when they *start* (``counted_early``: all keys of a login), so parallel
guesses cannot slip past a limit while the slow password checks run: once a key holds as
many failures and attempts in flight as its limit, further attempts wait. Only a real
failure pauses a key; a success forgives its attempt, and clears the account's own keys.

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


def _in_window(row: LoginThrottle, policy: ThrottlePolicy, now: datetime) -> int:
    """The row's count within its window (0 once the window is over)."""
    if row.window_started_at is None or now - row.window_started_at >= policy.window:
        row.failures, row.window_started_at = 0, now
    return row.failures


def begin_attempt(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                  counted_early: frozenset[str] = frozenset(),
                  now: datetime | None = None) -> float | None:
    """Start a login attempt under ``limits`` (key -> most failures allowed in the window).

    Returns the seconds to wait when any key is paused, or when an early-counted key already
    holds as many failures and attempts in flight as its limit (the attempt is refused and not
    counted); otherwise None, after counting the attempt under the keys in ``counted_early``
    (until :func:`attempt_succeeded` forgives it or :func:`attempt_failed` keeps it).
    """
    now = now or utcnow()
    rows = _locked_rows(session, list(limits))
    waits = [(row.blocked_until - now).total_seconds() for row in rows.values()
             if row.blocked_until is not None and row.blocked_until > now]
    early = counted_early & set(limits)
    for key in early:
        if _in_window(rows[key], policy, now) >= limits[key]:
            waits.append(max(1.0, (rows[key].window_started_at + policy.window - now).total_seconds()))
    if waits:
        return max(waits)
    for key in early:
        rows[key].failures += 1
    session.flush()
    return None


def attempt_failed(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                   counted_early: frozenset[str] = frozenset(), now: datetime | None = None) -> None:
    """The attempt failed: count it under the keys :func:`begin_attempt` did not count yet, and
    pause every key whose count reached its limit."""
    now = now or utcnow()
    rows = _locked_rows(session, list(limits))
    for key, row in rows.items():
        if key not in counted_early:
            _in_window(row, policy, now)
            row.failures += 1
        if row.failures >= limits[key]:
            row.blocked_until = now + policy.pause
            row.failures, row.window_started_at = 0, None
    session.flush()


def attempt_succeeded(*, session: Session, limits: Mapping[str, int],
                      cleared: frozenset[str], counted_early: frozenset[str] = frozenset()) -> None:
    """The attempt succeeded: keys in ``cleared`` (the account's own) forget their failures and
    pauses; the other early-counted keys (the address) only forgive this attempt, so that a
    guesser cannot wipe an address's count by signing into an account of their own.

    Rows are reset, not deleted, and locked in key order like everywhere else: a concurrent
    attempt that has just created its row never finds it gone.
    """
    for key, row in _locked_rows(session, list(limits)).items():
        if key in cleared:
            row.failures, row.window_started_at, row.blocked_until = 0, None, None
        elif key in counted_early and row.failures > 0:
            row.failures -= 1
    session.flush()


def retry_after(*, session: Session, key: str, now: datetime | None = None) -> float | None:
    """Seconds until ``key`` may try again, or None when it may now."""
    now = now or utcnow()
    until = session.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.key == key))
    left = (until - now).total_seconds() if until is not None else 0.0
    return left if left > 0 else None
