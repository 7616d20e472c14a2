"""Recording votes: validated, idempotent, one per reviewer and item, timed by the server.

A vote is cast on an *assignment* (the opaque id the reviewer was shown), never on a
comparison or a generation directly: the assignment says which answer was on the left,
and that is what the judgment stores. Choices are positional (``left`` | ``right`` |
``tie`` | ``both_bad``, :mod:`review.stats.choices`); mapping them to the candidate and
baseline is the statistics' job (see :mod:`review.stats.outcomes`).

* The seconds stored with a vote are the server's: from the moment the item was handed out
  (the lease's start, renewed when the item is served again) to the vote. No figure a client
  sends is stored or checked; a vote counts only once the item was on screen for the study's
  minimum by that clock.
* Re-sending the same vote for the same assignment returns the stored judgment (a double
  click or a retried request is not an error and never a duplicate).
* A different vote on an item already voted is refused; :func:`change_vote` changes it
  within :data:`CHANGE_WINDOW_SECONDS`.
* The database's unique constraint on (comparison, reviewer) is the final guard.

Example::

    with session_scope(engine, write=True) as session:
        judgment = record_vote(session=session, reviewer=ana, assignment_id=lease.id,
                               choice="left", strength=2, rationale="more accurate")
"""

from __future__ import annotations

import math

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from review.campaign.leases import (
    LeaseExpired,
    ensure_write_transaction,
    is_expired,
    own_assignment,
)
from review.core.errors import ReviewError
from review.core.models import Assignment, Comparison, Judgment, Reviewer, Study, utcnow
from review.stats.choices import CHOICES, STRENGTHS, takes_strength

MAX_RATIONALE_LENGTH = 4000
CHANGE_WINDOW_SECONDS = 120.0
# A vote counts only once its item was on screen this long (seconds, per study in
# ``Study.meta``): a double key press cannot vote on an item nobody read. Studies made by
# ``review pair``, the watcher and the demo start at DEFAULT_MIN_SECONDS; others at 0.
MIN_SECONDS_KEY = "min_seconds_on_screen"
DEFAULT_MIN_SECONDS = 1.0


def change_window_words(window_seconds: float = CHANGE_WINDOW_SECONDS) -> str:
    """The change window as people read it.

    Example:
        >>> change_window_words(), change_window_words(90)
        ('2 minutes', '90 seconds')
    """
    if window_seconds >= 60 and window_seconds % 60 == 0:
        minutes = int(window_seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{window_seconds:g} seconds"


class InvalidVote(ReviewError):
    """The vote itself is malformed (unknown choice, strength out of range, ...)."""


class TooFast(InvalidVote):
    """The item was not on screen long enough to have been read."""


class AlreadyVoted(ReviewError):
    """The reviewer already voted differently on this item."""


def _validate(choice: str, strength: int | None,
              rationale: str | None) -> tuple[str, int | None, str | None]:
    if choice not in CHOICES:
        raise InvalidVote(f"unknown choice {choice!r}: expected one of {', '.join(CHOICES)}")
    if strength is not None:
        if isinstance(strength, bool) or not isinstance(strength, int | float) \
                or not math.isfinite(strength) or int(strength) != strength \
                or int(strength) not in STRENGTHS:
            words = [f"{value} ({word})" for value, word in STRENGTHS.items()]
            raise InvalidVote(f"strength must be {', '.join(words[:-1])} or {words[-1]}")
        strength = int(strength)
        if not takes_strength(choice):
            raise InvalidVote("a strength only goes with a vote for one answer")
    if rationale is not None:
        if not isinstance(rationale, str):
            raise InvalidVote("rationale must be text")
        rationale = rationale.strip() or None
        if rationale is not None and len(rationale) > MAX_RATIONALE_LENGTH:
            raise InvalidVote(f"rationale is limited to {MAX_RATIONALE_LENGTH} characters")
    return choice, strength, rationale


def record_vote(*, session: Session, reviewer: Reviewer, assignment_id: str, choice: str,
                strength: int | None = None, rationale: str | None = None,
                now: datetime | None = None) -> Judgment:
    """Record ``reviewer``'s vote on their assignment and mark the assignment done.

    Args:
        assignment_id: the opaque id the reviewer was shown.
        choice: ``left`` | ``right`` | ``tie`` | ``both_bad`` (as displayed).
        strength: 1..3 (slightly / clearly / much better), only with ``left`` / ``right``.
        rationale: optional free text, at most :data:`MAX_RATIONALE_LENGTH` characters.

    The judgment's ``seconds`` are the server's: ``now`` minus the lease's start.

    Returns the stored judgment; the same vote sent again returns it unchanged.
    Raises :class:`~review.core.errors.NotFound` for an unknown id or another reviewer's,
    :class:`~review.campaign.leases.LeaseExpired`, :class:`InvalidVote`, :class:`AlreadyVoted`.
    """
    choice, strength, rationale = _validate(choice, strength, rationale)
    ensure_write_transaction(session)
    now = now or utcnow()
    assignment = own_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                lock=True)
    if assignment.status == "done":
        existing = _judgment_for(session, assignment)
        if existing is not None and (existing.choice, existing.strength, existing.rationale) \
                == (choice, strength, rationale):
            return existing
        raise AlreadyVoted("you already voted on this item; change it with "
                           f"'change last vote' within {change_window_words()}")
    if assignment.status == "skipped":
        raise ReviewError("you skipped this item; it can no longer be voted on")
    if is_expired(assignment, now):
        raise LeaseExpired("this item was held for you too long and went back to the pool; "
                           "load the next item")
    minimum = float((assignment.comparison.study.meta or {}).get(MIN_SECONDS_KEY, 0.0))
    # Replicas' clocks may differ by a little: never a negative time on screen.
    shown = max(0.0, (now - assignment.leased_at).total_seconds())
    if shown < minimum:
        raise TooFast(f"this item was on screen for {shown:.1f} s: read both answers first "
                      f"(votes count after {minimum:g} s)")

    # The item (and its study) loaded with the assignment travel with the judgment.
    judgment = Judgment(comparison=assignment.comparison, reviewer_id=reviewer.id,
                        assignment_id=assignment.id,
                        left_generation_id=assignment.left_generation_id, choice=choice,
                        strength=strength, rationale=rationale, seconds=shown, created_at=now)
    try:
        with session.begin_nested():
            session.add(judgment)
            session.flush()
    except IntegrityError:
        raise AlreadyVoted("you already voted on this item") from None
    assignment.status = "done"
    assignment.completed_at = now
    session.flush()
    return judgment


def _judgment_for(session: Session, assignment: Assignment) -> Judgment | None:
    return session.scalar(select(Judgment).where(
        Judgment.comparison_id == assignment.comparison_id,
        Judgment.reviewer_id == assignment.reviewer_id))


def change_vote(*, session: Session, reviewer: Reviewer, assignment_id: str, choice: str,
                strength: int | None = None, rationale: str | None = None,
                window_seconds: float = CHANGE_WINDOW_SECONDS,
                now: datetime | None = None) -> Judgment:
    """Change the reviewer's vote on an assignment within ``window_seconds`` of casting it.

    The previous choice is kept in the judgment's metadata (``changes``).
    """
    choice, strength, rationale = _validate(choice, strength, rationale)
    ensure_write_transaction(session)
    now = now or utcnow()
    assignment = own_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                lock=True)
    judgment = _judgment_for(session, assignment) if assignment.status == "done" else None
    if judgment is None:
        raise ReviewError("there is no vote on this item to change")
    if now - judgment.created_at > timedelta(seconds=window_seconds):
        raise ReviewError(f"a vote can only be changed within {change_window_words(window_seconds)} "
                          "of casting it")
    if (judgment.choice, judgment.strength, judgment.rationale) == (choice, strength, rationale):
        return judgment
    meta = dict(judgment.meta or {})
    meta["changes"] = [*meta.get("changes", []), {
        "at": now.isoformat(), "choice": judgment.choice, "strength": judgment.strength}]
    judgment.meta = meta
    judgment.choice, judgment.strength, judgment.rationale = choice, strength, rationale
    session.flush()
    return judgment


def last_vote(*, session: Session, reviewer: Reviewer, study: Study | None = None,
              window_seconds: float = CHANGE_WINDOW_SECONDS,
              now: datetime | None = None) -> Judgment | None:
    """The reviewer's most recent vote, if it can still be changed (cast through an assignment)."""
    now = now or utcnow()
    query = (select(Judgment).where(Judgment.reviewer_id == reviewer.id,
                                    Judgment.assignment_id.is_not(None),
                                    Judgment.created_at > now - timedelta(seconds=window_seconds))
             .order_by(Judgment.created_at.desc(), Judgment.id.desc()).limit(1))
    if study is not None:
        query = query.join(Comparison, Comparison.id == Judgment.comparison_id) \
            .where(Comparison.study_id == study.id)
    return session.scalar(query)
