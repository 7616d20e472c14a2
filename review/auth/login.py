"""Logging in: the failed-login throttle, the password check and a new session, in order.

:func:`log_in` is the whole rule, for every way in (the web form, API clients): refuse
while a limit is reached, check the password, count the failure or clear the counts,
start a session and hand out a device token. Everything it remembers is in the database, so
any ``review serve`` process accepts the session and all processes share one throttle.

The keys an attempt is limited under, within ``login_window_minutes``; at a key's limit,
logins under it pause for ``login_pause_minutes``:

* with a valid device token of the account it names (:mod:`review.auth.devices`), only
  ``device:<token hash prefix>``, limit ``login_failures_per_name`` (5): the device's own
  guesses are bounded, and nobody elsewhere can lock the account out of its known devices;
* without one (a new device, or a token that is unknown, expired or another account's),
  three keys:

  * ``pair:<account>@<address>``, ``login_failures_per_name`` (5) per account *and client
    address*: guessing from one place pauses the account there only;
  * ``name:<account>``, ``login_failures_per_account`` (50) per account from anywhere: a bound
    on guessing spread over many addresses (it pauses the account for every new device, never
    for its known devices);
  * ``address:<address>``, ``login_failures_per_address`` (20) per client address, whatever
    the names tried.

Attempts count under their keys while they are in flight (:mod:`review.auth.throttle`), so
parallel guesses cannot outrun a limit. An attempt that finds a key full of attempts in flight
only (no failures at the limit) waits for one to end, asking again every 20-50 ms for up to
:data:`IN_FLIGHT_WAIT_S`, first come, first served; parallel correct logins are never refused. A success clears the
failures of the account's own keys (the device's, or the pair's and the account's), never the
address's; the address only gets its attempt back.

Example::

    result = log_in(database=database, name="ana", password="s3cret", address="10.0.0.7",
                    device=cookie_or_none)
    if result.token: ...            # set it as the session cookie, and result.device as the
                                    # long-lived device cookie
    elif result.retry_after_s: ...  # HTTP 429 with Retry-After
"""

from __future__ import annotations

import math
import random
import secrets
import time
from dataclasses import dataclass

from review.auth.accounts import authenticate
from review.auth.devices import delete_expired_devices, device_used, known_device, remember_device
from review.auth.passwords import hash_password, needs_rehash
from review.auth.sessions import create_login_session, delete_expired_sessions
from review.auth.throttle import (
    Admission,
    ThrottlePolicy,
    attempt_failed,
    attempt_succeeded,
    begin_attempt,
    throttle_key,
)
from review.core.db import Database
from review.core.models import Reviewer

# One login in this many also removes expired sessions and devices (housekeeping, never
# needed for safety).
CLEANUP_EVERY = 100
# How long an attempt waits for attempts in flight to end before it is refused, and how often
# it asks (a random pause in this range, so that waiting attempts do not ask in step).
IN_FLIGHT_WAIT_S = 10.0
POLL_S = (0.02, 0.05)
# A device's throttle key keeps this much of its token's hash (128 bits).
DEVICE_KEY_CHARS = 32


@dataclass(frozen=True)
class LoginResult:
    """``token`` (the session) and ``device`` (the device token the client should keep: the
    one it presented when that was valid, else a new one) on success; ``retry_after_s`` when a
    limit refused the attempt; none of them when the name or password is wrong."""

    token: str | None = None
    retry_after_s: float | None = None
    device: str | None = None


def login_limits(database: Database, name: str, address: str,
                 device_hash: str | None = None) -> dict[str, int]:
    """The throttle keys of one attempt and the failures each may have in the window:
    the device's own key when ``device_hash`` is a known device of ``name``, else the
    pair's, the account's and the address's."""
    settings = database.settings
    if device_hash is not None:
        return {throttle_key("device", device_hash[:DEVICE_KEY_CHARS]): settings.login_failures_per_name}
    return {throttle_key("pair", f"{name}@{address}"): settings.login_failures_per_name,
            throttle_key("name", name): settings.login_failures_per_account,
            throttle_key("address", address): settings.login_failures_per_address}


def refusal_message(wait_s: float) -> str:
    """What a refused login is told."""
    minutes = max(1, math.ceil(wait_s / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


def _admit(database: Database, limits: dict[str, int], policy: ThrottlePolicy) -> Admission:
    """Start the attempt, waiting while its keys are full of attempts in flight only."""
    deadline = time.monotonic() + IN_FLIGHT_WAIT_S
    waiting_since = None
    while True:
        with database.session(write=True) as session:
            admission = begin_attempt(session=session, limits=limits, policy=policy,
                                      counted_early=frozenset(limits), waiting_since=waiting_since)
        if admission.waiting_since is None:
            return admission
        if time.monotonic() >= deadline:
            # Still full after all that time: attempts in flight that never end (a process
            # died mid-check) are forgotten within this long.
            return Admission(refused_s=policy.in_flight.total_seconds())
        waiting_since = admission.waiting_since
        time.sleep(random.uniform(*POLL_S))


def log_in(*, database: Database, name: str, password: str, address: str,
           device: str | None = None) -> LoginResult:
    """Check ``name`` and ``password`` under the throttle; start a session when they match.

    ``device`` is the device token the client presented (its device cookie), if any.
    Short transactions: the device's lookup, the throttle's check (committed before the slow
    password check, so that parallel guesses see each other; repeated while the attempt
    waits), the check itself, and the result.
    """
    name = (name or "").strip()
    settings = database.settings
    policy = ThrottlePolicy.from_settings(settings)
    device_hash = None
    if device:
        with database.session() as session:
            device_hash = known_device(session=session, name=name, token=device)
    limits = login_limits(database, name, address, device_hash)
    early = frozenset(limits)
    own = frozenset(key for key in limits if not key.startswith("address:"))
    admission = _admit(database, limits, policy)
    if admission.started_at is None:
        return LoginResult(retry_after_s=admission.refused_s)
    with database.session() as session:
        reviewer = authenticate(session=session, name=name, password=password)
        reviewer_id = reviewer.id if reviewer is not None else None
        stale = reviewer is not None and needs_rehash(reviewer.password_hash)
    # A hash made under older parameters is replaced at the next login (computed here, outside
    # any transaction: it is slow on purpose).
    fresh_hash = hash_password(password) if stale else None
    # An attempt that ended too late (review.auth.throttle) is refused, right password or not.
    too_late = LoginResult(retry_after_s=1.0)
    with database.session(write=True) as session:
        if reviewer_id is None:
            counted = attempt_failed(session=session, limits=limits, policy=policy,
                                     started_at=admission.started_at, counted_early=early)
            return LoginResult() if counted else too_late
        if not attempt_succeeded(session=session, limits=limits, policy=policy, cleared=own,
                                 started_at=admission.started_at, counted_early=early):
            return too_late
        reviewer = session.get(Reviewer, reviewer_id)
        if fresh_hash is not None:
            reviewer.password_hash = fresh_hash
        token = create_login_session(session=session, reviewer=reviewer,
                                     hours=settings.session_hours)
        if device_hash is None or not device_used(session=session, device_hash=device_hash):
            device = remember_device(session=session, reviewer_id=reviewer_id,
                                     days=settings.device_days)
        if secrets.randbelow(CLEANUP_EVERY) == 0:
            delete_expired_sessions(session=session)
            delete_expired_devices(session=session)
    return LoginResult(token=token, device=device)
