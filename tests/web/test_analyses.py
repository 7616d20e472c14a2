"""Analyses off the reviewers' path: the server's analysis workers, one analysis at a time per
account, and a cache that answers a refresh with no new vote without computing again."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.factories import make_reviewer
from tests.web.conftest import api_ok, migrated_session, running_server
from tests.web.studydata import make_blind_study

STUDY = "blind"


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=30, overlap=2, reviewers=("ana",))
        make_reviewer(session, "ann", role="analyst")
        make_reviewer(session, "amy", role="analyst")
    with running_server(database_url) as running:
        yield running


def _vote(client) -> None:
    item = api_ok(client.get(f"api/v1/studies/{STUDY}/next"))
    api_ok(client.post(f"api/v1/assignments/{item['assignment_id']}/vote", json={"choice": "left"}))


def test_a_refresh_with_no_new_vote_is_answered_from_the_cache(server, clients):
    ana, ann, amy = clients("ana"), clients("ann"), clients("amy")
    for _ in range(3):
        _vote(ana)
    pool = server.app.review_context.analyses
    before = pool.computed
    first = api_ok(ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 200}))
    assert pool.computed == before + 1 and first["n_judgments"] == 3
    # The same analysis again, by the same or another analyst: from the cache.
    assert api_ok(ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 200})) == first
    assert api_ok(amy.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 200})) == first
    assert pool.computed == before + 1
    # Other options, or a new vote, compute again.
    api_ok(ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 300}))
    assert pool.computed == before + 2
    _vote(ana)
    fresh = api_ok(ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 200}))
    assert fresh["n_judgments"] == 4 and pool.computed == before + 3


def test_one_analysis_at_a_time_per_account(server, clients):
    """Eight requests of one analyst at once: one is computed, the others are told at once
    that it is still computing; another analyst is not held up by them."""
    ana = clients("ana")
    _vote(ana)  # new data: nothing cached
    ann = clients("ann")

    def ask(rounds: int):
        started = time.perf_counter()
        response = ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": rounds})
        return response.status_code, time.perf_counter() - started, response

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, [10_000] * 8))
    codes = sorted(code for code, _, _ in answers)
    assert codes.count(200) >= 1 and codes.count(429) >= 6, codes
    refused = [response for code, _, response in answers if code == 429]
    assert all("still computing" in r.json()["detail"] and r.headers["retry-after"] for r in refused)
    computed = max(seconds for code, seconds, _ in answers if code == 200)
    assert all(seconds < computed for code, seconds, _ in answers if code == 429)
    # Reviewers' requests are answered meanwhile (the analysis runs in another process).
    assert api_ok(ana.get(f"api/v1/studies/{STUDY}/next"))["assignment_id"]
