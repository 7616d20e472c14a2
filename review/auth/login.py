"""Logging in: the failed-login throttle, the password check and a new session, in order.

:func:`log_in` is the whole rule, for every way in (the web form, API clients): refuse
while a limit is reached, check the password, count the failure or clear the counts,
start a session. Everything it remembers is in the database, so any ``review serve``
process accepts the session and all processes share one throttle.

The limits, within ``login_window_minutes``; at a limit, logins under it pause for
``login_pause_minutes``:

* ``login_failures_per_name`` (5) per account *and client address*: guessing from one place
  locks the account there only, so a stranger cannot lock a reviewer out of her own machine;
* ``login_failures_per_account`` (50) per account from anywhere: a bound on guessing spread
  over many addresses;
* ``login_failures_per_address`` (20) per client address, whatever the names tried.

Example::

    result = log_in(database=database, name="ana", password="s3cret", address="10.0.0.7")
    if result.token: ...            # set it as the session cookie
    elif result.retry_after_s: ...  # HTTP 429 with Retry-After
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from review.auth.accounts import authenticate
from review.auth.passwords import hash_password, needs_rehash
from review.auth.sessions import create_login_session, delete_expired_sessions
from review.auth.throttle import (
    ThrottlePolicy,
    attempt_failed,
    attempt_succeeded,
    begin_attempt,
    throttle_key,
)
from review.core.db import Database
from review.core.models import Reviewer

# One login in this many also removes expired sessions (housekeeping, never needed for safety).
CLEANUP_EVERY = 100


@dataclass(frozen=True)
class LoginResult:
    """``token`` on success; ``retry_after_s`` when a limit refused the attempt; neither
    when the name or password is wrong."""

    token: str | None = None
    retry_after_s: float | None = None


def login_limits(database: Database, name: str, address: str) -> dict[str, int]:
    """The throttle keys of one attempt and the failures each may have in the window."""
    settings = database.settings
    return {throttle_key("pair", f"{name}@{address}"): settings.login_failures_per_name,
            throttle_key("name", name): settings.login_failures_per_account,
            throttle_key("address", address): settings.login_failures_per_address}


def refusal_message(wait_s: float) -> str:
    """What a refused login is told."""
    minutes = max(1, math.ceil(wait_s / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


def log_in(*, database: Database, name: str, password: str, address: str) -> LoginResult:
    """Check ``name`` and ``password`` under the throttle; start a session when they match.

    Three short transactions: the throttle's check (committed before the slow password
    check, so that parallel guesses see each other), the check itself, and the result.
    """
    name = (name or "").strip()
    policy = ThrottlePolicy.from_settings(database.settings)
    limits = login_limits(database, name, address)
    early = frozenset(limits)
    own = frozenset(key for key in limits if not key.startswith("address:"))
    with database.session(write=True) as session:
        wait = begin_attempt(session=session, limits=limits, counted_early=early, policy=policy)
    if wait is not None:
        return LoginResult(retry_after_s=wait)
    with database.session() as session:
        reviewer = authenticate(session=session, name=name, password=password)
        reviewer_id = reviewer.id if reviewer is not None else None
        stale = reviewer is not None and needs_rehash(reviewer.password_hash)
    # A hash made under older parameters is replaced at the next login (computed here, outside
    # any transaction: it is slow on purpose).
    fresh_hash = hash_password(password) if stale else None
    with database.session(write=True) as session:
        if reviewer_id is None:
            attempt_failed(session=session, limits=limits, counted_early=early, policy=policy)
            return LoginResult()
        attempt_succeeded(session=session, limits=limits, cleared=own, counted_early=early)
        reviewer = session.get(Reviewer, reviewer_id)
        if fresh_hash is not None:
            reviewer.password_hash = fresh_hash
        token = create_login_session(session=session, reviewer=reviewer,
                                     hours=database.settings.session_hours)
        if secrets.randbelow(CLEANUP_EVERY) == 0:
            delete_expired_sessions(session=session)
    return LoginResult(token=token)
