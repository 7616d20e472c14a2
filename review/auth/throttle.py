"""Limits on failed logins, kept in the database so that every server process shares them.

Failures are counted per key (see :func:`review.auth.login.login_limits`), each key with its
own limit. Once a key reaches its limit within the window, every login under it is refused
for the pause, even with the right password, so a password cannot be guessed faster than
the limits allow, however many ``review serve`` processes share the database.

Attempts in flight are counted apart from failures. An attempt is counted under its keys
when it *starts* (``counted_early``), so that parallel guesses cannot slip past a limit while
the slow password checks run: at no time does a key hold more failures and attempts in flight
than its limit. An attempt that finds a key full only because of attempts in flight is not
refused: :func:`begin_attempt` tells it to wait, and :func:`review.auth.login.log_in` asks again
shortly. Waiting attempts go in first come, first served: the longest-waiting one is the key's
head (``queued_since``, kept while it keeps asking: ``queued_until``), and a free place goes to
it, never to a newer attempt, so a client that signs in again at once cannot keep the others
waiting. Only failures refuse. An attempt's place in flight is given back when it ends, success
or failure; a success also clears the keys the caller names (the account's own), a failure counts
under every key and pauses each key that reached its limit.

A process that dies mid-check cannot hold a key forever: a key's attempts in flight are
forgotten once none has started under it for ``in_flight`` (30 s), and an attempt that ends
later than that after its start is not answered (its place may be forgotten already), so the
bound above holds even then (with the clocks of the server processes in agreement, as NTP
keeps them).

The window is fixed: it starts with a key's first failure and lasts ``window``; its count
starts again after that. Each key's row is locked while it is counted (PostgreSQL:
``SELECT ... FOR UPDATE``, in sorted key order; SQLite: the write transaction), so
concurrent attempts count exactly.

Example::

    limits = {"name:ana": 5, "address:10.0.0.7": 20}
    with database.session(write=True) as session:
        admission = begin_attempt(session=session, limits=limits, counted_early=frozenset(limits),
                                  policy=policy)
    # admission.started_at: go on; admission.refused_s: refused; neither: ask again shortly
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from review.core.config import Settings
from review.core.db import begin_write
from review.core.models import THROTTLE_KEY_LENGTH, LoginThrottle, utcnow

# How long an attempt may stay in flight (far beyond a password check, even on a busy server).
IN_FLIGHT_SECONDS = 30.0
# The longest-waiting attempt stays a key's head this long after each time it asks (then the
# next one takes over: it may have given up, or its process died).
QUEUE_SECONDS = 0.5


@dataclass(frozen=True)
class ThrottlePolicy:
    """How long failures are remembered, how long a key pauses at its limit, and how long an
    attempt may stay in flight."""

    window: timedelta
    pause: timedelta
    in_flight: timedelta = timedelta(seconds=IN_FLIGHT_SECONDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(window=timedelta(minutes=settings.login_window_minutes),
                   pause=timedelta(minutes=settings.login_pause_minutes))


@dataclass(frozen=True)
class Admission:
    """What :func:`begin_attempt` decided: ``started_at`` when the attempt may go on (it is in
    flight from then), ``refused_s`` (seconds to wait) when failures refuse it, else
    ``waiting_since``: a key is full of attempts in flight only, or others wait there already;
    wait a moment, then ask again with this ``waiting_since``."""

    started_at: datetime | None = None
    refused_s: float | None = None
    waiting_since: datetime | None = None


def throttle_key(kind: str, value: str) -> str:
    """The key of one account name, client address or device (cut to the column's length)."""
    return f"{kind}:{value}"[:THROTTLE_KEY_LENGTH]


def _locked_rows(session: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    """The throttle rows of ``keys``, created when missing, locked until commit."""
    if not session.in_transaction():
        begin_write(session)
    dialect = session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    for key in sorted(keys):
        session.execute(insert(LoginThrottle).values(key=key, failures=0, in_flight=0)
                        .on_conflict_do_nothing(index_elements=["key"]))
    query = select(LoginThrottle).where(LoginThrottle.key.in_(keys)).order_by(LoginThrottle.key)
    if dialect == "postgresql":
        query = query.with_for_update()
    return {row.key: row for row in session.scalars(query)}


def _failures(row: LoginThrottle, policy: ThrottlePolicy, now: datetime) -> int:
    """The row's failures within its window (0 once the window is over)."""
    if row.window_started_at is not None and now - row.window_started_at >= policy.window:
        row.failures, row.window_started_at = 0, None
    return row.failures


def _in_flight(row: LoginThrottle, policy: ThrottlePolicy, now: datetime) -> int:
    """The row's attempts in flight, forgotten when none has started for ``policy.in_flight``."""
    if row.in_flight and (row.in_flight_since is None or now - row.in_flight_since >= policy.in_flight):
        row.in_flight, row.in_flight_since = 0, None
    return row.in_flight


def _admits(row: LoginThrottle, limit: int, policy: ThrottlePolicy,
            waiting_since: datetime | None, now: datetime) -> bool:
    """Whether the row has a place in flight for an attempt waiting since ``waiting_since``
    (None: a new one): one is free, and no attempt there has waited longer."""
    if row.failures + _in_flight(row, policy, now) >= limit:
        return False
    if row.queued_until is None or row.queued_until <= now:
        return True
    return waiting_since is not None and waiting_since <= row.queued_since


def _end_in_flight(rows: Iterable[LoginThrottle]) -> None:
    for row in rows:
        row.in_flight = max(0, (row.in_flight or 0) - 1)


def _still_held(started_at: datetime | None, policy: ThrottlePolicy, now: datetime) -> bool:
    """Whether an attempt started at ``started_at`` certainly still holds its place in flight."""
    return started_at is not None and now - started_at < policy.in_flight


def begin_attempt(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                  counted_early: frozenset[str] = frozenset(),
                  waiting_since: datetime | None = None,
                  now: datetime | None = None) -> Admission:
    """Start a login attempt under ``limits`` (key -> most failures allowed in the window).

    Refused (``refused_s``) when a key is paused or holds as many failures as its limit. Told
    to wait (``waiting_since``) when a key in ``counted_early`` holds as many failures and
    attempts in flight as its limit, or when an attempt there has waited longer than this one
    (``waiting_since`` of its earlier tries; None for a new attempt). Otherwise the attempt is
    counted in flight under ``counted_early`` until :func:`attempt_succeeded` or
    :func:`attempt_failed` ends it.
    """
    rows = _locked_rows(session, list(limits))
    now = now or utcnow()
    waits = [(row.blocked_until - now).total_seconds() for row in rows.values()
             if row.blocked_until is not None and row.blocked_until > now]
    early = sorted(counted_early & set(limits))
    for key in early:
        row = rows[key]
        if _failures(row, policy, now) >= limits[key]:
            waits.append(max(1.0, (row.window_started_at + policy.window - now).total_seconds()))
    if waits:
        session.flush()
        return Admission(refused_s=max(waits))
    held = [rows[key] for key in early
            if not _admits(rows[key], limits[key], policy, waiting_since, now)]
    if held:
        since = waiting_since or now
        for row in held:  # the longest-waiting attempt heads the queue
            if row.queued_until is None or row.queued_until <= now or since < row.queued_since:
                row.queued_since = since
            if row.queued_since == since:
                row.queued_until = now + timedelta(seconds=QUEUE_SECONDS)
        session.flush()
        return Admission(waiting_since=since)
    for key in early:
        row = rows[key]
        if waiting_since is not None and row.queued_since == waiting_since:
            row.queued_since, row.queued_until = None, None  # the next one takes over
        row.in_flight += 1
        # Never moved back, so that it is at least every attempt's start whatever its clock.
        since = row.in_flight_since
        row.in_flight_since = now if since is None or since < now else since
    session.flush()
    return Admission(started_at=now)


def attempt_failed(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                   started_at: datetime | None, counted_early: frozenset[str] = frozenset(),
                   now: datetime | None = None) -> bool:
    """The attempt that :func:`begin_attempt` started at ``started_at`` failed: count a failure
    under every key, end its place in flight, and pause every key that reached its limit.

    Returns False, counting nothing, when the attempt ended too late (see the module's
    docstring): its caller must not tell whether the password was right.
    """
    rows = _locked_rows(session, list(limits))
    now = now or utcnow()
    if not _still_held(started_at, policy, now):
        return False
    _end_in_flight(rows[key] for key in counted_early & set(rows))
    for key, row in rows.items():
        _failures(row, policy, now)
        row.window_started_at = row.window_started_at or now
        row.failures += 1
        if row.failures >= limits[key]:
            row.blocked_until = now + policy.pause
            row.failures, row.window_started_at = 0, None
    session.flush()
    return True


def attempt_succeeded(*, session: Session, limits: Mapping[str, int], policy: ThrottlePolicy,
                      started_at: datetime | None, cleared: frozenset[str],
                      counted_early: frozenset[str] = frozenset(),
                      now: datetime | None = None) -> bool:
    """The attempt that :func:`begin_attempt` started at ``started_at`` succeeded: end its place
    in flight; keys in ``cleared`` (the account's own) forget their failures and pauses. The
    others (the address) keep theirs, so that a guesser cannot wipe an address's count by
    signing into an account of their own.

    Returns False, changing nothing, when the attempt ended too late (see the module's
    docstring): its caller must refuse it without telling that the password was right.
    Rows are reset, not deleted, and locked in key order like everywhere else: a concurrent
    attempt that has just created its row never finds it gone.
    """
    rows = _locked_rows(session, list(limits))
    now = now or utcnow()
    if not _still_held(started_at, policy, now):
        return False
    _end_in_flight(rows[key] for key in counted_early & set(rows))
    for key in cleared & set(rows):
        rows[key].failures, rows[key].window_started_at, rows[key].blocked_until = 0, None, None
    session.flush()
    return True


def retry_after(*, session: Session, key: str, now: datetime | None = None) -> float | None:
    """Seconds until ``key`` may try again, or None when it may now."""
    now = now or utcnow()
    until = session.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.key == key))
    left = (until - now).total_seconds() if until is not None else 0.0
    return left if left > 0 else None
