"""Two ``review serve`` replicas behind nginx (Debian's package), round-robin, no sticky sessions.

What a deployment behind a load balancer relies on: one login is valid on every replica, a
reviewer's item and votes do not depend on which replica answers, each vote is stored once,
the origin check holds behind the proxy (it compares ``Origin`` with the forwarded ``Host``),
and the login throttle counts the real client address, which a client cannot forge with its
own ``X-Forwarded-For``. Runs on SQLite and, with REVIEW_TEST_POSTGRES_URL set, on PostgreSQL.
Without nginx the module is skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import delete, func, select

from benchmarks.nginx import nginx_binary, nginx_proxy
from review.core.models import Judgment
from tests.web.conftest import migrated_session, open_logged_in, replica_processes
from tests.web.studydata import make_blind_study

REVIEWERS = ("ana", "bo", "cy", "dee", "eve")
ADDRESS_LIMIT = 6

if nginx_binary() is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx is not installed; .ci/run installs Debian's package")
    pytest.skip("nginx is not installed (Debian: apt-get install nginx)", allow_module_level=True)



@pytest.fixture(scope="module")
def balanced(database_url, tmp_path_factory):
    """The proxy's base URL, in front of two replicas on one database."""
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=6, overlap=2, reviewers=REVIEWERS)
    with replica_processes(database_url, tmp_path_factory.mktemp("balanced"),
                           REVIEW_LOGIN_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT)) as bases, \
            nginx_proxy(bases) as proxy:
        yield proxy.url


def log_in(client: httpx.Client, name: str, password: str = "pw", **headers: str) -> httpx.Response:
    return client.post("login", data={"username": name, "password": password}, headers=headers)


def next_item(client: httpx.Client) -> httpx.Response:
    return client.get("api/v1/studies/blind/next")


def test_one_login_serves_every_replica_and_the_item_stays_the_same(balanced):
    with httpx.Client(base_url=balanced, timeout=30) as client:
        assert log_in(client, "ana").status_code == 200
        answers = [next_item(client) for _ in range(6)]
    assert all(answer.status_code == 200 for answer in answers)
    # Round-robin: both replicas answered, and the lease is the same whichever did.
    assert len({answer.headers["x-review-upstream"] for answer in answers}) == 2
    assert len({answer.json()["assignment_id"] for answer in answers}) == 1


def test_votes_through_the_balancer_are_stored_exactly_once(balanced, database_url):
    acknowledged = []
    with httpx.Client(base_url=balanced, timeout=30) as client:
        assert log_in(client, "bo").status_code == 200
        item = next_item(client).json()
        while item["assignment_id"] is not None:
            path = f"api/v1/assignments/{item['assignment_id']}/vote"
            answer = client.post(path, json={"choice": "left"})
            assert answer.status_code == 200, answer.text
            acknowledged.append(item["assignment_id"])
            # The same vote sent again (a retry through the other replica) changes nothing.
            again = client.post(path, json={"choice": "left"})
            assert again.json()["judgment"] == answer.json()["judgment"]
            item = answer.json()["next"]
    with migrated_session(database_url) as session:
        stored = session.scalars(select(Judgment.assignment_id).join(Judgment.reviewer)
                                 .where(Judgment.reviewer.has(name="bo"))).all()
        per_item = session.scalar(select(func.max(select(func.count(Judgment.id))
                                                  .group_by(Judgment.comparison_id)
                                                  .subquery().c.count)))
    assert len(acknowledged) == 6  # every item of the study, once
    assert sorted(stored) == sorted(acknowledged)
    assert per_item <= 2


def test_the_review_page_works_through_the_balancer(balanced, database_url, chromium_browser):
    """The page in Chromium: every event is a plain request that either replica answers
    (no queue stream or session state tied to one process)."""
    from types import SimpleNamespace

    from playwright.sync_api import expect

    upstreams = []
    context, page, dialogs = open_logged_in(chromium_browser, SimpleNamespace(url=balanced), "eve",
                                            viewport={"width": 1440, "height": 900}, ready="#answer-a")
    page.on("response", lambda response: upstreams.append(response.headers.get("x-review-upstream"))
            if "/gradio_api/" in response.url else None)
    try:
        for done in range(1, 4):
            page.locator("#vote-left").click()
            page.locator("#submit-vote").click()
            expect(page.locator("#progress")).to_contain_text(f"{done} done", timeout=15_000)
            expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better.")
    finally:
        context.close()
    with migrated_session(database_url) as session:
        votes = session.scalar(select(func.count(Judgment.id)).where(Judgment.reviewer.has(name="eve")))
    assert votes == 3
    assert dialogs == []
    assert len(set(upstreams) - {None}) == 2  # both replicas answered the page's requests


def test_the_origin_check_holds_behind_the_proxy(balanced):
    with httpx.Client(base_url=balanced, timeout=30) as client:
        assert log_in(client, "cy").status_code == 200
        own = run_with_origin(client, balanced.rstrip("/"))
        other = run_with_origin(client, "https://evil.example")
        sibling_port = run_with_origin(client, "http://127.0.0.1:1")
    assert own.status_code == 200
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    assert sibling_port.status_code == 403


def run_with_origin(client: httpx.Client, origin: str) -> httpx.Response:
    return client.get("api/v1/studies", headers={"Origin": origin})


def from_address(base: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (anywhere in 127.0.0.0/8)."""
    return httpx.Client(base_url=base, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address))


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(balanced):
    """Failed logins under ever new X-Forwarded-For values still count against the client's
    real address (the one nginx saw): once it reaches the limit, even the right password
    from it is refused, while another address is not affected."""
    with from_address(balanced, "127.0.0.2") as client:
        for attempt in range(ADDRESS_LIMIT):
            answer = log_in(client, f"nobody{attempt}", "wrong",
                            **{"X-Forwarded-For": f"198.51.100.{attempt}"})
            assert answer.status_code == 400
        refused = log_in(client, "dee", **{"X-Forwarded-For": "203.0.113.9"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    with from_address(balanced, "127.0.0.3") as elsewhere:
        assert log_in(elsewhere, "dee").status_code == 200


def test_a_client_on_the_proxys_own_host_cannot_rotate_addresses(balanced, database_url):
    """nginx sets X-Forwarded-For to the address it saw (``$remote_addr``), not appends to
    what the client sent: a client on the proxy's host (whose address uvicorn trusts) cannot
    pass each guess off as coming from somewhere else."""
    from review.core.models import LoginThrottle

    try:
        with from_address(balanced, "127.0.0.1") as client:
            for attempt in range(ADDRESS_LIMIT):
                answer = log_in(client, f"nobody{attempt}", "wrong",
                                **{"X-Forwarded-For": f"198.51.100.{attempt}"})
                assert answer.status_code == 400
            assert log_in(client, "dee", **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    finally:
        with migrated_session(database_url) as session:
            session.execute(delete(LoginThrottle))
