"""The JSON API under /api/v1 as scripts use it (plain HTTP, a signed-in cookie).

Login, blinding and authorization hold for API clients exactly as for the browser: nobody
reads or votes on another reviewer's assignment, votes twice or without logging in, nothing
that comes back to a reviewer names a model, its location or a database id, and the seconds
stored with a vote are the server's, whatever the client claims.
"""

from __future__ import annotations

import csv
import io
import json
import time
from contextlib import closing

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Assignment, Judgment, Reviewer, Study
from tests.factories import make_reviewer
from tests.web.conftest import api_ok, migrated_session, running_server, signed_in
from tests.web.studydata import CANDIDATE, SECRETS, make_blind_study

STUDY = "blind"


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        study, _ = make_blind_study(session, n_items=6, overlap=2, reviewers=("ana", "bo", "cy", "dee"))
        study.meta = {**(study.meta or {}), "min_seconds_on_screen": 1.0}
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
                assert key not in ("model", "generation", "comparison", "candidate", "baseline"), key
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


def _next(client, study=STUDY) -> dict:
    return api_ok(client.get(f"api/v1/studies/{study}/next"))


def _vote(client, assignment_id, status=200, **body) -> dict:
    return api_ok(client.post(f"api/v1/assignments/{assignment_id}/vote", json=body), status)


def test_post_login_with_form_fields(server):
    with httpx.Client(base_url=server.url) as http:
        assert http.post("login", data={"username": "ana", "password": "wrong"}).status_code == 400
        assert http.post("login", data={"username": "old", "password": "pw"}).status_code == 400
        assert http.post("login", data={"username": "nobody", "password": "pw"}).status_code == 400
        assert http.post("login", data={"username": "ana"}).status_code == 422  # no password field
        response = http.post("login", data={"username": "ana", "password": "pw"})
        assert response.status_code == 200 and response.json() == {"success": True}
        cookie = response.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        assert api_ok(http.get("api/v1/studies")) == [{"name": STUDY, "status": "active", "reviewing": True}]


def test_nothing_without_logging_in(server):
    with httpx.Client(base_url=server.url) as http:
        assert api_ok(http.get("api/v1/health")) == {"status": "ok"}
        for method, path in (("GET", "api/v1/studies"), ("GET", f"api/v1/studies/{STUDY}/next"),
                             ("POST", "api/v1/assignments/x/vote"), ("GET", "api/v1/assignments/x"),
                             ("GET", f"api/v1/studies/{STUDY}/analysis"), ("GET", "api/v1/docs"),
                             ("GET", "api/v1/openapi.json"), ("POST", "gradio_api/run/predict")):
            response = http.request(method, path, json={"choice": "left"} if method == "POST" else None)
            assert response.status_code == 401, (method, path)
            assert response.json() == {"detail": "please log in"}
        # Without a session the page is the login page, which names the product and no study.
        page = http.get("")
        assert page.status_code == 200 and "Sign in" in page.text and "gradio_config" not in page.text


def test_a_reviewer_gets_blinded_items_and_votes(server, clients):
    ana = clients("ana")
    assert api_ok(ana.get("api/v1/studies")) == [{"name": STUDY, "status": "active", "reviewing": True}]
    item = _next(ana)
    _assert_blind(item)
    assert set(item) == {"assignment_id", "mode", "status", "prompt", "messages", "reference", "left",
                         "right", "progress", "paused", "notice"}
    assert item["mode"] == "vote" and item["prompt"] == item["messages"][-1]["content"]
    assert {item["left"], item["right"]} <= {f"Candidate says {i}." for i in range(6)} \
        | {f"Baseline says {i}." for i in range(6)}
    assert not item["assignment_id"].isdigit() and len(item["assignment_id"]) >= 16
    assert _next(ana) == item  # asking again is the same lease
    assert api_ok(ana.get(f"api/v1/assignments/{item['assignment_id']}")) == item  # re-reading

    time.sleep(1.1)  # the study's minimum time on screen
    answer = _vote(ana, item["assignment_id"], choice="left", strength=2, rationale="clearer")
    _assert_blind(answer)
    judgment = answer["judgment"]
    assert {k: judgment[k] for k in ("assignment_id", "choice", "strength", "rationale")} == {
        "assignment_id": item["assignment_id"], "choice": "left", "strength": 2, "rationale": "clearer"}
    with session_scope(server.engine) as session:
        assignment = session.get(Assignment, item["assignment_id"])
        stored = session.scalar(select(Judgment).where(Judgment.assignment_id == assignment.id))
        shown_left = session.get(type(assignment.comparison.generation_a), stored.left_generation_id)
        assert stored.left_generation_id == assignment.left_generation_id
        assert shown_left.output == item["left"]  # the judgment names what was displayed
    following = answer["next"]
    _assert_blind(following)
    assert following["assignment_id"] not in (None, item["assignment_id"])
    assert following["progress"]["done"] == 1 == item["progress"]["done"] + 1
    assert _next(ana) == following  # the next item is now the reviewer's lease


def test_the_server_times_a_vote_whatever_the_client_claims(server, clients):
    """The acceptance check: a vote 1.5 s after the item was handed out, claiming 45 s, is
    stored with the server's 1.5 s; the export says so too."""
    dee = clients("dee")
    item = _next(dee)
    time.sleep(1.5)
    answer = _vote(dee, item["assignment_id"], choice="right", seconds=45, shown_at=0)
    assert 1.4 <= answer["judgment"]["seconds"] < 15
    with session_scope(server.engine) as session:
        stored = session.scalar(select(Judgment.seconds).where(Judgment.assignment_id == item["assignment_id"]))
    assert 1.4 <= stored < 15
    rows = list(csv.DictReader(io.StringIO(
        clients("ann").get(f"api/v1/studies/{STUDY}/export", params={"format": "csv"}).text)))
    exported = [float(row["seconds"]) for row in rows if row["reviewer"] == "dee"]
    assert len(exported) == 1 and 1.4 <= exported[0] < 15
    # Voting again at once, too fast to have read the next item, is refused by the same clock.
    following = answer["next"]
    refused = _vote(dee, following["assignment_id"], 400, choice="left", seconds=45)
    assert "read both answers first" in refused["detail"]


def test_the_page_and_its_config_name_no_model(server, clients):
    ana = clients("ana")
    page = ana.get("")
    assert page.status_code == 200 and "gradio_config" in page.text
    _assert_blind(page.text)
    # Gradio's own description routes are not served at all.
    for path in ("config", "gradio_api/info", "gradio_api/openapi.json", "gradio_api/run/next_item"):
        assert ana.get(path).status_code == 404, path


def test_no_reading_or_voting_on_another_reviewers_assignment(server, clients):
    ana, bo = clients("ana"), clients("bo")
    mine = _next(ana)["assignment_id"]
    for method, path, body in (("GET", f"assignments/{mine}", None),
                               ("POST", f"assignments/{mine}/vote", {"choice": "right"}),
                               ("POST", f"assignments/{mine}/change", {"choice": "right"}),
                               ("POST", f"assignments/{mine}/skip", None),
                               ("POST", "assignments/made-up-id/vote", {"choice": "left"})):
        refused = bo.request(method, f"api/v1/{path}", json=body)
        assert refused.status_code == 404, path
        assert refused.json() == {"detail": "no such assignment for you"}
    with session_scope(server.engine) as session:
        assert session.get(Assignment, mine).status == "leased"
    assert _judgments(server, reviewer_id=_reviewer_id(server, "bo")) == 0


def test_no_voting_twice_and_changes_within_the_window(server, clients):
    bo = clients("bo")
    lease = _next(bo)["assignment_id"]
    time.sleep(1.1)
    first = _vote(bo, lease, choice="tie")
    assert _vote(bo, lease, choice="tie")["judgment"] == first["judgment"]  # a retry
    assert "already voted" in _vote(bo, lease, 409, choice="right", strength=3)["detail"]
    assert "unknown choice" in _vote(bo, lease, 400, choice="candidate")["detail"]
    assert "strength only goes" in _vote(bo, lease, 400, choice="tie", strength=2)["detail"]
    assert _vote(bo, lease, 422, choice="left", strength="lots")["detail"]  # not a number at all
    with session_scope(server.engine) as session:
        comparison_id = session.get(Assignment, lease).comparison_id
    assert _judgments(server, comparison_id=comparison_id, reviewer_id=_reviewer_id(server, "bo")) == 1
    changed = api_ok(bo.post(f"api/v1/assignments/{lease}/change",
                             json={"choice": "both_bad", "rationale": "both wrong"}))
    assert changed["judgment"]["choice"] == "both_bad" and changed["judgment"]["rationale"] == "both wrong"
    assert changed["judgment"]["seconds"] == first["judgment"]["seconds"]  # a change keeps the time
    assert _judgments(server, comparison_id=comparison_id, reviewer_id=_reviewer_id(server, "bo")) == 1
    # Re-reading a voted item shows it as a change screen.
    assert api_ok(bo.get(f"api/v1/assignments/{lease}"))["mode"] == "change"


def test_skip_counts_and_revisiting_brings_it_back(server, clients):
    cy = clients("cy")
    first = _next(cy)
    skipped = api_ok(cy.post(f"api/v1/assignments/{first['assignment_id']}/skip"))
    assert skipped["skipped"] and skipped["next"]["assignment_id"] not in (None, first["assignment_id"])
    assert skipped["next"]["progress"]["skipped"] == 1
    assert "skipped" in _vote(cy, first["assignment_id"], 400, choice="left")["detail"]
    progress = api_ok(cy.get(f"api/v1/studies/{STUDY}/progress"))
    assert progress["you"]["skipped"] == 1 and progress["collection"] is None
    back = api_ok(cy.post(f"api/v1/studies/{STUDY}/revisit-skipped"))
    assert back["revisited"] == 1 and back["next"]["progress"]["skipped"] == 0


def test_analysis_export_report_and_docs_are_for_analysts(server, clients):
    ana, ann = clients("ana"), clients("ann")
    for path in (f"studies/{STUDY}/analysis", f"studies/{STUDY}/export?format=jsonl",
                 f"studies/{STUDY}/report", "docs", "openapi.json"):
        refused = ana.get(f"api/v1/{path}")
        assert refused.status_code == 403 and "roles" in refused.json()["detail"], path
    analysis = api_ok(ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 100}))
    assert analysis["study"] == STUDY and analysis["candidate"] == CANDIDATE
    assert analysis["decision"]["verdict"] in ("ship", "do_not_ship", "inconclusive")
    assert analysis["n_judgments"] == _judgments(server)
    too_many = ann.get(f"api/v1/studies/{STUDY}/analysis", params={"bootstrap": 100_000})
    assert too_many.status_code == 400 and "50 to 10000" in too_many.json()["detail"]
    assert ann.get("api/v1/studies/nope/analysis").status_code == 404
    # Every export format streams, named for the study.
    frames = {}
    for fmt in ("jsonl", "csv", "parquet", "mtbench", "dpo"):
        response = ann.get(f"api/v1/studies/{STUDY}/export", params={"format": fmt})
        assert response.status_code == 200, fmt
        assert f'filename="{STUDY}' in response.headers["content-disposition"]
        frames[fmt] = response.content
    assert len(pd.read_parquet(io.BytesIO(frames["parquet"]))) == _judgments(server)
    assert len(frames["jsonl"].splitlines()) == _judgments(server)
    assert ann.get(f"api/v1/studies/{STUDY}/export", params={"format": "xlsx"}).status_code == 400
    report = ann.get(f"api/v1/studies/{STUDY}/report", params={"bootstrap": 100})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert STUDY in report.text and "attachment" in report.headers["content-disposition"]
    docs = ann.get("api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/assignments/{assignment_id}/vote" in docs.text
    schema = api_ok(ann.get("api/v1/openapi.json"))
    assert "/api/v1/studies/{study}/next" in schema["paths"]
    # The collection's progress, for analysts.
    progress = api_ok(ann.get(f"api/v1/studies/{STUDY}/progress"))
    assert progress["you"] is None and progress["collection"]["items"] == 6
    assert [s["name"] for s in api_ok(ann.get("api/v1/studies"))] == [STUDY]


def test_outsiders_and_deactivated_accounts(server, clients):
    zed = clients("zed")
    assert api_ok(zed.get("api/v1/studies")) == []
    refused = zed.get(f"api/v1/studies/{STUDY}/next")
    assert refused.status_code == 404 and refused.json()["detail"] == f"no study {STUDY!r} for you"
    # An account switched off after logging in loses its session at once: the next request is
    # not logged in at all (HTTP 401), whichever process serves it.
    with session_scope(server.engine) as session:
        session.scalar(select(Reviewer).where(Reviewer.name == "zed")).active = False
    assert zed.get("api/v1/studies").status_code == 401


def test_a_paused_study_serves_nothing(server):
    with closing(signed_in(server, "cy")) as cy:
        with session_scope(server.engine) as session:
            session.scalar(select(Study).where(Study.name == STUDY)).status = "paused"
        try:
            item = _next(cy)
            assert item["assignment_id"] is None and item["paused"] and item["progress"]["remaining"] == 0
            assert item["notice"] == "This study is paused."
        finally:
            with session_scope(server.engine) as session:
                session.scalar(select(Study).where(Study.name == STUDY)).status = "active"
