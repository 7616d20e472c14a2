"""Many reviewers at once: every item ends with exactly k judgments, none twice, none lost.

Runs on SQLite and, with REVIEW_TEST_POSTGRES_URL set, on PostgreSQL (row locks with
SKIP LOCKED there, BEGIN IMMEDIATE on SQLite).
"""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from review.campaign.leases import next_assignment
from review.core.db import session_scope
from review.campaign.judgments import record_vote
from review.core.models import Assignment, Judgment, Reviewer, Study
from tests.web.studydata import make_blind_study

N_REVIEWERS = 20
N_ITEMS = 24
OVERLAP = 3


def test_twenty_reviewers_in_parallel_fill_every_item_exactly_k_times(engine):
    names = [f"rev{i:02d}" for i in range(N_REVIEWERS)]
    with session_scope(engine) as session:
        study, items = make_blind_study(session, name="crowd", n_items=N_ITEMS, overlap=OVERLAP,
                                        reviewers=names)
        study_id = study.id
        item_ids = {item.id for item in items}

    start = threading.Barrier(N_REVIEWERS)
    votes: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        mine = votes.setdefault(name, [])
        try:
            with session_scope(engine) as session:
                reviewer_id = session.scalar(select(Reviewer.id).where(Reviewer.name == name))
            start.wait()
            while True:
                with session_scope(engine, write=True) as session:
                    reviewer = session.get(Reviewer, reviewer_id)
                    lease = next_assignment(session=session, reviewer=reviewer,
                                            study=session.get(Study, study_id))
                    if lease is None:
                        return
                    lease_id, comparison_id = lease.id, lease.comparison_id
                with session_scope(engine, write=True) as session:
                    record_vote(session=session, reviewer=session.get(Reviewer, reviewer_id),
                                assignment_id=lease_id, choice="left")
                mine.append(comparison_id)
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,), name=name) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a reviewer thread hung"
    assert not errors, errors

    with session_scope(engine) as session:
        per_item = Counter(dict(session.execute(
            select(Judgment.comparison_id, func.count(Judgment.id)).group_by(Judgment.comparison_id)
        ).all()))
        pairs = session.execute(select(Judgment.comparison_id, Judgment.reviewer_id)).all()
        open_leases = session.scalar(select(func.count(Assignment.id))
                                     .where(Assignment.status == "leased"))
    assert set(per_item) == item_ids
    assert all(n == OVERLAP for n in per_item.values()), per_item
    assert len(pairs) == len(set(pairs)) == N_ITEMS * OVERLAP  # nobody judged an item twice
    # Every vote a reviewer cast is in the database (none lost), each item once per reviewer.
    assert sum(len(v) for v in votes.values()) == N_ITEMS * OVERLAP
    assert all(len(v) == len(set(v)) for v in votes.values())
    assert open_leases == 0


def test_nobody_is_told_nothing_is_left_while_items_are_open(engine):
    """Ten reviewers voting as fast as they can on a large study served started-items-first
    (everybody wants the same few items): each gets an item every time. A reviewer who finds
    every item of the load to serve taken by others at that instant is given one of the next
    load, never "nothing left"."""
    names = [f"fast{i}" for i in range(10)]
    with session_scope(engine) as session:
        study, _ = make_blind_study(session, name="busy", n_items=300, overlap=OVERLAP, reviewers=names)
        study.thresholds = {"method": "anytime"}
        study_id = study.id
    start = threading.Barrier(len(names))
    empty: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with session_scope(engine) as session:
                reviewer_id = session.scalar(select(Reviewer.id).where(Reviewer.name == name))
            start.wait()
            for index in range(15):
                with session_scope(engine, write=True) as session:
                    lease = next_assignment(session=session, reviewer=session.get(Reviewer, reviewer_id),
                                            study=session.get(Study, study_id))
                    if lease is None:
                        empty.append((name, index))
                        return
                    lease_id = lease.id
                with session_scope(engine, write=True) as session:
                    record_vote(session=session, reviewer=session.get(Reviewer, reviewer_id),
                                assignment_id=lease_id, choice="tie")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert empty == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(Judgment.id))) == 150
