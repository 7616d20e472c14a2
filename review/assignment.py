"""Which item a reviewer sees next: overlap, leases, no repeats, gold items.

Every item (a :class:`~review.models.Comparison`) of a study needs ``study.overlap`` (k)
judgments. An item's *load* is its judgments plus its unexpired leases; items with the
lowest load are served first, and an item whose load has reached k is never handed out,
so no item collects more than k judgments. A lease (an :class:`~review.models.Assignment`)
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
Nothing a reviewer is shown tells them apart from other items, progress figures included.

A reviewer never gets an item they judged or skipped. A lease of theirs that expired is
renewed rather than duplicated (the database allows one assignment per reviewer and item),
with the same left/right order as before.

Every service takes the session keyword-only and leaves the transaction to the caller::

    with session_scope(engine, write=True) as session:
        assignment = next_assignment(session=session, reviewer=ana, study=study)
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from review.db import begin_write
from review.errors import ReviewError
from review.models import (
    ROLES,
    Assignment,
    Comparison,
    Generation,
    Judgment,
    Model,
    Prompt,
    Reviewer,
    Study,
    StudyReviewer,
    new_opaque_id,
    utcnow,
)

DEFAULT_LEASE_MINUTES = 30.0
# How many lowest-load candidates a request considers before giving up on locked rows.
CANDIDATE_WINDOW = 16


class NotFound(ReviewError):
    """An assignment or study that does not exist *for this reviewer*.

    Another reviewer's assignment gets the same answer as an unknown id, so that ids
    cannot be probed.
    """


class PermissionDenied(ReviewError):
    """The account may not do this (inactive, wrong role, not on the study)."""


class LeaseExpired(ReviewError):
    """The lease ran out before the vote arrived; the item went back to the pool."""


@dataclass(frozen=True)
class StudyChoice:
    """A study as a reviewer may see it: a label that never names a model."""

    label: str
    study_id: int
    status: str


@dataclass(frozen=True)
class ItemView:
    """What a reviewer is shown for one assignment, and nothing more.

    ``left`` and ``right`` are the two answers in the order drawn for this assignment;
    nothing here says which model wrote them.
    """

    assignment_id: str
    messages: list[dict[str, str]]
    left: str
    right: str
    status: str


@dataclass(frozen=True)
class Progress:
    """A reviewer's progress on a study: votes cast and items still available to them."""

    done: int
    remaining: int


@dataclass(frozen=True)
class StudyProgress:
    """Collection progress of a study (no results: counts only)."""

    study: str
    status: str
    overlap: int
    items: int
    gold_items: int
    judgments: int
    needed: int
    reviewers: int


# --------------------------------------------------------------------------- accounts


def require_account(*, session: Session, name: str | None,
                    roles: Sequence[str] = ROLES) -> Reviewer:
    """The active account called ``name`` if its role is one of ``roles``.

    Raises :class:`PermissionDenied` otherwise (also for ``None``: not logged in).
    Called on every request, so deactivating an account takes effect immediately.
    """
    if not name:
        raise PermissionDenied("please log in")
    reviewer = session.scalar(select(Reviewer).where(Reviewer.name == name))
    if reviewer is None or not reviewer.active:
        raise PermissionDenied("this account is not active")
    if reviewer.role not in roles:
        raise PermissionDenied(f"this needs one of the roles: {', '.join(roles)}")
    return reviewer


def assign_reviewers(*, session: Session, study: str, reviewers: Sequence[str]) -> list[str]:
    """Put reviewers on a study (idempotent); returns the names that were added.

    Example::

        assign_reviewers(session=session, study="sft-vs-base", reviewers=["ana", "bo"])
    """
    study_row = session.scalar(select(Study).where(Study.name == study))
    if study_row is None:
        raise ReviewError(f"no study named {study!r}")
    if not reviewers:
        raise ReviewError("name at least one reviewer")
    rows = {r.name: r for r in session.scalars(select(Reviewer).where(Reviewer.name.in_(reviewers)))}
    missing = [name for name in reviewers if name not in rows]
    if missing:
        raise ReviewError(f"no reviewer named {', '.join(repr(m) for m in missing)}: "
                          "create accounts with `review reviewers add`")
    present = set(session.scalars(
        select(StudyReviewer.reviewer_id).where(StudyReviewer.study_id == study_row.id)))
    added = []
    for name in dict.fromkeys(reviewers):
        reviewer = rows[name]
        if reviewer.id not in present:
            session.add(StudyReviewer(study_id=study_row.id, reviewer_id=reviewer.id))
            present.add(reviewer.id)
            added.append(name)
    session.flush()
    return added


# --------------------------------------------------------------------------- studies


def reviewer_studies(*, session: Session, reviewer: Reviewer) -> list[StudyChoice]:
    """The studies this reviewer is on, labelled so that no label names a model.

    A study's name is shown unless it contains the name of a model in the study (study
    names are often "ft-v2-vs-base"); such a study is shown as "Study 1", "Study 2", ...
    (its position in this reviewer's list). ``meta["display_name"]`` overrides both.
    """
    studies = session.scalars(
        select(Study).join(StudyReviewer, StudyReviewer.study_id == Study.id)
        .where(StudyReviewer.reviewer_id == reviewer.id).order_by(Study.id)
    ).all()
    choices = []
    for position, study in enumerate(studies, start=1):
        label = (study.meta or {}).get("display_name") or study.name
        names = _model_names(session, study)
        if any(name and name.lower() in label.lower() for name in names):
            label = f"Study {position}"
        choices.append(StudyChoice(label=label, study_id=study.id, status=study.status))
    return choices


def _model_names(session: Session, study: Study) -> set[str]:
    generation_model = (
        select(Model.name).join(Generation, Generation.model_id == Model.id)
        .join(Comparison, (Comparison.generation_a_id == Generation.id)
              | (Comparison.generation_b_id == Generation.id))
        .where(Comparison.study_id == study.id).distinct()
    )
    names = set(session.scalars(generation_model))
    for model_id in (study.candidate_model_id, study.baseline_model_id):
        if model_id is not None:
            names.add(session.scalar(select(Model.name).where(Model.id == model_id)))
    return names


def study_for_reviewer(*, session: Session, reviewer: Reviewer, label: str | None) -> Study:
    """The reviewer's study with this label (their first study when ``None``).

    A label is matched against what :func:`reviewer_studies` may show for each study: its
    display name, its name, or "Study N". Only the reviewer's own studies can match, so
    this needs no model names (it runs on every request).
    """
    studies = session.scalars(
        select(Study).join(StudyReviewer, StudyReviewer.study_id == Study.id)
        .where(StudyReviewer.reviewer_id == reviewer.id).order_by(Study.id)
    ).all()
    if label is None:
        if not studies:
            raise NotFound("you are not assigned to any study yet")
        return studies[0]
    for position, study in enumerate(studies, start=1):
        if label in ((study.meta or {}).get("display_name"), study.name, f"Study {position}"):
            return study
    raise NotFound(f"no study {label!r} for you")


# --------------------------------------------------------------------------- leases


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


def _open_items(reviewer: Reviewer, study: Study, now: datetime):  # noqa: ANN202 - Select
    """Regular items of the study still under k and open to this reviewer, with their load.

    Correlated counts over the (comparison_id, ...) unique indexes: a few index probes per
    item, which both SQLite and PostgreSQL plan well without fresh table statistics.
    """
    load = _load(Comparison.id, now).label("load")
    return (select(Comparison.id, load)
            .where(Comparison.study_id == study.id, Comparison.gold_label.is_(None),
                   _open_to(reviewer.id), load < study.overlap))


def _open_to(reviewer_id: int):  # noqa: ANN202 - SQL expression
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
    now = now or utcnow()
    return session.scalar(
        select(Assignment).join(Comparison, Comparison.id == Assignment.comparison_id)
        .where(Comparison.study_id == study.id, Assignment.reviewer_id == reviewer.id,
               Assignment.status == "leased", Assignment.expires_at > now)
        .order_by(Assignment.leased_at).limit(1)
    )


@dataclass(frozen=True)
class _Candidate:
    comparison_id: int
    generation_a_id: int
    generation_b_id: int
    renew: bool  # the reviewer holds an expired lease on it


def _candidate_columns(reviewer_id: int) -> tuple:
    mine = exists().where(Assignment.comparison_id == Comparison.id,
                          Assignment.reviewer_id == reviewer_id)
    return (Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id,
            mine.label("renew"))


def _regular_candidates(session: Session, reviewer: Reviewer, study: Study,
                        now: datetime) -> list[_Candidate]:
    # Ordering by the label reuses the computed load instead of counting again.
    query = (_open_items(reviewer, study, now).add_columns(*_candidate_columns(reviewer.id)[1:])
             .order_by("load", func.random()).limit(CANDIDATE_WINDOW))
    return [_Candidate(row[0], row[2], row[3], bool(row[4])) for row in session.execute(query)]


def _gold_candidate(session: Session, reviewer: Reviewer, study: Study) -> _Candidate | None:
    row = session.execute(
        select(*_candidate_columns(reviewer.id))
        .where(Comparison.study_id == study.id, Comparison.gold_label.is_not(None),
               _open_to(reviewer.id))
        .order_by(func.random()).limit(1)
    ).first()
    return _Candidate(row[0], row[1], row[2], bool(row[3])) if row else None


# Rounds of retrying items that other requests were leasing, before answering "nothing".
CLAIM_RETRIES = 8


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
    locked = session.scalar(select(Comparison.id).where(Comparison.id == comparison_id)
                            .with_for_update(skip_locked=True, key_share=True))
    if locked is None:
        return None
    return session.scalar(select(_load(comparison_id, now))) < study.overlap


def next_assignment(*, session: Session, reviewer: Reviewer, study: Study,
                    lease_minutes: float = DEFAULT_LEASE_MINUTES, now: datetime | None = None,
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
    membership = select(StudyReviewer.id).where(StudyReviewer.study_id == study.id,
                                                StudyReviewer.reviewer_id == reviewer.id)
    if session.get_bind().dialect.name == "postgresql":
        # Locking the membership row also serialises one reviewer's requests on a study,
        # so two tabs cannot take two leases.
        membership = membership.with_for_update(key_share=True)
    if session.scalar(membership) is None:
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
    query = select(Assignment).where(Assignment.id == assignment_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    assignment = session.scalar(query)
    if assignment is None or assignment.reviewer_id != reviewer.id:
        raise NotFound("no such assignment for you")
    return assignment


def is_expired(assignment: Assignment, now: datetime | None = None) -> bool:
    """True when the assignment is a lease whose time ran out (or was marked expired)."""
    now = now or utcnow()
    return assignment.status == "expired" or (
        assignment.status == "leased" and assignment.expires_at <= now)


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


def expire_leases(*, session: Session, now: datetime | None = None) -> int:
    """Mark leases whose time ran out as ``expired``; returns how many.

    Housekeeping only: expired leases already stop counting toward an item's load.
    """
    now = now or utcnow()
    leases = session.scalars(select(Assignment).where(
        Assignment.status == "leased", Assignment.expires_at <= now)).all()
    for lease in leases:
        lease.status = "expired"
    session.flush()
    return len(leases)


def item_view(*, session: Session, reviewer: Reviewer, assignment_id: str) -> ItemView:
    """The blinded content of one of the reviewer's assignments (prompt and answers)."""
    if not isinstance(assignment_id, str) or not assignment_id or len(assignment_id) > 64:
        raise NotFound("no such assignment for you")
    gen_a, gen_b = aliased(Generation), aliased(Generation)
    row = session.execute(
        select(Assignment.left_generation_id, Assignment.status, Comparison.generation_a_id,
               Prompt.messages, gen_a.output, gen_b.output)
        .join(Comparison, Comparison.id == Assignment.comparison_id)
        .join(Prompt, Prompt.id == Comparison.prompt_id)
        .join(gen_a, gen_a.id == Comparison.generation_a_id)
        .join(gen_b, gen_b.id == Comparison.generation_b_id)
        .where(Assignment.id == assignment_id, Assignment.reviewer_id == reviewer.id)
    ).one_or_none()
    if row is None:
        raise NotFound("no such assignment for you")
    left_id, status, a_id, prompt_messages, output_a, output_b = row
    left, right = (output_a, output_b) if left_id == a_id else (output_b, output_a)
    messages = [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))}
                for m in prompt_messages or []]
    return ItemView(assignment_id=assignment_id, messages=messages, left=left, right=right,
                    status=status)


# --------------------------------------------------------------------------- progress


def reviewer_progress(*, session: Session, reviewer: Reviewer, study: Study,
                      now: datetime | None = None) -> Progress:
    """Votes this reviewer cast in the study, and items still open to them (their lease included).

    Gold items they have not seen count as remaining while ordinary work remains (that
    is when they are served), so the figures never single a gold item out.
    """
    now = now or utcnow()
    done = (select(func.count(Judgment.id)).join(Comparison, Comparison.id == Judgment.comparison_id)
            .where(Comparison.study_id == study.id, Judgment.reviewer_id == reviewer.id))
    own_lease = exists().where(
        Assignment.comparison_id == Comparison.id, Assignment.reviewer_id == reviewer.id,
        Assignment.status == "leased", Assignment.expires_at > now)
    available = select(func.count()).select_from(
        _open_items(reviewer, study, now).where(~own_lease).subquery())
    leased = (select(func.count(Assignment.id))
              .join(Comparison, Comparison.id == Assignment.comparison_id)
              .where(Comparison.study_id == study.id, Assignment.reviewer_id == reviewer.id,
                     Assignment.status == "leased", Assignment.expires_at > now))
    gold = (select(func.count(Comparison.id))
            .where(Comparison.study_id == study.id, Comparison.gold_label.is_not(None),
                   _open_to(reviewer.id), ~own_lease))
    done, available, leased, gold = session.execute(  # one round trip
        select(done.scalar_subquery(), available.scalar_subquery(), leased.scalar_subquery(),
               gold.scalar_subquery())).one()
    if study.status != "active":
        remaining = 0
    else:
        remaining = available + leased + (gold if available and study.gold_rate > 0 else 0)
    return Progress(done=done, remaining=remaining)


def study_progress(*, session: Session) -> list[StudyProgress]:
    """Items, judgments and judgments still needed for every study (for analysts)."""
    per_item = (
        select(Comparison.id.label("comparison_id"), Comparison.study_id,
               Comparison.gold_label, func.count(Judgment.id).label("n"))
        .outerjoin(Judgment, Judgment.comparison_id == Comparison.id)
        .group_by(Comparison.id, Comparison.study_id, Comparison.gold_label)
        .subquery()
    )
    rows = session.execute(select(per_item)).all()
    stats: dict[int, dict[str, int]] = {}
    studies = session.scalars(select(Study).order_by(Study.id)).all()
    overlap = {s.id: s.overlap for s in studies}
    for _, study_id, gold_label, n in rows:
        entry = stats.setdefault(study_id, {"items": 0, "gold": 0, "judgments": 0, "needed": 0})
        entry["judgments"] += n
        if gold_label is None:
            entry["items"] += 1
            entry["needed"] += max(0, overlap[study_id] - n)
        else:
            entry["gold"] += 1
    members = dict(session.execute(
        select(StudyReviewer.study_id, func.count(StudyReviewer.id)).group_by(StudyReviewer.study_id)
    ).all())
    result = []
    for study in studies:
        entry = stats.get(study.id, {"items": 0, "gold": 0, "judgments": 0, "needed": 0})
        result.append(StudyProgress(
            study=study.name, status=study.status, overlap=study.overlap, items=entry["items"],
            gold_items=entry["gold"], judgments=entry["judgments"], needed=entry["needed"],
            reviewers=members.get(study.id, 0)))
    return result
