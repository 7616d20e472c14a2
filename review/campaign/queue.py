"""Which item a reviewer gets next, read from a handful of rows whatever the study's size.

The open items of a study (regular, drawn for people, load under k, never had by this
reviewer) are read through the index ``ix_comparisons_queue`` (study, selected, load,
shuffle): first the load to serve (the lowest for a fixed look, the highest for the anytime
method, see :func:`serves_started_items_first`), then the first item of that load from a
random point of the items' random order. On PostgreSQL that read takes the row's lock
(``FOR NO KEY UPDATE SKIP LOCKED``, the usual queue pattern): concurrent requests each take
a different item without waiting on each other, and the row's load is checked again under the
lock, so no item is ever handed out beyond k. When every item of that load is held by other
requests at this instant, the next load is tried. A study under a judge's human budget serves
the items the judge is least sure of first (a bounded number: only the drawn ones).

The statements run on every request are built once, with :data:`REVIEWER_ID`,
:data:`STUDY_ID`, :data:`NOW` and :data:`OVERLAP` bound at execution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, true
from sqlalchemy.orm import Session, joinedload

from review.core.models import Assignment, Comparison, Judgment, Reviewer, Study, utcnow
from review.core.queries import regular_item
from review.stats.decision import decision_method

# "Items remaining" is counted up to this many (then shown as "100+"): the count reads at
# most this many rows, whatever the study's size (it was the costliest statement of a vote
# at 1,000).
REMAINING_CAP = 100


def serves_started_items_first(study: Study) -> bool:
    """Which items come first: for a study decided by the anytime method (the default), items
    already started, so that prompts complete early and the verdict can stop early (its
    confidence sequence uses prompts with all their votes); for a fixed look, the items with
    the fewest judgments, spreading votes evenly. Ties are broken at random either way."""
    return decision_method(study.thresholds) == "anytime"


# The statements a reviewer's every request runs are built once, with these parameters
# bound at execution: building a SQL expression costs more CPU than running it.
REVIEWER_ID, STUDY_ID, NOW, OVERLAP = (bindparam("reviewer_id"), bindparam("study_id"),
                                       bindparam("now"), bindparam("overlap"))


def statement_params(reviewer: Reviewer, study: Study, now: datetime) -> dict[str, Any]:
    """The values of :data:`REVIEWER_ID`, :data:`STUDY_ID`, :data:`NOW` and :data:`OVERLAP`."""
    return {"reviewer_id": reviewer.id, "study_id": study.id, "now": now, "overlap": study.overlap}


def handled_by(reviewer_id: Any):  # noqa: ANN202 - SQL expression
    """The reviewer had the item: an assignment of theirs (leased, done, skipped or expired) or
    a judgment (an import's, without an assignment)."""
    assigned = exists().where(Assignment.comparison_id == Comparison.id,
                              Assignment.reviewer_id == reviewer_id)
    judged = exists().where(Judgment.comparison_id == Comparison.id,
                            Judgment.reviewer_id == reviewer_id)
    return or_(assigned, judged)


def open_items():  # noqa: ANN202 - Select
    """Regular items of the study drawn for people, under k, that the reviewer never had
    (parameters :data:`REVIEWER_ID`, :data:`STUDY_ID`, :data:`OVERLAP`), in the order of the
    index ``ix_comparisons_queue``."""
    return (select(Comparison.id)
            .where(Comparison.study_id == STUDY_ID, Comparison.human_selected == true(),
                   regular_item(), Comparison.load < OVERLAP, ~handled_by(REVIEWER_ID)))


@dataclass(frozen=True)
class Candidate:
    comparison_id: int
    generation_a_id: int
    generation_b_id: int
    renew: Assignment | None = None  # the reviewer's own expired lease on it


_CANDIDATE_COLUMNS = (Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id)


def take_next(session: Session, reviewer: Reviewer, study: Study,
              rng: random.Random) -> Candidate | None:
    """The item the reviewer gets next, locked on PostgreSQL (see the module); None when
    nothing is open to them (or every open item is being taken by others this instant)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    params: dict[str, Any] = {"reviewer_id": reviewer.id, "study_id": study.id,
                              "overlap": study.overlap, "pivot": rng.random(), "bound": None}
    if study.human_budget is not None:
        row = session.execute(_judge_order_statement(postgres), params).first()
        return Candidate(*row) if row else None
    started_first = serves_started_items_first(study)
    # Usually one statement: the item of the load to serve, that load read in the same statement.
    taken = _take(session, _take_statement(started_first, None, postgres), params)
    # Every open item of that load held by others at this instant: the load is read, then the
    # next load beyond it, each tried exactly, until none is left.
    params["bound"] = None
    while taken is None:
        params["level"] = session.scalar(_level_statement(started_first, params["bound"] is not None),
                                         params)
        if params["level"] is None:
            return None
        taken = _take(session, _take_statement(started_first, True, postgres), params)
        params["bound"] = params["level"]
    return taken


def _take(session: Session, statements: tuple, params: dict[str, Any]) -> Candidate | None:
    """The first item of ``statements`` (from the random point on, then before it)."""
    for statement in statements:
        row = session.execute(statement, params).first()
        if row is not None:
            return Candidate(*row)
    return None


@lru_cache(maxsize=None)
def _level_statement(started_first: bool, bounded: bool):  # noqa: ANN202 - Select
    """The load to serve: the highest (anytime) or lowest (fixed) among open items, beyond
    ``bound`` when ``bounded``."""
    query = open_items().with_only_columns(Comparison.load)
    if bounded:
        bound = bindparam("bound")
        query = query.where(Comparison.load < bound if started_first else Comparison.load > bound)
    return query.order_by(Comparison.load.desc() if started_first else Comparison.load).limit(1)


@lru_cache(maxsize=None)
def _take_statement(started_first: bool, given_level: bool | None,
                    postgres: bool) -> tuple:  # tuple of Select
    """The first open item of a load from the random point ``pivot`` on, and before it: of
    the load ``level`` when ``given_level``, else of the load to serve read in the same
    statement (:func:`_level_statement`)."""
    pivot = bindparam("pivot")
    level = (bindparam("level") if given_level
             else _level_statement(started_first, False).scalar_subquery())
    statements = []
    for side in (Comparison.shuffle >= pivot, Comparison.shuffle < pivot):
        query = (open_items().with_only_columns(*_CANDIDATE_COLUMNS)
                 .where(Comparison.load == level, side)
                 .order_by(Comparison.shuffle).limit(1))
        statements.append(_locked(query) if postgres else query)
    return tuple(statements)


@lru_cache(maxsize=None)
def _judge_order_statement(postgres: bool):  # noqa: ANN202 - Select
    # Under active selection, the items the judge is least sure of (drawn with the highest
    # probability) come first. Only the items drawn for people: a bounded number.
    query = (open_items().with_only_columns(*_CANDIDATE_COLUMNS)
             .order_by(Comparison.human_probability.desc(), Comparison.load, Comparison.shuffle)
             .limit(1))
    return _locked(query) if postgres else query


def _locked(query):  # noqa: ANN001, ANN202 - Select
    """``query`` taking its item's row lock, skipping rows other requests hold: one item is
    leased by one request at a time, and nobody waits (so nobody deadlocks). Under READ
    COMMITTED the row's conditions (its load under k) are checked again on its latest version
    once locked."""
    return query.with_for_update(skip_locked=True, key_share=True, of=Comparison)


def renewable(session: Session, reviewer: Reviewer, study: Study) -> Candidate | None:
    """The reviewer's own expired lease (or skipped item given back) on an item still under k."""
    row = session.execute(_renewable_statement(), statement_params(reviewer, study, utcnow())).first()
    if row is None:
        return None
    assignment = row[0]
    comparison = assignment.comparison
    return Candidate(comparison.id, comparison.generation_a_id, comparison.generation_b_id,
                      renew=assignment)


@lru_cache(maxsize=None)
def _renewable_statement():  # noqa: ANN202 - Select
    return (select(Assignment).join(Comparison, Comparison.id == Assignment.comparison_id)
            .where(Assignment.reviewer_id == REVIEWER_ID, Assignment.status == "expired",
                   Comparison.study_id == STUDY_ID, Comparison.load < OVERLAP)
            .order_by(Assignment.expires_at).limit(1)
            .options(joinedload(Assignment.comparison, innerjoin=True))
            # Its status was just changed by an UPDATE the session did not track.
            .execution_options(populate_existing=True))


def gold_candidate(session: Session, reviewer: Reviewer, study: Study) -> Candidate | None:
    row = session.execute(
        select(*_CANDIDATE_COLUMNS)
        .where(Comparison.study_id == study.id, Comparison.gold_label.is_not(None),
               ~handled_by(reviewer.id))
        .order_by(func.random()).limit(1)
    ).first()
    return Candidate(*row) if row else None


def has_room(session: Session, candidate: Candidate, study: Study) -> bool:
    """Whether the candidate's item is still under k, its row locked on PostgreSQL (False when
    another request holds it)."""
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: this transaction holds the database's write lock, the loads just read
        # cannot have changed.
        return True
    return bool(_lock_if_room(session, candidate.comparison_id, study))


def _lock_if_room(session: Session, comparison_id: int, study: Study) -> bool | None:
    """Lock an item's row and read its load again: True (room), False (full), None (busy).

    ``FOR NO KEY UPDATE SKIP LOCKED``: leasing one item is serialised, requests never
    wait on each other (so they cannot deadlock), and the foreign-key checks of votes on
    the item are not blocked. The lock of a full item is kept until commit; it only makes
    other requests skip an item they could not take.
    """
    load = session.scalar(_lock_statement(), {"comparison_id": comparison_id})
    if load is None:
        return None
    return load < study.overlap


@lru_cache(maxsize=None)
def _lock_statement():  # noqa: ANN202 - Select
    return (select(Comparison.load).where(Comparison.id == bindparam("comparison_id"))
            .with_for_update(skip_locked=True, key_share=True))


