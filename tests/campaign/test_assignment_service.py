"""Assignment and voting services: overlap, leases, no repeats, idempotent validated votes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from review.auth.permissions import require_account
from review.campaign.leases import LeaseExpired, next_assignment, skip_assignment
from review.campaign.membership import assign_reviewers, reviewer_studies
from review.campaign.progress import study_progress
from review.campaign.screen import Progress, item_view, reviewer_progress
from review.core.errors import NotFound, PermissionDenied
from review.campaign.judgments import (
    AlreadyVoted,
    InvalidVote,
    change_vote,
    last_vote,
    record_vote,
)
from review.core.models import Assignment, Judgment, Reviewer, utcnow
from review.reporting.dataset import study_judgments
from review.stats.outcomes import encode
from review.stats.reviewers import reviewer_summary
from tests.factories import make_reviewer
from tests.web.studydata import CANDIDATE, make_blind_study


def _reviewer(session, name):
    return session.scalar(select(Reviewer).where(Reviewer.name == name))


def _judge(session, reviewer, study, choice="left", now=None):
    assignment = next_assignment(session=session, reviewer=reviewer, study=study, now=now)
    assert assignment is not None
    record_vote(session=session, reviewer=reviewer, assignment_id=assignment.id, choice=choice,
                now=now)
    return assignment


def _loads_0_1_2(session):
    """A study of three items with 0, 1 and 2 judgments (items[2], items[1], items[0])."""
    study, items = make_blind_study(session, n_items=3, overlap=3,
                                    reviewers=("ana", "bo", "cy", "dee"))
    bo, cy = _reviewer(session, "bo"), _reviewer(session, "cy")
    for reviewer, item in ((bo, items[0]), (cy, items[0]), (bo, items[1])):
        assignment = Assignment(comparison_id=item.id, reviewer_id=reviewer.id,
                                left_generation_id=item.generation_a_id,
                                expires_at=utcnow() + timedelta(minutes=5))
        session.add(assignment)
        session.flush()
        record_vote(session=session, reviewer=reviewer, assignment_id=assignment.id, choice="tie")
    return study, items


def test_started_items_first_for_an_anytime_study(session):
    # The anytime verdict uses prompts with all their votes: finishing started items first
    # lets it stop early.
    study, items = _loads_0_1_2(session)
    dee = _reviewer(session, "dee")
    served = [_judge(session, dee, study).comparison_id for _ in range(3)]
    assert served == [items[0].id, items[1].id, items[2].id]  # loads 2, then 1, then 0


def test_fewest_judgments_first_for_a_fixed_look_and_no_repeats(session):
    study, items = _loads_0_1_2(session)
    study.thresholds = {"method": "fixed"}
    dee = _reviewer(session, "dee")
    served = [_judge(session, dee, study).comparison_id for _ in range(3)]
    assert served == [items[2].id, items[1].id, items[0].id]  # loads 0, then 1, then 2
    assert next_assignment(session=session, reviewer=dee, study=study) is None  # never twice
    assert len(set(served)) == 3
    assert reviewer_progress(session=session, reviewer=dee, study=study).done == 3


def test_a_reload_returns_the_same_lease(session):
    study, _ = make_blind_study(session, n_items=3)
    ana = _reviewer(session, "ana")
    first = next_assignment(session=session, reviewer=ana, study=study)
    again = next_assignment(session=session, reviewer=ana, study=study)
    assert first.id == again.id
    assert reviewer_progress(session=session, reviewer=ana, study=study).remaining == 3


def test_never_more_than_k_leases_or_judgments(session):
    study, (item,) = make_blind_study(session, n_items=1, overlap=2, reviewers=("ana", "bo", "cy"))
    ana, bo, cy = (_reviewer(session, n) for n in ("ana", "bo", "cy"))
    assert next_assignment(session=session, reviewer=ana, study=study) is not None
    assert next_assignment(session=session, reviewer=bo, study=study) is not None
    assert next_assignment(session=session, reviewer=cy, study=study) is None  # 2 leases = k
    assert reviewer_progress(session=session, reviewer=cy, study=study).remaining == 0


def test_an_expired_lease_returns_the_item_to_the_pool(session):
    study, (item,) = make_blind_study(session, n_items=1, overlap=1, reviewers=("ana", "bo"))
    ana, bo = _reviewer(session, "ana"), _reviewer(session, "bo")
    now = utcnow()
    lease = next_assignment(session=session, reviewer=ana, study=study, lease_minutes=10, now=now)
    assert next_assignment(session=session, reviewer=bo, study=study, now=now) is None
    later = now + timedelta(minutes=11)
    taken = next_assignment(session=session, reviewer=bo, study=study, now=later)
    assert taken is not None and taken.comparison_id == item.id
    with pytest.raises(LeaseExpired):
        record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="left", now=later)
    record_vote(session=session, reviewer=bo, assignment_id=taken.id, choice="right", now=later)
    assert session.scalar(select(func.count(Judgment.id))) == 1


def test_an_expired_lease_of_ones_own_is_renewed_with_the_same_order(session):
    study, _ = make_blind_study(session, n_items=1, overlap=1)
    ana = _reviewer(session, "ana")
    now = utcnow()
    lease = next_assignment(session=session, reviewer=ana, study=study, lease_minutes=1, now=now)
    left = lease.left_generation_id
    renewed = next_assignment(session=session, reviewer=ana, study=study, now=now + timedelta(minutes=2))
    assert renewed.id == lease.id and renewed.left_generation_id == left
    assert renewed.status == "leased" and renewed.expires_at > now + timedelta(minutes=2)


def test_skipped_items_go_back_to_the_pool_but_not_to_the_skipper(session):
    study, (item,) = make_blind_study(session, n_items=1, overlap=1, reviewers=("ana", "bo"))
    ana, bo = _reviewer(session, "ana"), _reviewer(session, "bo")
    lease = next_assignment(session=session, reviewer=ana, study=study)
    skip_assignment(session=session, reviewer=ana, assignment_id=lease.id)
    assert next_assignment(session=session, reviewer=ana, study=study) is None
    assert next_assignment(session=session, reviewer=bo, study=study).comparison_id == item.id
    with pytest.raises(Exception, match="skipped"):
        record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="left")


def test_paused_studies_and_outsiders_get_nothing(session):
    study, _ = make_blind_study(session, n_items=2)
    ana = _reviewer(session, "ana")
    outsider = make_reviewer(session, "zed")
    with pytest.raises(PermissionDenied):
        next_assignment(session=session, reviewer=outsider, study=study)
    study.status = "paused"
    session.flush()
    assert next_assignment(session=session, reviewer=ana, study=study) is None
    assert reviewer_progress(session=session, reviewer=ana, study=study).remaining == 0


def test_left_right_order_is_drawn_per_assignment_and_stored(session):
    reviewers = tuple(f"r{i}" for i in range(12))
    study, (item,) = make_blind_study(session, n_items=1, overlap=12, reviewers=reviewers)
    rng = random.Random(7)
    lefts = set()
    for name in reviewers:
        reviewer = _reviewer(session, name)
        lease = next_assignment(session=session, reviewer=reviewer, study=study, rng=rng)
        view = item_view(session=session, reviewer=reviewer, assignment_id=lease.id)
        left_output = session.get(type(item.generation_a), lease.left_generation_id).output
        assert view.left == left_output  # what is shown on the left is what is stored
        lefts.add(lease.left_generation_id)
        judgment = record_vote(session=session, reviewer=reviewer, assignment_id=lease.id,
                               choice="left")
        assert judgment.left_generation_id == lease.left_generation_id
    assert lefts == {item.generation_a_id, item.generation_b_id}


def test_votes_are_validated_idempotent_and_owned(session):
    study, _ = make_blind_study(session, n_items=2, reviewers=("ana", "bo"))
    ana, bo = _reviewer(session, "ana"), _reviewer(session, "bo")
    lease = next_assignment(session=session, reviewer=ana, study=study)
    for bad in ({"choice": "candidate"}, {"choice": "tie", "strength": 2},
                {"choice": "left", "strength": 4}, {"choice": "left", "strength": True},
                {"choice": "left", "rationale": "x" * 5000}):
        with pytest.raises(InvalidVote):
            record_vote(session=session, reviewer=ana, assignment_id=lease.id, **bad)
    with pytest.raises(NotFound):
        record_vote(session=session, reviewer=bo, assignment_id=lease.id, choice="left")
    with pytest.raises(NotFound):
        record_vote(session=session, reviewer=ana, assignment_id="no-such-id", choice="left")

    first = record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="right",
                        strength=3, rationale="  clearer  ", now=lease.leased_at + timedelta(seconds=12.5))
    again = record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="right",
                        strength=3, rationale="clearer", now=lease.leased_at + timedelta(seconds=40))
    assert again.id == first.id and first.rationale == "clearer"
    # The seconds are the server's: from handing the item out to the vote; a retry keeps them.
    assert first.seconds == pytest.approx(12.5) and again.seconds == pytest.approx(12.5)
    with pytest.raises(AlreadyVoted):
        record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="left")
    assert session.scalar(select(func.count(Judgment.id))) == 1
    assert session.get(Assignment, lease.id).status == "done"


def test_the_unique_constraint_is_the_final_guard(session):
    study, (item,) = make_blind_study(session, n_items=1)
    ana = _reviewer(session, "ana")
    lease = next_assignment(session=session, reviewer=ana, study=study)
    # A judgment that did not come through this assignment (e.g. an import).
    session.add(Judgment(comparison_id=item.id, reviewer_id=ana.id,
                         left_generation_id=item.generation_a_id, choice="tie"))
    session.flush()
    with pytest.raises(AlreadyVoted):
        record_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="left")
    assert session.scalar(select(func.count(Judgment.id))) == 1  # the session is still usable


def test_change_vote_within_the_window_only(session):
    study, _ = make_blind_study(session, n_items=2)
    ana = _reviewer(session, "ana")
    now = utcnow()
    lease = _judge(session, ana, study, choice="left", now=now)
    assert last_vote(session=session, reviewer=ana, study=study, now=now).assignment_id == lease.id
    changed = change_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="tie",
                          now=now + timedelta(seconds=60))
    assert changed.choice == "tie" and changed.meta["changes"][0]["choice"] == "left"
    with pytest.raises(Exception, match="within"):
        change_vote(session=session, reviewer=ana, assignment_id=lease.id, choice="right",
                    now=now + timedelta(seconds=300))
    assert last_vote(session=session, reviewer=ana, now=now + timedelta(seconds=300)) is None


def test_gold_items_are_mixed_in_and_scored(session):
    study, items = make_blind_study(session, n_items=2, gold=1, gold_rate=1.0, overlap=1,
                                    reviewers=("ana", "bo"))
    gold = items[-1]
    ana = _reviewer(session, "ana")
    assert reviewer_progress(session=session, reviewer=ana, study=study).remaining == 3
    for name, correct in (("ana", True), ("bo", False)):
        reviewer = _reviewer(session, name)
        lease = next_assignment(session=session, reviewer=reviewer, study=study)
        assert lease.comparison_id == gold.id  # gold_rate 1: the gold item comes first
        # The gold label is 'a' (the candidate): vote for whichever side shows it.
        a_on_left = lease.left_generation_id == gold.generation_a_id
        choice = "left" if a_on_left == correct else "right"
        record_vote(session=session, reviewer=reviewer, assignment_id=lease.id, choice=choice)
    # The vote on the gold item counts like any other: one more done, one fewer remaining.
    assert reviewer_progress(session=session, reviewer=ana, study=study) == Progress(done=1, remaining=2)
    # Gold scoring is the statistics' (review.stats.reviewers), over the stored judgments.
    rows = reviewer_summary(encode(study_judgments(session=session, study=study)))
    scores = {row["reviewer"]: (row["n_gold"], row["gold_accuracy"]) for row in rows}
    assert scores == {"ana": (1, 1.0), "bo": (1, 0.0)}
    progress = {p.study: p for p in study_progress(session=session)}[study.name]
    assert (progress.items, progress.gold_items, progress.judgments, progress.needed) == (2, 1, 2, 2)


def test_study_labels_never_name_a_model_and_roles_are_checked(session):
    make_blind_study(session, name="plain", n_items=1)
    make_blind_study(session, name=f"{CANDIDATE}-vs-base", n_items=1, set_name="other")
    ana = _reviewer(session, "ana")
    labels = [c.label for c in reviewer_studies(session=session, reviewer=ana)]
    assert labels == ["plain", "Study 2"]
    assert require_account(session=session, name="ana").id == ana.id
    with pytest.raises(PermissionDenied):
        require_account(session=session, name="ana", action="view_results")
    with pytest.raises(PermissionDenied):
        require_account(session=session, name=None)
    ana.active = False
    with pytest.raises(PermissionDenied):
        require_account(session=session, name="ana")


def test_assign_reviewers_is_idempotent(session):
    study, _ = make_blind_study(session, n_items=1, reviewers=())
    make_reviewer(session, "ana")
    make_reviewer(session, "bo")
    assert assign_reviewers(session=session, study=study.name, reviewers=["ana", "bo"]) == ["ana", "bo"]
    assert assign_reviewers(session=session, study=study.name, reviewers=["ana"]) == []
    with pytest.raises(Exception, match="no reviewer named 'zed'"):
        assign_reviewers(session=session, study=study.name, reviewers=["zed"])
    with pytest.raises(Exception, match="no study"):
        assign_reviewers(session=session, study="nope", reviewers=["ana"])
