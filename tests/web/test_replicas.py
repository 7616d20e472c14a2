"""Two ``review serve`` processes on one database share logins and the login throttle.

This is what a round-robin load balancer without sticky sessions needs: a session cookie
issued by one process is accepted by the other, a logout through one ends the session on
both, and failed logins spread over both processes count against one limit.
Runs on SQLite and, with REVIEW_TEST_POSTGRES_URL set, on PostgreSQL.
"""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import migrated_session, replica_processes
from tests.web.studydata import make_blind_study



@pytest.fixture(scope="module")
def replicas(database_url, tmp_path_factory):
    """Base URLs of two server processes on the same database."""
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=3, overlap=2, reviewers=("ana", "bo", "cy"))
    with replica_processes(database_url, tmp_path_factory.mktemp("replicas")) as urls:
        yield urls


def _login(url: str, name: str, password: str) -> httpx.Response:
    return httpx.post(url + "login", data={"username": name, "password": password}, timeout=30)


def _studies(url: str, cookies: httpx.Cookies) -> httpx.Response:
    return httpx.get(url + "api/v1/studies", cookies=cookies, timeout=30)


def test_a_login_through_one_process_works_on_the_other(replicas):
    first, second = replicas
    login = _login(first, "ana", "pw")
    assert login.status_code == 200
    # The cookie names carry no per-process part: the other process finds the session.
    assert sorted(login.cookies.keys()) == ["review_device", "review_session"]
    assert [s["name"] for s in _studies(second, login.cookies).json()] == ["blind"]
    assert [s["name"] for s in _studies(first, login.cookies).json()] == ["blind"]
    # A lease taken through one process is the same item through the other.
    item_first = httpx.get(first + "api/v1/studies/blind/next", cookies=login.cookies, timeout=30).json()
    item_second = httpx.get(second + "api/v1/studies/blind/next", cookies=login.cookies, timeout=30).json()
    assert item_first["assignment_id"] == item_second["assignment_id"] is not None
    # Without the cookie neither process answers.
    assert _studies(second, httpx.Cookies()).status_code == 401


def test_logout_through_one_process_ends_the_session_on_both(replicas):
    first, second = replicas
    login = _login(second, "cy", "pw")
    assert login.status_code == 200 and _studies(first, login.cookies).status_code == 200
    logout = httpx.post(first + "logout", cookies=login.cookies, timeout=30)
    assert logout.status_code == 303
    assert _studies(first, login.cookies).status_code == 401
    assert _studies(second, login.cookies).status_code == 401


def test_failed_logins_spread_over_both_processes_lock_the_name(replicas):
    first, second = replicas
    # Five wrong passwords, alternating between the processes: one limit of five in all.
    for attempt in range(5):
        assert _login(replicas[attempt % 2], "bo", "wrong").status_code == 400
    for url in (first, second):
        refused = _login(url, "bo", "pw")  # the right password, still refused on both
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 300
    # The limit is per account name: another account logs in through either process.
    assert _login(second, "ana", "pw").status_code == 200
