"""Which item a reviewer sees next: overlap, leases, no repeats, gold items.

Every item (a :class:`~review.core.models.Comparison`) of a study needs ``study.overlap`` (k)
judgments. An item's *load* is its judgments plus its unexpired leases; for a study decided
by the anytime method the items already started are served first (prompts complete early, so
the verdict can stop early), for a fixed look the items with the lowest load (see
:func:`serves_started_items_first`); an item whose load has reached k is never handed out,
so no item collects more than k judgments. A lease (an :class:`~review.core.models.Assignment`)
expires after ``lease_minutes``: an abandoned item goes back to the pool without any
clean-up job, because only unexpired leases count.

The "never more than k" rule is enforced by the database, not only by Python checks:

* on PostgreSQL the chosen item's row is locked (``SELECT ... FOR NO KEY UPDATE SKIP
  LOCKED``) and its load counted again under the lock before the lease is written;
  concurrent requests skip locked rows and take the next candidate, retrying briefly
  before they answer "nothing to do". This relies on PostgreSQL's default READ COMMITTED
  isolation, where the recount sees every lease committed before the lock was granted.
* on SQLite the whole request is one write transaction (``BEGIN IMMEDIATE``), so requests
  are serialised.

Gold items (``Comparison.gold_label`` set) are attention checks: they are mixed in at
``study.gold_rate`` while ordinary work remains, each reviewer sees each gold item at most
once, and they are not capped by the overlap (every reviewer can be scored on them).

A study that uses a model judge under a human budget (:mod:`review.campaign.selection`)
hands out only the items drawn for people, those the judge is least sure of first.
Nothing a reviewer is shown tells them apart from other items, progress figures included.

A reviewer never gets an item they judged or skipped, until they ask for their skipped
items again (:func:`revisit_skipped`). A lease of theirs that expired is
renewed rather than duplicated (the database allows one assignment per reviewer and item),
with the same left/right order as before.

Every service takes the session keyword-only and leaves the transaction to the caller::

    with session_scope(engine, write=True) as session:
        assignment = next_assignment(session=session, reviewer=ana, study=study)
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, desc, exists, func, select
from sqlalchemy.orm import Session, joinedload

from review.core.config import default_setting
from review.core.db import begin_write
from review.core.errors import NotFound, PermissionDenied, ReviewError
from review.core.models import (
    Assignment,
    Comparison,
    Judgment,
    Reviewer,
    Study,
    StudyReviewer,
    new_opaque_id,
    utcnow,
)
from review.stats.decision import decision_method

# How many lowest-load candidates a request considers before giving up on locked rows.
CANDIDATE_WINDOW = 16
# Rounds of retrying items that other requests were leasing, before answering "nothing".
CLAIM_RETRIES = 8


def serves_started_items_first(study: Study) -> bool:
    """Which items come first: for a study decided by the anytime method (the default), items
    already started, so that prompts complete early and the verdict can stop early (its
    confidence sequence uses prompts with all their votes); for a fixed look, the items with
    the fewest judgments, spreading votes evenly. Ties are broken at random either way."""
    return decision_method(study.thresholds) == "anytime"


class LeaseExpired(ReviewError):
    """The lease ran out before the vote arrived; the item went back to the pool."""


# The statements a reviewer's every request runs are built once, with these parameters
# bound at execution: building a SQL expression costs more CPU than running it.
REVIEWER_ID, STUDY_ID, NOW, OVERLAP = (bindparam("reviewer_id"), bindparam("study_id"),
                                       bindparam("now"), bindparam("overlap"))


def statement_params(reviewer: Reviewer, study: Study, now: datetime) -> dict[str, Any]:
    """The values of :data:`REVIEWER_ID`, :data:`STUDY_ID`, :data:`NOW` and :data:`OVERLAP`."""
    return {"reviewer_id": reviewer.id, "study_id": study.id, "now": now, "overlap": study.overlap}


def ensure_write_transaction(session: Session) -> None:
    """Begin the session's transaction as a write transaction unless one is already open.

    Callers normally open it with ``session_scope(engine, write=True)``. A deferred SQLite
    transaction that already read is still safe: its first write fails instead of acting
    on a stale view.
    """
    if not session.in_transaction():
        begin_write(session)


def _load(comparison_id: Any, now: datetime):  # noqa: ANN202 - SQL expression
    """One item's load: judgments plus unexpired leases."""
    judged = (select(func.count(Judgment.id)).where(Judgment.comparison_id == comparison_id)
              .scalar_subquery())
    leased = (select(func.count(Assignment.id))
              .where(Assignment.comparison_id == comparison_id, Assignment.status == "leased",
                     Assignment.expires_at > now)
              .scalar_subquery())
    return judged + leased


def open_items():  # noqa: ANN202 - Select
    """Regular items of the study still under k and open to this reviewer, with their load
    (parameters :data:`REVIEWER_ID`, :data:`STUDY_ID`, :data:`NOW`, :data:`OVERLAP`).

    Correlated counts over the (comparison_id, ...) unique indexes: a few index probes per
    item, which both SQLite and PostgreSQL plan well without fresh table statistics.
    """
    load = _load(Comparison.id, NOW).label("load")
    return (select(Comparison.id, load)
            .where(Comparison.study_id == STUDY_ID, Comparison.gold_label.is_(None),
                   Comparison.human_selected.is_(True), open_to(REVIEWER_ID),
                   load < OVERLAP))


def open_to(reviewer_id: Any):  # noqa: ANN202 - SQL expression
    """Items this reviewer has not judged, skipped, or leased (a lease of theirs may be expired)."""
    handled = exists().where(
        Assignment.comparison_id == Comparison.id, Assignment.reviewer_id == reviewer_id,
        Assignment.status.in_(("done", "skipped")))
    judged = exists().where(Judgment.comparison_id == Comparison.id,
                            Judgment.reviewer_id == reviewer_id)
    return and_(~handled, ~judged)


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


@dataclass(frozen=True)
class _Candidate:
    comparison_id: int
    generation_a_id: int
    generation_b_id: int
    renew: bool  # the reviewer holds an expired lease on it


def _candidate_columns(reviewer_id: Any) -> tuple:
    mine = exists().where(Assignment.comparison_id == Comparison.id,
                          Assignment.reviewer_id == reviewer_id)
    return (Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id,
            mine.label("renew"))


def _regular_candidates(session: Session, reviewer: Reviewer, study: Study,
                        now: datetime) -> list[_Candidate]:
    query = _candidates_statement(serves_started_items_first(study), study.human_budget is not None)
    return [_Candidate(row[0], row[2], row[3], bool(row[4]))
            for row in session.execute(query, statement_params(reviewer, study, now))]


@lru_cache(maxsize=None)
def _candidates_statement(started_first: bool, judge_order: bool):  # noqa: ANN202 - Select
    # Ordering by the label reuses the computed load instead of counting again.
    load = desc("load") if started_first else "load"
    # Under active selection, the items the judge is least sure of (drawn with the highest
    # probability) come first.
    order = (Comparison.human_probability.desc(), load) if judge_order else (load,)
    return (open_items().add_columns(*_candidate_columns(REVIEWER_ID)[1:])
            .order_by(*order, func.random()).limit(CANDIDATE_WINDOW))


def _gold_candidate(session: Session, reviewer: Reviewer, study: Study) -> _Candidate | None:
    row = session.execute(
        select(*_candidate_columns(reviewer.id))
        .where(Comparison.study_id == study.id, Comparison.gold_label.is_not(None),
               open_to(reviewer.id))
        .order_by(func.random()).limit(1)
    ).first()
    return _Candidate(row[0], row[1], row[2], bool(row[3])) if row else None


def _claim(session: Session, candidates: list[_Candidate], study: Study,
           now: datetime) -> _Candidate | None:
    """The first candidate whose load is still under k, locked; None when all are full."""
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: this transaction holds the database's write lock, the loads just read
        # cannot have changed.
        return candidates[0] if candidates else None
    busy = candidates
    for attempt in range(CLAIM_RETRIES + 1):
        if attempt:
            time.sleep(0.002 * attempt)  # let the requests holding them commit
        still_busy = []
        for candidate in busy:
            room = _lock_if_room(session, candidate.comparison_id, study, now)
            if room:
                return candidate
            if room is None:
                still_busy.append(candidate)
        if not still_busy:
            return None
        busy = still_busy
    return None


def _lock_if_room(session: Session, comparison_id: int, study: Study, now: datetime) -> bool | None:
    """Lock an item's row and count its load again: True (room), False (full), None (busy).

    ``FOR NO KEY UPDATE SKIP LOCKED``: leasing one item is serialised, requests never
    wait on each other (so they cannot deadlock), and the foreign-key checks of votes on
    the item are not blocked. The count is a new statement, so under READ COMMITTED it
    sees every lease committed before the lock was granted. The lock of a full item is
    kept until commit; it only makes other requests skip an item they could not take.
    """
    statements = _lock_statements()
    locked = session.scalar(statements[0], {"comparison_id": comparison_id})
    if locked is None:
        return None
    return session.scalar(statements[1], {"comparison_id": comparison_id, "now": now}) < study.overlap


@lru_cache(maxsize=None)
def _lock_statements() -> tuple:
    comparison_id = bindparam("comparison_id")
    return (select(Comparison.id).where(Comparison.id == comparison_id)
            .with_for_update(skip_locked=True, key_share=True),
            select(_load(comparison_id, NOW)))


def next_assignment(*, session: Session, reviewer: Reviewer, study: Study,
                    lease_minutes: float | None = None, now: datetime | None = None,
                    rng: random.Random | None = None) -> Assignment | None:
    """Lease the next item of ``study`` to ``reviewer``; None when there is nothing to do.

    Returns the reviewer's current unexpired lease when they hold one (a page reload
    does not burn items). Otherwise leases the item with the fewest judgments plus
    active leases that the reviewer has not seen, drawing the left/right order at
    random and storing it on the assignment. Paused or closed studies hand out nothing.
    Raises :class:`PermissionDenied` when the reviewer is not on the study.

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

    candidates = _regular_candidates(session, reviewer, study, now)
    if not candidates:
        return None  # gold items only make sense while there is real work
    chosen = None
    if study.gold_rate > 0 and rng.random() < study.gold_rate:
        chosen = _gold_candidate(session, reviewer, study)
    if chosen is None:
        chosen = _claim(session, candidates, study, now)
    if chosen is None:
        return None
    return _lease(session, reviewer, chosen, now=now, lease_minutes=lease_minutes, rng=rng)


@lru_cache(maxsize=None)
def _membership_statement(lock: bool):  # noqa: ANN202 - Select
    query = select(StudyReviewer.id).where(StudyReviewer.study_id == STUDY_ID,
                                           StudyReviewer.reviewer_id == REVIEWER_ID)
    return query.with_for_update(key_share=True) if lock else query


def _lease(session: Session, reviewer: Reviewer, chosen: _Candidate, *, now: datetime,
           lease_minutes: float, rng: random.Random) -> Assignment:
    expires_at = now + timedelta(minutes=lease_minutes)
    if chosen.renew:  # the reviewer's own lease ran out: renew it, same order
        previous = session.scalar(select(Assignment).where(
            Assignment.comparison_id == chosen.comparison_id, Assignment.reviewer_id == reviewer.id))
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
