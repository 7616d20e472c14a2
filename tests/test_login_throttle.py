"""The failed-login throttle from the attacker's side, at the service every way in uses
(review.auth.login.log_in): strangers cannot lock a reviewer out, guesses spread over many
addresses are bounded, parallel guesses cannot outrun a limit."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from review.auth.login import log_in
from review.core.config import Settings
from review.core.db import Database, session_scope
from tests.factories import make_reviewer


@pytest.fixture
def database(engine, database_url):
    with session_scope(engine, write=True) as session:
        make_reviewer(session, "ana", password="her-password")
    db = Database(Settings(database_url=database_url))
    yield db
    db.engine.dispose()


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
