"""The database going away under load: every connection of the server killed several times
while reviewers vote over HTTP. Nobody sees an error and every acknowledged vote is stored
once. PostgreSQL only (SQLite has no connections to lose)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from review.core.db import session_scope
from review.core.models import Judgment
from tests.web.conftest import running_server
from tests.web.studydata import make_blind_study

REVIEWERS = [f"r{i}" for i in range(6)]


def test_votes_survive_killed_database_connections(database_url, engine):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: REVIEW_TEST_POSTGRES_URL")
    with session_scope(engine) as session:
        make_blind_study(session, n_items=40, overlap=3, reviewers=REVIEWERS)
    statuses: list[int] = []
    acknowledged: list[str] = []
    endings: list = []
    stop = threading.Event()
    with running_server(database_url) as server:
        def review(name: str) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                statuses.append(http.post("login", data={"username": name, "password": "pw"}).status_code)
                while not stop.is_set():
                    response = http.get("api/v1/studies/blind/next")
                    statuses.append(response.status_code)
                    item = response.json() if response.status_code == 200 else None
                    if not item or not item.get("assignment_id"):
                        endings.append(item)
                        return
                    vote = http.post(f"api/v1/assignments/{item['assignment_id']}/vote",
                                     json={"choice": "left"})
                    statuses.append(vote.status_code)
                    if vote.status_code == 200:
                        acknowledged.append(item["assignment_id"])

        threads = [threading.Thread(target=review, args=(name,)) for name in REVIEWERS]
        for thread in threads:
            thread.start()
        admin = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1)
                              if database_url.startswith("postgresql://") else database_url)
        killed = 0

        def wait_for_votes(count: int) -> None:
            deadline = time.monotonic() + 120
            while len(acknowledged) < count and time.monotonic() < deadline:
                time.sleep(0.05)

        try:
            wait_for_votes(len(REVIEWERS))  # everybody signed in and voting
            for _ in range(4):
                time.sleep(0.4)
                with admin.connect() as connection:
                    killed += connection.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
            before = len(acknowledged)
            wait_for_votes(before + 10)  # and voting goes on afterwards
        finally:
            admin.dispose()
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
    assert killed > 0
    assert set(statuses) == {200}, sorted(set(statuses))
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count(Judgment.id)))
        distinct = session.scalar(select(func.count(func.distinct(Judgment.assignment_id))))
    assert stored == distinct >= len(set(acknowledged)) > 0, endings
