"""A reviewer's day in headless Chromium: reference answers, changing a vote without losing its
strength and reason, a vote refused as too fast keeping the form, the phone's scroll position
after a vote, changing the last vote from the "all done" screen, long answers read in full.

Voting is choose, then submit: a choice button selects, "Submit vote" (or Enter) records.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from review.campaign.judgments import MIN_SECONDS_KEY
from review.core.db import session_scope
from review.core.models import Prompt
from tests.web.conftest import (
    judgments_of,
    migrated_session,
    open_logged_in,
    running_server,
)
from tests.web.studydata import make_blind_study

LONG = "\n\n".join(f"Paragraph {i}: " + "words " * 30 for i in range(60)) + "\n\nTHE-VERY-END"
PHONE = {"width": 390, "height": 844}



@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        # "day": a reference on every prompt, long answers, and a 1 s minimum on screen.
        study, _ = make_blind_study(session, name="day", n_items=3, overlap=5,
                                    reviewers=("ana", "bo", "cy", "dee", "eve"),
                                    outputs={i: (f"First {i}.\n\n{LONG}", f"Second {i}.\n\n{LONG}")
                                             for i in range(3)})
        study.meta = {MIN_SECONDS_KEY: 1.0}
        for prompt in session.scalars(select(Prompt).where(Prompt.prompt_set_id == study.prompt_set_id)):
            prompt.reference = f"REFERENCE-{prompt.external_id}: the expected answer."
    with running_server(database_url) as running:
        yield running


def _open(browser, server, name, viewport=None):
    return open_logged_in(browser, server, name, viewport=viewport or {"width": 1280, "height": 800},
                          ready="#answer-a .answer-body")


def _vote(page, button: str) -> None:
    """Choose with ``button`` (its elem_id), then submit."""
    page.locator(button).click()
    page.locator("#submit-vote").click()


def test_the_reference_answer_is_shown_beside_the_answers(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, dialogs = _open(chromium_browser, server, "ana")
    try:
        expect(page.locator("#reference")).to_contain_text("Reference answer")
        expect(page.locator("#reference")).to_contain_text("REFERENCE-p")
        assert page.locator("#reference details").get_attribute("open") is not None
        assert dialogs == []
    finally:
        context.close()


def test_changing_a_vote_keeps_its_strength_and_reason(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "bo")
    try:
        page.wait_for_timeout(1100)
        page.get_by_label("clearly").check()
        page.locator("#rationale textarea").fill("A cites the manual")
        _vote(page, "#vote-left")
        expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better (clearly)",
                                                        timeout=10_000)
        (first,) = judgments_of(server, "bo")
        assert (first.choice, first.strength, first.rationale) == ("left", 2, "A cites the manual")
        page.locator("#change-last").click()
        expect(page.locator("#notice")).to_contain_text(
            "Changing your previous vote (it was: A is better (clearly))", timeout=10_000)
        # The form starts from the vote being changed: its choice, strength and reason.
        expect(page.locator("#vote-left")).to_have_class(re.compile(r"\bchosen\b"))
        expect(page.locator("#submit-vote")).to_be_enabled()
        assert page.get_by_label("clearly").is_checked()
        assert page.locator("#rationale textarea").input_value() == "A cites the manual"
        _vote(page, "#vote-right")
        expect(page.locator("#notice")).to_contain_text("now: B is better (clearly)", timeout=10_000)
        (changed,) = judgments_of(server, "bo")
        assert (changed.choice, changed.strength, changed.rationale) == ("right", 2, "A cites the manual")
    finally:
        context.close()


def test_a_vote_on_an_unread_item_is_refused_and_the_form_kept(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "cy")
    try:
        page.wait_for_timeout(1100)
        page.locator("#prompt").click()
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")  # at once, while the first is in flight: ignored
        expect(page.locator("#notice")).to_contain_text("Vote recorded", timeout=10_000)
        # The next item is on screen; a vote submitted at once is refused by the server, and
        # what was chosen and written stays for the next try.
        page.locator("#prompt").click()
        page.keyboard.press("2")
        page.get_by_label("slightly").check()
        page.locator("#rationale textarea").fill("B is shorter")
        page.locator("#submit-vote").click()
        expect(page.locator("#notice")).to_contain_text("read both answers first", timeout=10_000)
        page.wait_for_timeout(500)
        votes = judgments_of(server, "cy")
        assert len(votes) == 1 and votes[0].choice == "left", [(v.comparison_id, v.choice) for v in votes]
        expect(page.locator("#vote-right")).to_have_class(re.compile(r"\bchosen\b"))
        assert page.get_by_label("slightly").is_checked()
        assert page.locator("#rationale textarea").input_value() == "B is shorter"
        # Once it was on screen long enough, the same vote counts.
        page.wait_for_timeout(1100)
        page.locator("#submit-vote").click()
        expect(page.locator("#notice")).to_contain_text("Vote recorded: B is better (slightly)",
                                                        timeout=10_000)
        assert [(v.choice, v.strength, v.rationale) for v in judgments_of(server, "cy")] == \
            [("left", None, None), ("right", 1, "B is shorter")]
    finally:
        context.close()


def test_on_a_phone_the_next_item_starts_at_its_top(server, chromium_browser, screenshot_dir):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "dee", viewport=PHONE)
    try:
        page.locator("#vote-left").scroll_into_view_if_needed()
        assert page.evaluate("window.scrollY") > 1000  # the buttons sit below two long answers
        page.wait_for_timeout(1100)
        _vote(page, "#vote-left")
        expect(page.locator("#notice")).to_contain_text("Vote recorded", timeout=10_000)
        page.wait_for_timeout(500)
        top = page.evaluate("document.getElementById('notice').getBoundingClientRect().top")
        assert -2 <= top < PHONE["height"] / 2, top  # scrolled to it (sub-pixel)
        page.screenshot(path=str(screenshot_dir / "reviewer-phone-after-vote.png"))
    finally:
        context.close()


def test_long_answers_are_read_in_full_without_an_inner_scroll_box(server, chromium_browser):
    context, page, _ = _open(chromium_browser, server, "ana")
    try:
        for side in ("#answer-a", "#answer-b"):
            body = page.locator(f"{side} .answer-body")
            assert "THE-VERY-END" in body.inner_text()
            clipped = body.evaluate("e => e.scrollHeight - e.clientHeight")
            assert clipped <= 1, clipped
    finally:
        context.close()


def test_the_last_vote_can_be_changed_from_the_done_screen(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "eve")
    try:
        for _ in range(3):
            page.wait_for_timeout(1100)
            _vote(page, "#vote-tie")
            expect(page.locator("#notice")).to_contain_text("Vote recorded: Tie", timeout=10_000)
        expect(page.locator("#notice")).to_contain_text("Nothing left for you to review")
        expect(page.locator("#change-last")).to_be_visible()
        page.locator("#change-last").click()
        expect(page.locator("#notice")).to_contain_text("Changing your previous vote (it was: Tie)",
                                                        timeout=10_000)
        expect(page.locator("#vote-tie")).to_have_class(re.compile(r"\bchosen\b"))
        expect(page.locator("#strength")).to_be_hidden()  # a tie has no strength
        _vote(page, "#vote-left")
        expect(page.locator("#notice")).to_contain_text("now: A is better", timeout=10_000)
        assert [v.choice for v in judgments_of(server, "eve")] == ["tie", "tie", "left"]
    finally:
        context.close()


def test_skipped_items_are_counted_and_can_be_reviewed_again(server, chromium_browser):
    from playwright.sync_api import expect

    with session_scope(server.engine) as session:
        # fay's own study, so that nobody else's votes or leases fill its items.
        study, _ = make_blind_study(session, name="skips", n_items=3, overlap=1, reviewers=("fay",))
        study.meta = {MIN_SECONDS_KEY: 1.0}
    context, page, _ = _open(chromium_browser, server, "fay")
    try:
        page.locator("#skip").click()
        expect(page.locator("#progress")).to_contain_text("1 skipped", timeout=10_000)
        expect(page.locator("#revisit-skipped")).to_contain_text("Review my skipped items (1)")
        for _ in range(2):
            page.wait_for_timeout(1100)
            _vote(page, "#vote-tie")
            expect(page.locator("#notice")).to_contain_text("Vote recorded", timeout=10_000)
        expect(page.locator("#notice")).to_contain_text("You skipped 1: review them when you are ready")
        page.locator("#revisit-skipped").click()
        expect(page.locator("#notice")).to_contain_text("1 skipped item back in your queue", timeout=10_000)
        expect(page.locator("#answer-a .answer-body")).to_be_visible()
        page.wait_for_timeout(1100)
        _vote(page, "#vote-left")
        expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better", timeout=10_000)
        expect(page.locator("#notice")).to_contain_text("Nothing left for you to review")
        assert len(judgments_of(server, "fay")) == 3
        expect(page.locator("#revisit-skipped")).to_be_hidden()
    finally:
        context.close()
