"""Which item a reviewer sees next: overlap, leases, no repeats, gold items, at a cost per
request that does not grow with the study.

Every item (a :class:`~review.core.models.Comparison`) of a study needs ``study.overlap`` (k)
judgments. An item's *load* is its assignments leased or done plus the judgments that came
without an assignment (imports): every reviewer who holds it, voted on it through a lease, or
was counted otherwise. The database keeps it in ``Comparison.load`` with triggers (migration
0005), in the same transaction as the lease, vote or import that changes it (a vote turns a
lease into a done assignment and leaves the load as it was). A lease expires after
``lease_minutes``; requests mark expired leases ``expired`` (a batch of :data:`REAP_BATCH`,
oldest first, on one request in :data:`REAP_EVERY`, and whenever nothing seems left), which
takes them off their items' load, so an abandoned item returns to the pool without a
clean-up job. For a study decided by the anytime method the items already
started (highest load) are served first (prompts complete early, so the verdict can stop early),
for a fixed look the items with the lowest load (see :func:`serves_started_items_first`); ties
are broken at random (a random key per item, read from a random starting point); an item whose
load has reached k is never handed out, so no item collects more than k judgments.

Choosing reads the index ``ix_comparisons_queue`` (study, selected, load, shuffle) from its
start (or end) and stops at the first items this reviewer has not handled: a handful of rows,
whatever the study's size. Progress counts come from the membership's counters
(``StudyReviewer.done`` and ``skipped``) and a count of open items that stops at
:data:`review.campaign.queue.REMAINING_CAP`.

The "never more than k" rule is enforced by the database, not only by Python checks:

* on PostgreSQL the chosen item's row is locked as it is read (``SELECT ... FOR NO KEY
  UPDATE SKIP LOCKED``, :mod:`review.campaign.queue`), its load checked again under the lock;
  concurrent requests skip locked rows and take another item, so they never wait on each other.
  This relies on PostgreSQL's default READ COMMITTED isolation, where the locked row's
  conditions are checked on its latest committed version. Lock order: a request changes
  assignments (expiring leases) before it locks any item, so two requests never wait on each
  other in a circle.
* on SQLite the whole request is one write transaction (``BEGIN IMMEDIATE``), so requests
  are serialised.

Gold items (``Comparison.gold_label`` set) are attention checks: they are mixed in at
``study.gold_rate`` while ordinary work remains, each reviewer sees each gold item at most
once, and they are not capped by the overlap (every reviewer can be scored on them).

A study that uses a model judge under a human budget (:mod:`review.campaign.selection`)
hands out only the items drawn for people, those the judge is least sure of first.
Nothing a reviewer is shown tells them apart from other items, progress figures included.

A reviewer never gets an item they judged or skipped, until they ask for their skipped
items again (:func:`revisit_skipped`). A lease of theirs that expired is renewed rather than
duplicated (the database allows one assignment per reviewer and item), with the same
left/right order as before, before any new item.

Every service takes the session keyword-only and leaves the transaction to the caller::

    with session_scope(engine, write=True) as session:
        assignment = next_assignment(session=session, reviewer=ana, study=study)
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from review.core.config import default_setting
from review.core.db import begin_write
from review.core.errors import NotFound, PermissionDenied, ReviewError
from review.campaign.queue import (
    NOW,
    REVIEWER_ID,
    STUDY_ID,
    Candidate,
    gold_candidate,
    has_room,
    renewable,
    statement_params,
    take_next,
)
from review.core.models import (
    Assignment,
    Comparison,
    Reviewer,
    Study,
    StudyReviewer,
    new_opaque_id,
    utcnow,
)

# Expired leases taken off their items' load at once (oldest first), on one request in
# REAP_EVERY: 4 per request on average, more than the one lease a request can leave to
# expire, so the backlog stays small.
REAP_BATCH = 16
REAP_EVERY = 4


class LeaseExpired(ReviewError):
    """The lease ran out before the vote arrived; the item went back to the pool."""


def ensure_write_transaction(session: Session) -> None:
    """Begin the session's transaction as a write transaction unless one is already open.

    Callers normally open it with ``session_scope(engine, write=True)``. A deferred SQLite
    transaction that already read is still safe: its first write fails instead of acting
    on a stale view.
    """
    if not session.in_transaction():
        begin_write(session)


def current_lease(*, session: Session, reviewer: Reviewer, study: Study,
                  now: datetime | None = None) -> Assignment | None:
    """The reviewer's unexpired lease on an item of this study, if any."""
    return session.scalar(_current_lease_statement(),
                          statement_params(reviewer, study, now or utcnow()))


@lru_cache(maxsize=None)
def _current_lease_statement():  # noqa: ANN202 - Select
    return (select(Assignment).join(Comparison, Comparison.id == Assignment.comparison_id)
            .where(Comparison.study_id == STUDY_ID, Assignment.reviewer_id == REVIEWER_ID,
                   Assignment.status == "leased", Assignment.expires_at > NOW)
            .order_by(Assignment.leased_at).limit(1))


def expire_leases(*, session: Session, now: datetime, reviewer: Reviewer | None = None,
                  limit: int = REAP_BATCH) -> int:
    """Mark up to ``limit`` leases whose time ran out ``expired`` (oldest first; the reviewer's
    own ones only when ``reviewer`` is given), which takes them off their items' load. Rows
    another request holds are skipped (PostgreSQL). Returns how many."""
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _expire_statement(postgres, reviewer is not None)
    params: dict[str, Any] = {"due": now, "batch": limit}
    if reviewer is not None:
        params["owner"] = reviewer.id
    return session.execute(statement, params).rowcount or 0


@lru_cache(maxsize=None)
def _expire_statement(postgres: bool, own: bool):  # noqa: ANN202 - Update
    # (An UPDATE's parameters may not share the names of its table's columns.)
    due = (select(Assignment.id)
           .where(Assignment.status == "leased", Assignment.expires_at <= bindparam("due"))
           .order_by(Assignment.expires_at).limit(bindparam("batch")))
    if own:
        due = due.where(Assignment.reviewer_id == bindparam("owner"))
    if postgres:
        due = due.with_for_update(skip_locked=True)
    return (update(Assignment).where(Assignment.id.in_(due.scalar_subquery()))
            .values(status="expired").execution_options(synchronize_session=False))


def next_assignment(*, session: Session, reviewer: Reviewer, study: Study,
                    lease_minutes: float | None = None, now: datetime | None = None,
                    rng: random.Random | None = None) -> Assignment | None:
    """Lease the next item of ``study`` to ``reviewer``; None when there is nothing to do.

    Returns the reviewer's current unexpired lease when they hold one (a page reload
    does not burn items). Otherwise renews their own expired lease when its item still has
    room, or leases an item they never had (see the module for which), drawing the left/right
    order at random and storing it on the assignment. Paused or closed studies hand out
    nothing. Raises :class:`PermissionDenied` when the reviewer is not on the study.

    Example::

        with session_scope(engine, write=True) as session:
            assignment = next_assignment(session=session, reviewer=ana, study=study)
    """
    ensure_write_transaction(session)
    now = now or utcnow()
    rng = rng or random.SystemRandom()
    lease_minutes = lease_minutes or default_setting("lease_minutes")
    # On PostgreSQL, locking the membership row also serialises one reviewer's requests on
    # a study, so two tabs cannot take two leases.
    membership = _membership_statement(session.get_bind().dialect.name == "postgresql")
    if session.scalar(membership, statement_params(reviewer, study, now)) is None:
        raise PermissionDenied(f"{reviewer.name!r} is not assigned to this study")
    if study.status != "active":
        return None
    lease = current_lease(session=session, reviewer=reviewer, study=study, now=now)
    if lease is not None:
        return lease
    # Assignments first, items after (the lock order, see the module): the reviewer's own
    # expired leases (to renew them), and now and then a batch of anybody's.
    expire_leases(session=session, now=now, reviewer=reviewer, limit=REAP_BATCH)
    if rng.random() < 1 / REAP_EVERY:
        expire_leases(session=session, now=now)
    own = renewable(session, reviewer, study)
    if own is not None and has_room(session, own, study):
        return _lease(session, reviewer, own, now=now, lease_minutes=lease_minutes, rng=rng)
    chosen = take_next(session, reviewer, study, rng)
    if chosen is None and expire_leases(session=session, now=now, limit=REAP_BATCH * REAP_EVERY):
        chosen = take_next(session, reviewer, study, rng)  # what ran out may be open again
    if chosen is None:
        return None  # gold items only make sense while there is real work
    if study.gold_rate > 0 and rng.random() < study.gold_rate:
        chosen = gold_candidate(session, reviewer, study) or chosen  # the lock is kept: harmless
    return _lease(session, reviewer, chosen, now=now, lease_minutes=lease_minutes, rng=rng)


@lru_cache(maxsize=None)
def _membership_statement(lock: bool):  # noqa: ANN202 - Select
    query = select(StudyReviewer.id).where(StudyReviewer.study_id == STUDY_ID,
                                           StudyReviewer.reviewer_id == REVIEWER_ID)
    return query.with_for_update(key_share=True) if lock else query


def _lease(session: Session, reviewer: Reviewer, chosen: Candidate, *, now: datetime,
           lease_minutes: float, rng: random.Random) -> Assignment:
    expires_at = now + timedelta(minutes=lease_minutes)
    if chosen.renew is not None:  # the reviewer's own lease ran out: renew it, same order
        previous = chosen.renew
        previous.status = "leased"
        previous.leased_at = now
        previous.expires_at = expires_at
        previous.completed_at = None
        session.flush()
        return previous
    left = chosen.generation_a_id if rng.random() < 0.5 else chosen.generation_b_id
    assignment = Assignment(id=new_opaque_id(), comparison_id=chosen.comparison_id,
                            reviewer_id=reviewer.id, left_generation_id=left,
                            status="leased", leased_at=now, expires_at=expires_at)
    session.add(assignment)
    session.flush()
    return assignment


def own_assignment(*, session: Session, reviewer: Reviewer, assignment_id: str,
                   lock: bool = False) -> Assignment:
    """The reviewer's assignment with this id; :class:`NotFound` for anyone else's.

    ``lock=True`` locks the row on PostgreSQL (votes on one assignment are serialised).
    """
    if not isinstance(assignment_id, str) or not assignment_id or len(assignment_id) > 64:
        raise NotFound("no such assignment for you")
    query = _own_assignment_statement(lock and session.get_bind().dialect.name == "postgresql")
    assignment = session.scalar(query, {"assignment_id": assignment_id})
    if assignment is None or assignment.reviewer_id != reviewer.id:
        raise NotFound("no such assignment for you")
    return assignment


@lru_cache(maxsize=None)
def _own_assignment_statement(lock: bool):  # noqa: ANN202 - Select
    # The item and its study come with it (votes check the study's settings).
    query = (select(Assignment).where(Assignment.id == bindparam("assignment_id"))
             .options(joinedload(Assignment.comparison, innerjoin=True)
                      .joinedload(Comparison.study, innerjoin=True)))
    return query.with_for_update(key_share=True, of=Assignment) if lock else query


def is_expired(assignment: Assignment, now: datetime | None = None) -> bool:
    """True when the assignment is a lease whose time ran out (or was marked expired)."""
    now = now or utcnow()
    return assignment.status == "expired" or (
        assignment.status == "leased" and assignment.expires_at <= now)


def revisit_skipped(*, session: Session, reviewer: Reviewer, study: Study,
                    now: datetime | None = None) -> int:
    """Give the reviewer their skipped items of ``study`` back: each is served to them again
    (as an expired lease of theirs, renewed when its turn comes) unless it filled up with
    other reviewers' votes meanwhile. Returns how many were given back."""
    ensure_write_transaction(session)
    skipped = session.scalars(
        select(Assignment).join(Comparison, Comparison.id == Assignment.comparison_id)
        .where(Comparison.study_id == study.id, Assignment.reviewer_id == reviewer.id,
               Assignment.status == "skipped")).all()
    now = now or utcnow()
    for assignment in skipped:
        assignment.status, assignment.completed_at, assignment.expires_at = "expired", None, now
    session.flush()
    return len(skipped)


def skip_assignment(*, session: Session, reviewer: Reviewer, assignment_id: str,
                    now: datetime | None = None) -> Assignment:
    """Give an item back: it returns to the pool and this reviewer never gets it again."""
    ensure_write_transaction(session)
    assignment = own_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                lock=True)
    if assignment.status == "done":
        raise ReviewError("this item already has your vote; it cannot be skipped")
    if assignment.status != "skipped":
        assignment.status = "skipped"
        assignment.completed_at = now or utcnow()
        session.flush()
    return assignment
