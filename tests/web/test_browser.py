"""The reviewer app in headless Chromium: log in, read two answers, choose and submit a vote
with the keyboard.

Also: raw HTML in model output is shown as text and runs nothing, the page names no
model, and the layout puts the answers side by side on a desktop and stacks them on a
phone (screenshots go to REVIEW_SCREENSHOT_DIR when it is set).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Generation, Judgment, Reviewer
from tests.web.conftest import (
    migrated_session,
    open_logged_in,
    running_server,
)
from tests.web.studydata import SECRETS, make_blind_study

# Gradio's own queue statistics trip pandas deprecation warnings; nothing of ours.
PAYLOAD = ('Raw HTML: <img src=x onerror=alert(1)> <img src=y onerror="window.__pwned=2"> '
           '<script>window.__pwned = 1; alert("script")</script>')


def _outputs(n: int) -> dict[int, tuple[str, str]]:
    return {i: (f"ALPHA-{i} is the first answer.\n\n{PAYLOAD}\n\n```python\nprint({i})\n```",
                f"BRAVO-{i} is the **second** answer.\n\n- one\n- two")
            for i in range(n)}



@pytest.fixture(scope="module")
def server(database_url):
    chat = [{"role": "system", "content": "You are a careful assistant."},
            {"role": "user", "content": "What is a list comprehension?"},
            {"role": "assistant", "content": "A compact way to build a list."},
            {"role": "user", "content": "Show me one, and explain `<b>` tags."}]
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=3, overlap=2, reviewers=("ana", "bo", "cy"),
                         outputs=_outputs(3), messages=chat)
    with running_server(database_url) as running:
        yield running


def _open(browser, server, name, viewport=None):
    """A logged-in reviewer page, once the first answer shows."""
    return open_logged_in(browser, server, name, viewport=viewport or {"width": 1280, "height": 800},
                          ready="#answer-a .answer-body")


def _judgment_count(server, name) -> int:
    with session_scope(server.engine) as session:
        reviewer_id = session.scalar(select(Reviewer.id).where(Reviewer.name == name))
        return session.scalar(select(func.count(Judgment.id)).where(Judgment.reviewer_id == reviewer_id))


def test_login_and_vote_with_the_keyboard(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, dialogs = _open(chromium_browser, server, "ana")
    try:
        assert page.get_by_text("Use via API").count() == 0  # no API docs link for reviewers
        left_text = page.locator("#answer-a .answer-body").inner_text()
        right_text = page.locator("#answer-b .answer-body").inner_text()
        shown_left = re.search(r"(ALPHA|BRAVO)-\d", left_text).group(0)
        assert re.search(r"(ALPHA|BRAVO)-\d", right_text).group(0)[:5] != shown_left[:5]
        assert page.locator("#prompt .turn").count() in (1, 4)  # chat rendered turn by turn

        # Typing in the rationale box is typing, neither choosing nor voting (Enter included).
        rationale = page.locator("#rationale textarea")
        rationale.click()
        rationale.type("1 b 2 because")
        rationale.press("Enter")
        rationale.press("Backspace")
        page.wait_for_timeout(600)
        assert _judgment_count(server, "ana") == 0
        assert page.locator("#vote-buttons .chosen").count() == 0
        page.locator("#prompt").click()  # leave the text box
        page.keyboard.press("1")  # chooses A ...
        expect(page.locator("#vote-left")).to_have_class(re.compile(r"\bchosen\b"))
        page.wait_for_timeout(300)
        assert _judgment_count(server, "ana") == 0
        page.keyboard.press("Enter")  # ... and Enter submits it
        expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better", timeout=10_000)

        with session_scope(server.engine) as session:
            judgment = session.scalar(select(Judgment))
            displayed = session.get(Generation, judgment.left_generation_id)
            assert displayed.output.startswith(shown_left)  # the left answer as displayed
            assert judgment.choice == "left" and judgment.rationale == "1 b 2 because"
            assert judgment.assignment_id is not None and judgment.seconds > 0

        # Change it within the window: the same item comes back with the vote chosen, the
        # keys choose and submit the new one.
        page.locator("#change-last").click()
        expect(page.locator("#notice")).to_contain_text("Changing your previous vote", timeout=10_000)
        assert page.locator("#answer-a .answer-body").inner_text() == left_text
        expect(page.locator("#vote-left")).to_have_class(re.compile(r"\bchosen\b"))
        page.locator("#prompt").click()
        page.keyboard.press("t")
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_contain_text("now: Tie", timeout=10_000)
        with session_scope(server.engine) as session:
            assert session.scalar(select(Judgment.choice)) == "tie"
        assert _judgment_count(server, "ana") == 1
        expect(page.locator("#progress")).to_contain_text("1 done")
        assert dialogs == []
        # Log out: the page's own form posts /logout and the login form comes back.
        page.locator("#logout button").click()
        expect(page.get_by_label("Username")).to_be_visible(timeout=15_000)
        with session_scope(server.engine) as session:
            from review.core.models import LoginSession

            ana_id = session.scalar(select(Reviewer.id).where(Reviewer.name == "ana"))
            assert session.scalar(select(func.count()).select_from(LoginSession)
                                  .where(LoginSession.reviewer_id == ana_id)) == 0
    finally:
        context.close()


def test_raw_html_in_answers_is_text_and_runs_nothing(server, chromium_browser):
    context, page, dialogs = _open(chromium_browser, server, "bo")
    try:
        answers = page.locator("#answer-a, #answer-b")
        text = answers.all_inner_texts()
        joined = "\n".join(text)
        assert "<img src=x onerror=alert(1)>" in joined and "<script>" in joined
        assert answers.locator("img, script, iframe").count() == 0
        assert page.locator("#answer-a pre code, #answer-b pre code").count() == 1  # code block
        assert page.locator("#answer-a strong, #answer-b strong").count() == 1  # markdown
        page.wait_for_timeout(500)  # give an onerror handler time to fire, if any existed
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []
        html = page.content()
        for secret in SECRETS:
            assert secret not in html
    finally:
        context.close()


def test_layout_side_by_side_on_desktop_stacked_on_a_phone(server, chromium_browser, screenshot_dir):
    for name, viewport in (("desktop", {"width": 1280, "height": 800}),
                           ("phone", {"width": 390, "height": 844})):
        context, page, _ = _open(chromium_browser, server, "cy", viewport)
        try:
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshot_dir / f"reviewer-layout-{name}.png"), full_page=True)
            a = page.locator("#answer-a").bounding_box()
            b = page.locator("#answer-b").bounding_box()
            if name == "desktop":
                assert abs(a["y"] - b["y"]) < 2 and a["x"] + a["width"] <= b["x"]
                assert a["width"] > 400 and b["width"] > 400
            else:
                assert b["y"] >= a["y"] + a["height"] and abs(a["x"] - b["x"]) < 2
                assert a["width"] > 300 and a["x"] + a["width"] <= 390
            for button in ("#vote-left", "#vote-right", "#vote-tie", "#vote-both-bad", "#submit-vote"):
                box = page.locator(button).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        finally:
            context.close()
