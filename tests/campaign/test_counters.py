"""The per-item and per-membership counters the database keeps, and "the next item" read from
them on a study of 20,000 items built by bulk insert (SQLite and PostgreSQL).

Every way a vote or a lease changes (lease, vote, change, skip, revisit, expiry, an import
without an assignment, a deleted row) leaves each counter equal to a count from scratch.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import delete, func, insert, select

from review.campaign.judgments import change_vote, record_vote
from review.campaign.leases import expire_leases, next_assignment, revisit_skipped, skip_assignment
from review.campaign.queue import REMAINING_CAP
from review.campaign.screen import reviewer_progress
from review.core.models import (
    Assignment,
    Comparison,
    Generation,
    Judgment,
    Prompt,
    PromptSet,
    Reviewer,
    Study,
    StudyReviewer,
    utcnow,
)
from tests.factories import make_model, make_reviewer
from tests.web.studydata import make_blind_study


def _recounted(session) -> tuple[dict, dict]:
    """(item id -> (judgments, load)) and ((study, reviewer) -> (done, skipped)), from scratch:
    the load is the assignments leased or done plus the judgments without an assignment."""
    items = {}
    for item_id, in session.execute(select(Comparison.id)):
        judged = session.scalar(select(func.count(Judgment.id)).where(Judgment.comparison_id == item_id))
        imported = session.scalar(select(func.count(Judgment.id)).where(
            Judgment.comparison_id == item_id, Judgment.assignment_id.is_(None)))
        taken = session.scalar(select(func.count(Assignment.id)).where(
            Assignment.comparison_id == item_id, Assignment.status.in_(("leased", "done"))))
        items[item_id] = (judged, imported + taken)
    members = {}
    for study_id, reviewer_id in session.execute(select(StudyReviewer.study_id, StudyReviewer.reviewer_id)):
        in_study = select(Comparison.id).where(Comparison.study_id == study_id)
        done = session.scalar(select(func.count(Judgment.id)).where(
            Judgment.reviewer_id == reviewer_id, Judgment.comparison_id.in_(in_study)))
        skipped = session.scalar(select(func.count(Assignment.id)).where(
            Assignment.reviewer_id == reviewer_id, Assignment.status == "skipped",
            Assignment.comparison_id.in_(in_study)))
        members[(study_id, reviewer_id)] = (done, skipped)
    return items, members


def _kept(session) -> tuple[dict, dict]:
    session.expire_all()
    items = {row[0]: (row[1], row[2]) for row in session.execute(
        select(Comparison.id, Comparison.judgment_count, Comparison.load))}
    members = {(row[0], row[1]): (row[2], row[3]) for row in session.execute(
        select(StudyReviewer.study_id, StudyReviewer.reviewer_id, StudyReviewer.done, StudyReviewer.skipped))}
    return items, members


def _reviewer(session, name):
    return session.scalar(select(Reviewer).where(Reviewer.name == name))


def test_the_counters_follow_every_kind_of_change(session):
    study, items = make_blind_study(session, n_items=6, overlap=2, reviewers=("ana", "bo", "cy"))
    ana, bo, cy = (_reviewer(session, name) for name in ("ana", "bo", "cy"))
    now = utcnow()
    revisions = {item.id: item.revision for item in items}

    first = next_assignment(session=session, reviewer=ana, study=study, now=now)
    record_vote(session=session, reviewer=ana, assignment_id=first.id, choice="left", now=now)
    change_vote(session=session, reviewer=ana, assignment_id=first.id, choice="tie", now=now)
    second = next_assignment(session=session, reviewer=ana, study=study, now=now)
    skip_assignment(session=session, reviewer=ana, assignment_id=second.id, now=now)
    held = next_assignment(session=session, reviewer=bo, study=study, now=now)  # left to expire
    cy_lease = next_assignment(session=session, reviewer=cy, study=study, now=now)
    assert _kept(session) == _recounted(session)
    assert _kept(session)[1][(study.id, ana.id)] == (1, 1)

    # Time passes: bo's lease runs out; a request's batch of expiries takes it off the load.
    later = now + timedelta(hours=2)
    record_vote(session=session, reviewer=cy, assignment_id=cy_lease.id, choice="right",
                now=cy_lease.leased_at + timedelta(seconds=5))
    assert expire_leases(session=session, now=later) == 1
    session.expire_all()
    assert session.get(Assignment, held.id).status == "expired"
    assert _kept(session) == _recounted(session)
    next_assignment(session=session, reviewer=cy, study=study, now=later)
    assert _kept(session) == _recounted(session)

    # Skipped items given back, then renewed; a judgment imported without an assignment; a
    # judgment removed.
    assert revisit_skipped(session=session, reviewer=ana, study=study, now=later) == 1
    assert _kept(session)[1][(study.id, ana.id)] == (1, 0)
    free = next(item for item in items if session.scalar(
        select(func.count(Assignment.id)).where(Assignment.comparison_id == item.id)) == 0)
    session.add(Judgment(comparison_id=free.id, reviewer_id=bo.id,
                         left_generation_id=free.generation_a_id, choice="both_bad"))
    session.flush()
    assert _kept(session) == _recounted(session)
    session.execute(delete(Judgment).where(Judgment.comparison_id == free.id))
    session.flush()
    assert _kept(session) == _recounted(session)
    # Every judgment added, changed or removed moved its item's revision (the analysis cache).
    session.expire_all()
    assert session.get(Comparison, first.comparison_id).revision >= revisions[first.comparison_id] + 2
    assert session.get(Comparison, free.id).revision == revisions[free.id] + 2


def test_items_held_by_expired_leases_come_back_when_nothing_else_is_open(session):
    study, items = make_blind_study(session, n_items=2, overlap=1, reviewers=("ana", "bo"))
    ana, bo = _reviewer(session, "ana"), _reviewer(session, "bo")
    now = utcnow()
    held = next_assignment(session=session, reviewer=ana, study=study, now=now)
    assert next_assignment(session=session, reviewer=ana, study=study, now=now).id == held.id
    other = next(item for item in items if item.id != held.comparison_id)
    session.add(Assignment(comparison_id=other.id, reviewer_id=ana.id,  # a second tab's lease
                           left_generation_id=other.generation_a_id, expires_at=now + timedelta(minutes=5)))
    session.flush()
    assert next_assignment(session=session, reviewer=bo, study=study, now=now) is None  # all held
    later = now + timedelta(hours=1)  # both of ana's leases ran out, nobody expired them yet
    lease = next_assignment(session=session, reviewer=bo, study=study, now=later, rng=random.Random(0))
    assert lease is not None and lease.comparison_id in {items[0].id, items[1].id}


def _bulk_study(session, *, n_items: int, overlap: int, reviewers: tuple[str, ...],
                thresholds: dict | None = None) -> Study:
    """A study of ``n_items`` items built with a few multi-row inserts, as an import would."""
    base = make_model(session, "bulk-base", location="/m/base")
    tuned = make_model(session, "bulk-tuned", kind="finetune", location="/m/tuned", base=base)
    prompt_set = PromptSet(name="bulk")
    session.add(prompt_set)
    session.flush()
    session.execute(insert(Prompt), [
        {"prompt_set_id": prompt_set.id, "external_id": f"p{i}", "category": "general",
         "messages": [{"role": "user", "content": f"Q{i}"}], "content_hash": f"h{i}"}
        for i in range(n_items)])
    prompt_ids = session.scalars(select(Prompt.id).where(Prompt.prompt_set_id == prompt_set.id)
                                 .order_by(Prompt.id)).all()
    for model in (base, tuned):
        session.execute(insert(Generation), [
            {"model_id": model.id, "prompt_id": pid, "params_hash": "bulk", "params": {},
             "output": f"{model.name} {pid}", "token_count": 2, "latency_seconds": 0.0,
             "backend": "transformers"} for pid in prompt_ids])
    answers = {(row[0], row[1]): row[2] for row in session.execute(
        select(Generation.model_id, Generation.prompt_id, Generation.id))}
    study = Study(name="bulk", candidate=tuned, baseline=base, prompt_set=prompt_set,
                  overlap=overlap, thresholds=thresholds or {})
    session.add(study)
    session.flush()
    session.execute(insert(Comparison), [
        {"study_id": study.id, "prompt_id": pid, "generation_a_id": answers[(tuned.id, pid)],
         "generation_b_id": answers[(base.id, pid)]} for pid in prompt_ids])
    for name in reviewers:
        session.add(StudyReviewer(study_id=study.id, reviewer_id=make_reviewer(session, name).id))
    session.flush()
    return study


def _load_of(session, assignment) -> int:
    session.expire_all()
    return session.scalar(select(Comparison.load).where(Comparison.id == assignment.comparison_id))


def test_a_20000_item_study_serves_the_right_items_from_its_counters(session):
    study = _bulk_study(session, n_items=20_000, overlap=3, reviewers=("ana", "bo"),
                        thresholds={"method": "fixed"})
    ana, bo = _reviewer(session, "ana"), _reviewer(session, "bo")
    rng = random.Random(3)
    ids = session.scalars(select(Comparison.id).where(Comparison.study_id == study.id)
                          .order_by(Comparison.id)).all()
    # Every item but 40 already has a judgment (an import by a third account): the 40 are the
    # least loaded and a fixed look must serve them first.
    importer = make_reviewer(session, "importer")
    untouched = set(rng.sample(ids, 40))
    generation_a = dict(session.execute(select(Comparison.id, Comparison.generation_a_id)
                                        .where(Comparison.study_id == study.id)).all())
    session.execute(insert(Judgment), [
        {"comparison_id": i, "reviewer_id": importer.id, "left_generation_id": generation_a[i],
         "choice": "tie", "created_at": utcnow()} for i in ids if i not in untouched])
    session.flush()
    assert session.scalar(select(func.sum(Comparison.judgment_count))
                          .where(Comparison.study_id == study.id)) == 20_000 - 40

    served = []
    for _ in range(10):
        lease = next_assignment(session=session, reviewer=ana, study=study, rng=rng)
        served.append(lease.comparison_id)
        record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="left")
    assert set(served) <= untouched and len(set(served)) == 10  # least loaded, no repeats
    progress = reviewer_progress(session=session, reviewer=ana, study=study)
    assert progress.done == 10 and progress.capped and progress.remaining == REMAINING_CAP
    assert reviewer_progress(session=session, reviewer=bo, study=study).done == 0

    # Anytime studies serve started items first: 25 items with two votes already come before
    # the rest (one vote each), so bo's lease fills one of them to k.
    second = make_reviewer(session, "importer-2")
    twice = set(rng.sample([i for i in ids if i not in untouched], 25))
    session.execute(insert(Judgment), [
        {"comparison_id": i, "reviewer_id": second.id, "left_generation_id": generation_a[i],
         "choice": "tie", "created_at": utcnow()} for i in sorted(twice)])
    study.thresholds = {"method": "anytime"}
    session.flush()
    lease = next_assignment(session=session, reviewer=bo, study=study, rng=rng)
    assert lease.comparison_id in twice and _load_of(session, lease) == 3
    # Full now: nobody else is served it.
    record_vote(session=session, reviewer=bo, assignment_id=lease.id, choice="right")
    following = next_assignment(session=session, reviewer=bo, study=study, rng=rng)
    assert following.comparison_id in twice - {lease.comparison_id}
