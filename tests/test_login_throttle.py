"""The failed-login throttle from the attacker's side, at the service every way in uses
(review.auth.login.log_in): strangers cannot lock a reviewer out, guesses spread over many
addresses are bounded, parallel guesses cannot outrun a limit, and parallel correct logins are
never refused (attempts in flight wait instead). Known devices: tests/test_known_devices.py."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from review.auth import login
from review.auth.login import log_in
from review.auth.throttle import ThrottlePolicy, attempt_failed, attempt_succeeded, begin_attempt
from review.core.db import session_scope
from review.core.models import utcnow
from tests.factories import make_reviewer


def attempt(database, password, address, name="ana"):
    result = log_in(database=database, name=name, password=password, address=address)
    return "ok" if result.token else "paused" if result.retry_after_s else "wrong"


def test_a_stranger_cannot_lock_a_reviewer_out(database):
    for _ in range(5):
        assert attempt(database, "guess", "203.0.113.9") == "wrong"
    assert attempt(database, "guess", "203.0.113.9") == "paused"
    assert attempt(database, "her-password", "203.0.113.9") == "paused"  # the stranger's place
    assert attempt(database, "her-password", "198.51.100.7") == "ok"      # her own machine


def test_guessing_spread_over_many_addresses_is_bounded(database):
    outcomes = Counter(attempt(database, "guess", f"10.0.{i // 5}.{i % 5}") for i in range(60))
    # 50 failures in all lock the account everywhere: the last 10 guesses are never checked.
    assert outcomes == {"wrong": 50, "paused": 10}
    assert attempt(database, "her-password", "198.51.100.7") == "paused"


def test_parallel_guesses_from_one_address_check_at_most_the_limit(database):
    names = [f"nobody{i}" for i in range(22)]
    with ThreadPoolExecutor(max_workers=22) as pool:
        outcomes = Counter(pool.map(lambda name: attempt(database, "guess", "192.0.2.1", name), names))
    # 20 per address: at most 20 passwords were checked, the others refused before checking.
    assert outcomes["wrong"] <= 20 and outcomes["paused"] >= 2, outcomes
    assert attempt(database, "her-password", "192.0.2.1") == "paused"


def test_a_guesser_cannot_reset_an_address_by_signing_in(database, engine):
    with session_scope(engine, write=True) as session:
        make_reviewer(session, "mallory", password="mine")
    for round_ in range(4):
        for i in range(5):
            assert attempt(database, "guess", "192.0.2.50", name=f"n{round_}-{i}") == "wrong"
        assert attempt(database, "mine", "192.0.2.50", name="mallory") in ("ok", "paused")
    assert attempt(database, "guess", "192.0.2.50", name="other") == "paused"


def test_parallel_correct_logins_from_one_address_are_never_refused(database):
    # 8 clients of one account behind one address, more than the pair's limit (5) at once:
    # the attempts in flight fill the key, and the others wait for them instead of failing.
    def sign_in_repeatedly(_):
        return [attempt(database, "her-password", "192.0.2.77") for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(o for run in pool.map(sign_in_repeatedly, range(8)) for o in run)
    assert outcomes == {"ok": 40}


def test_parallel_wrong_passwords_fail_at_most_the_limit_then_are_refused(database):
    def guess_repeatedly(_):
        return [attempt(database, "guess", "192.0.2.88") for _ in range(3)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(o for run in pool.map(guess_repeatedly, range(8)) for o in run)
    # 5 per account and address: 5 passwords checked, every other attempt refused unchecked.
    assert outcomes == {"wrong": 5, "paused": 19}, outcomes
    assert attempt(database, "her-password", "192.0.2.88") == "paused"


def test_failures_and_attempts_in_flight_never_exceed_a_limit(database):
    policy = ThrottlePolicy.from_settings(database.settings)
    limits = {"pair:ana@192.0.2.9": 3}
    early = frozenset(limits)
    t0 = utcnow()
    at = lambda ms: t0 + timedelta(milliseconds=ms)  # noqa: E731

    def begin(now, waiting_since=None):
        with database.session(write=True) as session:
            return begin_attempt(session=session, limits=limits, policy=policy,
                                 counted_early=early, waiting_since=waiting_since, now=now)

    def end(admission, now, *, failed):
        with database.session(write=True) as session:
            if failed:
                return attempt_failed(session=session, limits=limits, policy=policy,
                                      started_at=admission.started_at, counted_early=early, now=now)
            return attempt_succeeded(session=session, limits=limits, policy=policy, cleared=early,
                                     started_at=admission.started_at, counted_early=early, now=now)

    first, second, third = (begin(t0) for _ in range(3))
    assert all(a.started_at == t0 for a in (first, second, third))
    older, newer = begin(at(100)), begin(at(150))   # 3 in flight, no failure: they wait
    assert older.refused_s is None and older.waiting_since == at(100)
    assert newer.refused_s is None and newer.waiting_since == at(150)
    assert end(first, at(200), failed=False)          # a place is free ...
    assert begin(at(300)).started_at is None          # ... not for a new attempt,
    assert begin(at(300), newer.waiting_since).started_at is None  # nor for the newer waiter,
    fourth = begin(at(300), older.waiting_since)      # but for the one that waited longest
    assert fourth.started_at == at(300)
    assert end(second, at(400), failed=True)
    # 1 failure + 2 in flight: full, so at most 3 passwords are ever checked in the window.
    assert begin(at(500), newer.waiting_since).started_at is None
    assert end(third, at(600), failed=True)
    assert end(fourth, at(600), failed=True)
    refused = begin(at(700), newer.waiting_since)     # 3 failures: paused
    assert refused.refused_s == pytest.approx(policy.pause.total_seconds() - 0.1)


def test_attempts_in_flight_of_a_dead_process_are_forgotten(database):
    policy = ThrottlePolicy.from_settings(database.settings)
    limits = {"pair:ana@192.0.2.10": 2}
    early = frozenset(limits)
    t0 = utcnow() - timedelta(minutes=1)
    with database.session(write=True) as session:
        stuck = [begin_attempt(session=session, limits=limits, policy=policy, counted_early=early,
                               now=t0) for _ in range(2)]
    with database.session(write=True) as session:
        # Not yet: the places may still be checking a password.
        waiting = begin_attempt(session=session, limits=limits, policy=policy,
                                counted_early=early, now=t0 + policy.in_flight / 2)
        assert waiting.started_at is None and waiting.waiting_since is not None
    with database.session(write=True) as session:
        late = t0 + policy.in_flight
        assert begin_attempt(session=session, limits=limits, policy=policy, counted_early=early,
                             waiting_since=waiting.waiting_since, now=late).started_at == late
        # A stuck attempt that ends after that is not answered: its place may be taken already.
        assert not attempt_succeeded(session=session, limits=limits, policy=policy, cleared=early,
                                     started_at=stuck[0].started_at, counted_early=early, now=late)


def test_a_login_waits_for_attempts_in_flight_only_so_long(database, monkeypatch):
    monkeypatch.setattr(login, "IN_FLIGHT_WAIT_S", 0.3)
    policy = ThrottlePolicy.from_settings(database.settings)
    limits = login.login_limits(database, "ana", "192.0.2.11")
    with database.session(write=True) as session:
        for _ in range(5):  # five attempts of a process that died mid-check
            begin_attempt(session=session, limits=limits, policy=policy,
                          counted_early=frozenset(limits))
    started = time.monotonic()
    result = log_in(database=database, name="ana", password="her-password", address="192.0.2.11")
    assert result.token is None and result.retry_after_s == policy.in_flight.total_seconds()
    assert 0.3 <= time.monotonic() - started < 5
