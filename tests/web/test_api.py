"""The API as a logged-in reviewer sees it (gradio_client and plain HTTP).

Login, blinding and authorization hold for API clients exactly as for the browser:
nobody reads or votes on another reviewer's assignment, votes twice or without logging
in, and nothing that comes back names a model, its location or a database id.
"""

from __future__ import annotations

import json

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, AuthenticationError
from sqlalchemy import func, select

from apps.security import API_SESSION_HASH
from review.core.db import session_scope
from review.core.models import Assignment, Judgment, Reviewer
from tests.factories import make_reviewer
from tests.web.conftest import migrated_session, module_database_url, running_server
from tests.web.studydata import SECRETS, make_blind_study

# Gradio's own queue statistics trip pandas deprecation warnings; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning",
                                        "ignore:The copy keyword is deprecated:Warning")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    yield from module_database_url(tmp_path_factory)


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=6, overlap=2, reviewers=("ana", "bo", "cy"))
        make_reviewer(session, "ann", role="analyst")
        make_reviewer(session, "zed")
        old = make_reviewer(session, "old")
        old.active = False
    with running_server(database_url) as running:
        yield running


def _assert_blind(value) -> None:
    """No model name or location anywhere, and no database ids (only opaque assignment ids)."""
    dumped = json.dumps(value) if not isinstance(value, str) else value
    for secret in SECRETS:
        assert secret not in dumped, f"{secret!r} leaked"

    def walk(node):
        if isinstance(node, dict):
            for key, child in node.items():
                assert not (key.endswith("_id") and key != "assignment_id"), key
                assert key not in ("model", "generation", "comparison"), key
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    if not isinstance(value, str):
        walk(value)


def _judgments(server, **where) -> int:
    with session_scope(server.engine) as session:
        query = select(func.count(Judgment.id))
        for column, value in where.items():
            query = query.where(getattr(Judgment, column) == value)
        return session.scalar(query)


def _reviewer_id(server, name) -> int:
    with session_scope(server.engine) as session:
        return session.scalar(select(Reviewer.id).where(Reviewer.name == name))


def test_post_login_with_form_fields(server):
    with httpx.Client(base_url=server.url) as http:
        assert http.post("login", data={"username": "ana", "password": "wrong"}).status_code == 400
        assert http.post("login", data={"username": "old", "password": "pw"}).status_code == 400
        assert http.post("login", data={"username": "nobody", "password": "pw"}).status_code == 400
        response = http.post("login", data={"username": "ana", "password": "pw"})
        assert response.status_code == 200 and response.json() == {"success": True}
        assert http.post("gradio_api/run/studies", json={"data": []}).json()["data"] == [["blind"]]


def test_nothing_without_logging_in(server):
    with pytest.raises(AuthenticationError):
        Client(server.url, verbose=False)
    with httpx.Client(base_url=server.url) as http:
        assert http.get("config").status_code == 401
        for endpoint, data in (("next_item", [None]), ("vote", ["x", "left"]), ("item", ["x"])):
            response = http.post(f"gradio_api/run/{endpoint}", json={"data": data})
            assert response.status_code == 401, endpoint
        response = http.post("gradio_api/queue/join",
                             json={"data": [], "fn_index": 0, "session_hash": "abc"})
        assert response.status_code == 401


def test_a_reviewer_gets_blinded_items_and_votes(server, clients):
    ana = clients("ana")
    assert ana.predict(api_name="/studies") == ["blind"]
    item = ana.predict(None, api_name="/next_item")
    _assert_blind(item)
    assert set(item) == {"assignment_id", "status", "messages", "left", "right", "reference", "progress"}
    assert {item["left"], item["right"]} <= {f"Candidate says {i}." for i in range(6)} \
        | {f"Baseline says {i}." for i in range(6)}
    assert not item["assignment_id"].isdigit() and len(item["assignment_id"]) >= 16
    assert ana.predict(item["assignment_id"], api_name="/item") == item  # re-reading is allowed

    result = ana.predict(item["assignment_id"], "left", 2, "clearer", 9.5, api_name="/vote")
    _assert_blind(result)
    assert result == {"assignment_id": item["assignment_id"], "choice": "left", "strength": 2,
                      "rationale": "clearer", "recorded": True}
    with session_scope(server.engine) as session:
        assignment = session.get(Assignment, item["assignment_id"])
        judgment = session.scalar(select(Judgment).where(Judgment.assignment_id == assignment.id))
        shown_left = session.get(type(assignment.comparison.generation_a), judgment.left_generation_id)
        assert judgment.left_generation_id == assignment.left_generation_id
        assert shown_left.output == item["left"]  # the judgment names what was displayed
    following = ana.predict(None, api_name="/next_item")
    _assert_blind(following)
    assert following["progress"]["done"] == 1


def test_the_page_and_its_config_name_no_model(server):
    with httpx.Client(base_url=server.url) as http:
        login = http.post("login", data={"username": "ana", "password": "pw"})
        assert login.status_code == 200 and login.json() == {"success": True}
        for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
            response = http.get(path)
            assert response.status_code == 200, path
            _assert_blind(response.text)
        # The item screen as the page's own load event returns it.
        response = http.post("gradio_api/run/next_item", json={"data": [None]})
        assert response.status_code == 200 and response.json()["data"][0]["assignment_id"]
        _assert_blind(response.json()["data"])


def test_no_reading_or_voting_on_another_reviewers_assignment(server, clients):
    ana, bo = clients("ana"), clients("bo")
    mine = ana.predict(None, api_name="/next_item")["assignment_id"]
    for endpoint, args in (("/item", (mine,)), ("/vote", (mine, "right", None, None, None)),
                           ("/change_vote", (mine, "right", None, None)), ("/skip", (mine,))):
        with pytest.raises(AppError, match="no such assignment for you"):
            bo.predict(*args, api_name=endpoint)
    with session_scope(server.engine) as session:
        assert session.get(Assignment, mine).status == "leased"
    assert _judgments(server, reviewer_id=_reviewer_id(server, "bo")) == 0
    with pytest.raises(AppError, match="no such assignment for you"):
        bo.predict("made-up-id", "left", None, None, None, api_name="/vote")


def test_no_voting_twice(server, clients):
    bo = clients("bo")
    lease = bo.predict(None, api_name="/next_item")["assignment_id"]
    first = bo.predict(lease, "tie", None, None, None, api_name="/vote")
    assert bo.predict(lease, "tie", None, None, None, api_name="/vote") == first  # a retry
    with pytest.raises(AppError, match="already voted"):
        bo.predict(lease, "right", 3, None, None, api_name="/vote")
    with pytest.raises(AppError, match="unknown choice"):
        bo.predict(lease, "candidate", None, None, None, api_name="/vote")
    with session_scope(server.engine) as session:
        comparison_id = session.get(Assignment, lease).comparison_id
    assert _judgments(server, comparison_id=comparison_id, reviewer_id=_reviewer_id(server, "bo")) == 1
    changed = bo.predict(lease, "both_bad", None, "both wrong", api_name="/change_vote")
    assert changed["choice"] == "both_bad"


def test_vote_next_votes_and_answers_with_the_next_item_in_one_call(server, clients):
    cy, bo = clients("cy"), clients("bo")
    lease = cy.predict(None, api_name="/next_item")
    answer = cy.predict(lease["assignment_id"], "right", 1, None, 4.0, api_name="/vote_next")
    _assert_blind(answer)
    following = answer.pop("next")
    assert answer == {"assignment_id": lease["assignment_id"], "choice": "right", "strength": 1,
                      "rationale": None, "recorded": True}
    assert following["assignment_id"] not in (None, lease["assignment_id"])
    assert following["progress"]["done"] == lease["progress"]["done"] + 1
    # The next item is now the reviewer's lease; a retry of the same call changes nothing.
    assert cy.predict(None, api_name="/next_item") == following
    assert cy.predict(lease["assignment_id"], "right", 1, None, 4.0, api_name="/vote_next")["next"] == following
    assert _judgments(server, reviewer_id=_reviewer_id(server, "cy")) == 1
    with pytest.raises(AppError, match="no such assignment for you"):
        bo.predict(following["assignment_id"], "left", None, None, None, api_name="/vote_next")


def test_plain_api_calls_share_one_session_state(server):
    """Gradio builds a session state (a copy of the whole app's configuration) for every call
    without a session_hash; the server gives such calls one shared session instead."""
    sessions = server.app.state_holder.session_data
    with httpx.Client(base_url=server.url) as http:
        assert http.post("login", data={"username": "ana", "password": "pw"}).status_code == 200
        http.post("gradio_api/run/studies", json={"data": []}).raise_for_status()
        before = len(sessions)
        for _ in range(10):
            assert http.post("gradio_api/run/studies", json={"data": []}).json()["data"][0] == ["blind"]
    assert len(sessions) == before
    assert API_SESSION_HASH in sessions


def test_skip_returns_the_item_and_serves_another(server, clients):
    cy = clients("cy")
    first = cy.predict(None, api_name="/next_item")["assignment_id"]
    assert cy.predict(first, api_name="/skip") == {"assignment_id": first, "skipped": True}
    second = cy.predict(None, api_name="/next_item")["assignment_id"]
    assert second != first
    with pytest.raises(AppError, match="skipped"):
        cy.predict(first, "left", None, None, None, api_name="/vote")


def test_outsiders_roles_and_deactivated_accounts(server, clients):
    zed = clients("zed")
    with pytest.raises(AppError, match="not assigned to any study"):
        zed.predict(None, api_name="/next_item")
    with pytest.raises(AppError, match="no study 'blind' for you"):
        zed.predict("blind", api_name="/next_item")
    with pytest.raises(AppError, match="roles"):
        clients("ana").predict(api_name="/study_progress")
    progress = clients("ann").predict(api_name="/study_progress")
    assert [row["study"] for row in progress] == ["blind"] and progress[0]["items"] == 6

    # An account switched off after logging in loses its session at once: the next request
    # is not logged in at all (HTTP 401), whichever process serves it.
    zed.predict(api_name="/studies")
    with session_scope(server.engine) as session:
        session.scalar(select(Reviewer).where(Reviewer.name == "zed")).active = False
    with pytest.raises(httpx.HTTPStatusError) as refused:
        zed.predict(api_name="/studies")
    assert refused.value.response.status_code == 401
