"""The reviewer's screen: the item on screen (prompt and two blinded answers), their progress
on the study and its guidelines, as one service used by the web page and the API alike.

:func:`next_screen` is the "what do I see now" flow: the reviewer's study (by label), their
current lease or the next item (:func:`review.campaign.leases.next_assignment`), then the
screen. It ends its writes with :func:`review.core.db.finish_writes`, so on SQLite the
database's single write lock is free again while the screen is read.

Example::

    with database.session(write=True) as session:
        screen = next_screen(session=session, reviewer=ana, study_label=None)
        screen.item.left, screen.item.right, screen.progress.remaining
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, aliased

from review.campaign.boilerplate import strip_for_model
from review.campaign.leases import next_assignment
from review.campaign.queue import (
    NOW,
    OVERLAP,
    REMAINING_CAP,
    REVIEWER_ID,
    STUDY_ID,
    handled_by,
    open_items,
    statement_params,
)
from review.campaign.membership import study_for_reviewer
from review.core.db import finish_writes
from review.core.errors import NotFound
from review.core.models import (
    Assignment,
    Comparison,
    Generation,
    Judgment,
    Prompt,
    Reviewer,
    Study,
    StudyReviewer,
    utcnow,
)


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
    reference: str | None = None  # the prompt's reference answer, when it has one


@dataclass(frozen=True)
class Progress:
    """A reviewer's progress on a study: votes cast, items still available to them (counted up
    to :data:`review.campaign.queue.REMAINING_CAP`: ``capped`` when there are at least that
    many) and items they skipped."""

    done: int
    remaining: int
    skipped: int = 0
    capped: bool = False


def item_view(*, session: Session, reviewer: Reviewer, assignment_id: str) -> ItemView:
    """The blinded content of one of the reviewer's assignments (prompt and answers), each
    answer without the boilerplate its study strips from its model's answers."""
    if not isinstance(assignment_id, str) or not assignment_id or len(assignment_id) > 64:
        raise NotFound("no such assignment for you")
    row = session.execute(_item_statement(), {"assignment_id": assignment_id,
                                              "reviewer_id": reviewer.id}).one_or_none()
    if row is None:
        raise NotFound("no such assignment for you")
    (left_id, status, a_id, prompt_messages, output_a, output_b, reference,
     study_id, model_a, model_b) = row
    study = session.get(Study, study_id)  # already loaded by the caller: no query
    # Boilerplate the study strips from a model's answers (review.campaign.boilerplate).
    output_a, output_b = (strip_for_model(study, model_a, output_a),
                          strip_for_model(study, model_b, output_b))
    left, right = (output_a, output_b) if left_id == a_id else (output_b, output_a)
    messages = [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))}
                for m in prompt_messages or []]
    return ItemView(assignment_id=assignment_id, messages=messages, left=left, right=right,
                    status=status, reference=reference or None)


@lru_cache(maxsize=None)
def _item_statement():  # noqa: ANN202 - Select, built once (see review.campaign.leases)
    gen_a, gen_b = aliased(Generation), aliased(Generation)
    return (select(Assignment.left_generation_id, Assignment.status, Comparison.generation_a_id,
                   Prompt.messages, gen_a.output, gen_b.output, Prompt.reference,
                   Comparison.study_id, gen_a.model_id, gen_b.model_id)
            .join(Comparison, Comparison.id == Assignment.comparison_id)
            .join(Prompt, Prompt.id == Comparison.prompt_id)
            .join(gen_a, gen_a.id == Comparison.generation_a_id)
            .join(gen_b, gen_b.id == Comparison.generation_b_id)
            .where(Assignment.id == bindparam("assignment_id"), Assignment.reviewer_id == REVIEWER_ID))


def reviewer_progress(*, session: Session, reviewer: Reviewer, study: Study,
                      now: datetime | None = None) -> Progress:
    """Votes this reviewer cast in the study, and items still open to them (their lease included).

    Gold items they have not seen count as remaining while ordinary work remains (that
    is when they are served), so the figures never single a gold item out. One round trip
    that reads the membership's counters and at most :data:`REMAINING_CAP` open items.
    """
    params = {**statement_params(reviewer, study, now or utcnow()), "cap": REMAINING_CAP}
    done, skipped, available, renewable, leased, gold = session.execute(
        _progress_statement(), params).one()
    available = (available or 0) + renewable
    capped = available >= REMAINING_CAP
    if study.status != "active":
        remaining = 0
    else:
        remaining = available + leased + (gold if available and study.gold_rate > 0 else 0)
    return Progress(done=done or 0, remaining=remaining, skipped=skipped or 0,
                    capped=capped and study.status == "active")


@lru_cache(maxsize=None)
def _progress_statement():  # noqa: ANN202 - Select, built once (see review.campaign.leases)
    membership = (select(StudyReviewer.done, StudyReviewer.skipped)
                  .where(StudyReviewer.study_id == STUDY_ID, StudyReviewer.reviewer_id == REVIEWER_ID))
    available = select(func.count()).select_from(open_items().limit(bindparam("cap")).subquery())
    renewable = (select(func.count(Assignment.id))
                 .join(Comparison, Comparison.id == Assignment.comparison_id)
                 .where(Assignment.reviewer_id == REVIEWER_ID, Assignment.status == "expired",
                        Comparison.study_id == STUDY_ID, Comparison.load < OVERLAP))
    leased = (select(func.count(Assignment.id))
              .join(Comparison, Comparison.id == Assignment.comparison_id)
              .where(Comparison.study_id == STUDY_ID, Assignment.reviewer_id == REVIEWER_ID,
                     Assignment.status == "leased", Assignment.expires_at > NOW))
    gold = (select(func.count(Comparison.id))
            .where(Comparison.study_id == STUDY_ID, Comparison.gold_label.is_not(None),
                   ~handled_by(REVIEWER_ID)))
    return select(membership.with_only_columns(StudyReviewer.done).scalar_subquery(),
                  membership.with_only_columns(StudyReviewer.skipped).scalar_subquery(),
                  available.scalar_subquery(), renewable.scalar_subquery(),
                  leased.scalar_subquery(), gold.scalar_subquery())


@dataclass(frozen=True)
class Screen:
    """Everything a reviewer's page shows for one study.

    ``item`` is None when there is nothing to review (done, or the study is paused);
    ``mode`` is ``vote`` for a new vote and ``change`` when a vote is being changed, with
    ``previous_choice``, ``previous_strength`` and ``previous_rationale`` the vote being
    changed (the page starts from them, so a change keeps what it does not touch).
    """

    study: Study
    reviewer: str
    item: ItemView | None
    progress: Progress
    mode: str = "vote"
    previous_choice: str | None = None
    previous_strength: int | None = None
    previous_rationale: str | None = None

    @property
    def paused(self) -> bool:
        return self.study.status != "active"

    @property
    def notice(self) -> str | None:
        """Why there is no item although the study is not done (the page and the API show it);
        None otherwise. One home for the reasons a study holds its items back."""
        if self.item is not None:
            return None
        if self.paused:
            return "This study is paused."
        return None


def screen_for(*, session: Session, reviewer: Reviewer, study: Study,
               assignment_id: str | None, mode: str = "vote",
               previous_choice: str | None = None) -> Screen:
    """The screen of one of the reviewer's assignments (or of no item) in ``study``."""
    progress = reviewer_progress(session=session, reviewer=reviewer, study=study)
    item = (item_view(session=session, reviewer=reviewer, assignment_id=assignment_id)
            if assignment_id is not None else None)
    return Screen(study=study, reviewer=reviewer.name, item=item, progress=progress, mode=mode,
                  previous_choice=previous_choice)


def assignment_screen(*, session: Session, reviewer: Reviewer, assignment_id: str) -> Screen:
    """The screen of one of the reviewer's assignments, read again (no lease is taken):
    ``change`` mode when it holds their vote, ``vote`` otherwise. :class:`NotFound` for an id
    that is not theirs."""
    from review.campaign.leases import own_assignment

    assignment = own_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id)
    return screen_for(session=session, reviewer=reviewer, study=assignment.comparison.study,
                      assignment_id=assignment.id,
                      mode="change" if assignment.status == "done" else "vote")


def next_screen(*, session: Session, reviewer: Reviewer, study_label: str | None,
                lease_minutes: float | None = None, study: Study | None = None) -> Screen:
    """The reviewer's current item in the study labelled ``study_label`` (their first study
    when None; or ``study``, one of theirs already loaded), leasing the next one when they
    hold none; the item is None when done.

    Call it in a write session; it commits its lease before reading on (see the module).
    """
    if study is None:
        study = study_for_reviewer(session=session, reviewer=reviewer, label=study_label)
    lease = next_assignment(session=session, reviewer=reviewer, study=study,
                            lease_minutes=lease_minutes)
    finish_writes(session)
    return screen_for(session=session, reviewer=reviewer, study=study,
                      assignment_id=lease.id if lease is not None else None)


def change_screen(*, session: Session, reviewer: Reviewer, study_label: str | None) -> Screen | None:
    """The screen of the reviewer's last vote in the study, to change it; None when no vote
    of theirs can still be changed (see :data:`review.campaign.judgments.CHANGE_WINDOW_SECONDS`)."""
    from review.campaign.judgments import last_vote

    study = study_for_reviewer(session=session, reviewer=reviewer, label=study_label)
    previous = last_vote(session=session, reviewer=reviewer, study=study)
    if previous is None:
        return None
    screen = screen_for(session=session, reviewer=reviewer, study=study,
                        assignment_id=previous.assignment_id, mode="change",
                        previous_choice=previous.choice)
    return replace(screen, previous_strength=previous.strength,
                   previous_rationale=previous.rationale)


# What a screen is for: a new vote, or changing the reviewer's last vote.
SCREEN_MODES = ("vote", "change")


@dataclass(frozen=True)
class Outcome:
    """What one action of a reviewer did, and their screen after it.

    ``action`` is ``recorded`` (a new vote), ``changed`` (a vote changed), ``skipped`` (an item
    given back) or ``kept`` (a change abandoned: the vote stays as it was); ``judgment`` is
    the vote recorded or changed (None otherwise).
    """

    action: str
    screen: Screen
    judgment: Judgment | None = None


def submit_vote(*, session: Session, reviewer: Reviewer, assignment_id: str, choice: str,
                strength: int | None = None, rationale: str | None = None, mode: str = "vote",
                lease_minutes: float | None = None) -> Outcome:
    """The reviewer's vote on the assignment on their screen, then their next screen in the
    same study: one service for the page and the API.

    ``mode`` is the screen's (:attr:`Screen.mode`): ``vote`` records a new vote
    (:func:`review.campaign.judgments.record_vote`, timed by the server's clock), ``change``
    changes their vote on it within the change window
    (:func:`review.campaign.judgments.change_vote`). Call it in a write session.

    Example::

        outcome = submit_vote(session=session, reviewer=ana, assignment_id=item.assignment_id,
                              choice="left", strength=2)
        outcome.judgment.seconds, outcome.screen.item
    """
    from review.campaign.judgments import InvalidVote, change_vote, record_vote

    if mode not in SCREEN_MODES:
        raise InvalidVote(f"unknown mode {mode!r}: expected one of {', '.join(SCREEN_MODES)}")
    act = change_vote if mode == "change" else record_vote
    judgment = act(session=session, reviewer=reviewer, assignment_id=assignment_id, choice=choice,
                   strength=strength, rationale=rationale)
    study = judgment.comparison.study  # loaded with the vote: no query
    screen = next_screen(session=session, reviewer=reviewer, study_label=None, study=study,
                         lease_minutes=lease_minutes)
    return Outcome(action="changed" if mode == "change" else "recorded", screen=screen,
                   judgment=judgment)


def skip_item(*, session: Session, reviewer: Reviewer, assignment_id: str, mode: str = "vote",
              lease_minutes: float | None = None) -> Outcome:
    """Give the item on the reviewer's screen back without a vote (it is counted as skipped and
    can be reviewed again later), or, on a ``change`` screen, keep the vote as it was; then
    their next screen in the same study."""
    from review.campaign.leases import own_assignment, skip_assignment

    if mode == "change":
        study = own_assignment(session=session, reviewer=reviewer,
                               assignment_id=assignment_id).comparison.study
        action = "kept"
    else:
        study = skip_assignment(session=session, reviewer=reviewer,
                                assignment_id=assignment_id).comparison.study
        action = "skipped"
    return Outcome(action=action, screen=next_screen(session=session, reviewer=reviewer,
                                                     study_label=None, study=study,
                                                     lease_minutes=lease_minutes))


def revisit_skipped_items(*, session: Session, reviewer: Reviewer, study_label: str | None,
                          lease_minutes: float | None = None) -> tuple[int, Screen]:
    """Put the reviewer's skipped items of the study back in their queue; returns how many,
    and their next screen."""
    from review.campaign.leases import revisit_skipped

    study = study_for_reviewer(session=session, reviewer=reviewer, label=study_label)
    count = revisit_skipped(session=session, reviewer=reviewer, study=study)
    return count, next_screen(session=session, reviewer=reviewer, study_label=None, study=study,
                              lease_minutes=lease_minutes)
