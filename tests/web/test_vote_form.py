"""The vote form in headless Chromium: choose, then submit.

A choice button only selects (highlighted, changeable); the strength and the reason can be
given before or after; "Submit vote" (or Enter) records it once, with every button off while
it is in flight; a choice not yet submitted survives a reload; code in an answer reads as
one block. Screenshots of the form and of the "all done" screen go to REVIEW_SCREENSHOT_DIR.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from review.core.db import session_scope
from review.core.models import Assignment, Prompt, Reviewer
from tests.web.conftest import (
    judgments_of,
    migrated_session,
    open_logged_in,
    running_server,
)
from tests.web.studydata import SECRETS, make_blind_study

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
CHOSEN = re.compile(r"\bchosen\b")
BUTTONS = ("#vote-left", "#vote-right", "#vote-tie", "#vote-both-bad")

# Support questions about a thermostat, with their reference answers, and two answers each.
ITEMS = [
    ("I'm setting up my new Lumora Halo but it can't find my home Wi-Fi. My router is set to "
     "5 GHz. What should I do?",
     "The Halo only connects to 2.4 GHz Wi-Fi (WPA2/WPA3). Enable the router's 2.4 GHz band or "
     "a separate 2.4 GHz network and rerun setup in the Lumora app.",
     "The Halo connects to **2.4 GHz** Wi-Fi only, so it cannot see a 5 GHz network.\n\n"
     "1. In your router's settings, turn on the 2.4 GHz band (or add a separate 2.4 GHz network).\n"
     "2. In the Lumora app, tap **+ > Add device** and run setup again.\n"
     "3. Pick the 2.4 GHz network when the app asks for one.",
     "Sorry to hear that! Try restarting your router and the thermostat. If that does not help, "
     "move the Halo closer to the router and check that the Wi-Fi password is right."),
    ("There's no C-wire behind my old thermostat. Is the Halo still an option for me?",
     "Yes: use the Lumora Power Kit (PK-1), included in the box, which installs at the furnace "
     "control board.",
     "Yes. The box includes the Lumora Power Kit (PK-1): it powers the Halo without a C-wire. "
     "Install it at your furnace's control board as the kit's card shows.",
     "Unfortunately the Halo needs a C-wire. An electrician will have to run a new wire first."),
    ("Can I put a Halo on the wall to run my 240 volt electric baseboard heat?",
     "No. The Halo works with 24 V low-voltage systems only, not line-voltage (120/240 V) "
     "baseboard heaters.",
     "Yes, the Halo works with most heating systems, including electric baseboards.",
     "No. The Halo is for 24 V low-voltage systems; a 240 V baseboard heater needs a "
     "line-voltage thermostat."),
    ("How do I read the Halo's temperature from a script?",
     None,
     "Use the local API (Settings > Advanced > Local API):\n\n"
     "```python\nimport requests\n\n\ndef temperature(host: str) -> float:\n"
     "    reply = requests.get(f\"http://{host}/api/state\", timeout=5)\n"
     "    reply.raise_for_status()\n    return reply.json()[\"temperature\"]\n```\n\n"
     "Call `temperature(\"halo.local\")`.",
     "The Halo has no API."),
]



@pytest.fixture(scope="module")
def server(database_url):
    guidelines = (Path(__file__).parents[2] / "sample_data" / "guidelines.md").read_text()
    with migrated_session(database_url) as session:
        study, _ = make_blind_study(
            session, name="halo", n_items=3, overlap=6,
            reviewers=("ana", "bo", "cy", "dee", "eve", "gus"),
            outputs={i: (cand, base) for i, (_, _, cand, base) in enumerate(ITEMS[:3])})
        study.guidelines = guidelines
        _use_prompts(session, study, ITEMS[:3])
        # One item with code, for one reviewer.
        code, _ = make_blind_study(session, name="code", n_items=1, overlap=1, reviewers=("fay",),
                                   outputs={0: ITEMS[3][2:]})
        _use_prompts(session, code, ITEMS[3:])
    with running_server(database_url) as running:
        yield running


def _use_prompts(session, study, items) -> None:
    prompts = session.scalars(select(Prompt).where(Prompt.prompt_set_id == study.prompt_set_id)
                              .order_by(Prompt.external_id)).all()
    for prompt, (question, reference, _, _) in zip(prompts, items, strict=True):
        prompt.messages = [{"role": "user", "content": question}]
        prompt.reference = reference


def _open(browser, server, name, viewport=None):
    return open_logged_in(browser, server, name, viewport=viewport or DESKTOP,
                          ready="#answer-a .answer-body")


def _leased(server, name) -> list[str]:
    with session_scope(server.engine) as session:
        reviewer_id = session.scalar(select(Reviewer.id).where(Reviewer.name == name))
        return session.scalars(select(Assignment.id).where(Assignment.reviewer_id == reviewer_id,
                                                           Assignment.status == "leased")).all()


def _drafts(page) -> dict:
    return json.loads(page.evaluate("sessionStorage.getItem('review-drafts')") or "{}")


def test_a_strength_chosen_after_the_choice_is_stored_and_echoed(server, chromium_browser,
                                                                  screenshot_dir):
    from playwright.sync_api import expect

    context, page, dialogs = _open(chromium_browser, server, "ana")
    try:
        page.locator("#vote-left").click()
        page.get_by_label("clearly").check()  # after the choice: it is kept
        page.locator("#rationale textarea").fill("A names the 2.4 GHz band and the steps.")
        expect(page.locator("#vote-left")).to_have_class(CHOSEN)
        page.wait_for_timeout(300)  # the radio's transition
        page.screenshot(path=str(screenshot_dir / "reviewer-desktop.png"), full_page=True)
        page.locator("#submit-vote").click()
        expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better (clearly).",
                                                        timeout=10_000)
        (judgment,) = judgments_of(server, "ana")
        assert (judgment.choice, judgment.strength, judgment.rationale) == \
            ("left", 2, "A names the 2.4 GHz band and the steps.")
        # The next item starts with nothing chosen.
        expect(page.locator("#submit-vote")).to_be_disabled()
        for button in BUTTONS:
            expect(page.locator(button)).not_to_have_class(CHOSEN)
        assert not page.get_by_label("clearly").is_checked()
        assert page.locator("#rationale textarea").input_value() == ""
        assert dialogs == []
    finally:
        context.close()


def test_a_choice_is_highlighted_changeable_and_needed_to_submit(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "bo")
    try:
        submit = page.locator("#submit-vote")
        expect(submit).to_be_disabled()  # nothing chosen yet
        expect(page.locator("#key-hint")).to_contain_text("Enter")
        page.get_by_label("much better").check()  # the strength first, then the choice
        page.locator("#vote-right").click()
        expect(page.locator("#vote-right")).to_have_class(CHOSEN)
        expect(submit).to_be_enabled()
        assert page.get_by_label("much better").is_checked()
        # A tie has no strength: it is cleared and hidden, and comes back empty for A or B.
        page.locator("#vote-tie").click()
        expect(page.locator("#vote-tie")).to_have_class(CHOSEN)
        expect(page.locator("#vote-right")).not_to_have_class(CHOSEN)
        expect(page.locator("#strength")).to_be_hidden()
        page.locator("#vote-left").click()
        expect(page.locator("#strength")).to_be_visible()
        assert not page.get_by_label("much better").is_checked()
        # Keys choose as well; only one button is ever highlighted.
        page.locator("#prompt").click()
        page.keyboard.press("x")
        expect(page.locator("#vote-both-bad")).to_have_class(CHOSEN)
        assert page.locator("#vote-buttons .chosen").count() == 1
        assert judgments_of(server, "bo") == []  # choosing records nothing
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_contain_text("Vote recorded: Both are bad.", timeout=10_000)
        (judgment,) = judgments_of(server, "bo")
        assert (judgment.choice, judgment.strength) == ("both_bad", None)
    finally:
        context.close()


def test_submit_pressed_twice_records_one_vote(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "cy")
    held = []
    try:
        # Hold the vote's request (every event of the page is a POST to run/predict), to
        # look at the page while it is in flight.
        page.route("**/gradio_api/run/predict*", lambda route: held.append(route))
        page.locator("#prompt").click()
        page.keyboard.press("1")
        expect(page.locator("#vote-left")).to_have_class(CHOSEN)
        page.keyboard.press("Enter")
        expect(page.locator("#submit-vote")).to_be_disabled()
        for button in (*BUTTONS, "#skip", "#change-last"):
            expect(page.locator(button)).to_be_disabled()
        page.keyboard.press("Enter")
        page.keyboard.press("2")
        page.locator("#submit-vote").dispatch_event("click")
        page.wait_for_timeout(500)
        assert len(held) == 1  # one request, however often Submit was pressed
        expect(page.locator("#vote-left")).to_have_class(CHOSEN)  # "2" did not change it
        held[0].continue_()
        page.unroute("**/gradio_api/run/predict*")
        expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better.", timeout=10_000)
        expect(page.locator("#vote-right")).to_be_enabled()
        expect(page.locator("#submit-vote")).to_be_disabled()  # the next item: nothing chosen
        page.keyboard.press("Enter")
        page.wait_for_timeout(500)
        assert [j.choice for j in judgments_of(server, "cy")] == ["left"]
    finally:
        context.close()


def test_an_unsent_choice_and_reason_survive_a_reload(server, chromium_browser):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "dee")
    try:
        page.locator("#vote-right").click()
        page.get_by_label("slightly").check()
        page.locator("#rationale textarea").fill("B is right about the wire")
        expect(page.locator("#vote-right")).to_have_class(CHOSEN)
        (lease,) = _leased(server, "dee")
        page.wait_for_timeout(300)
        # Kept under the item's opaque assignment id, and nothing else.
        assert _drafts(page) == {lease: {"choice": "right", "strength": 1,
                                         "rationale": "B is right about the wire"}}
        stored = page.evaluate("JSON.stringify(Object.assign({}, sessionStorage))")
        assert not any(secret in stored for secret in SECRETS)

        page.reload()
        page.locator("#answer-a .answer-body").wait_for(timeout=20_000)
        expect(page.locator("#vote-right")).to_have_class(CHOSEN, timeout=10_000)
        expect(page.locator("#submit-vote")).to_be_enabled()
        assert page.get_by_label("slightly").is_checked()
        assert page.locator("#rationale textarea").input_value() == "B is right about the wire"

        page.locator("#submit-vote").click()
        expect(page.locator("#notice")).to_contain_text("Vote recorded: B is better (slightly).",
                                                        timeout=10_000)
        (judgment,) = judgments_of(server, "dee")
        assert (judgment.choice, judgment.strength, judgment.rationale) == \
            ("right", 1, "B is right about the wire")
        page.wait_for_timeout(300)
        assert _drafts(page) == {}  # dropped once recorded
        page.reload()
        page.locator("#answer-a .answer-body").wait_for(timeout=20_000)
        page.wait_for_timeout(500)
        assert page.locator("#vote-buttons .chosen").count() == 0
        assert page.locator("#rationale textarea").input_value() == ""
    finally:
        context.close()


def test_a_code_block_reads_as_one_plain_block(server, chromium_browser, screenshot_dir):
    context, page, _ = _open(chromium_browser, server, "fay")
    try:
        code = page.locator("#answer-a pre code, #answer-b pre code")
        assert code.count() == 1
        style = code.evaluate("""e => {
            const own = getComputedStyle(e);
            const spans = [...e.querySelectorAll('span')].map(s => getComputedStyle(s));
            return {lines: e.getClientRects().length, background: own.backgroundColor,
                    spans: spans.length,
                    painted: spans.filter(s => s.backgroundColor !== 'rgba(0, 0, 0, 0)'
                                               || parseFloat(s.borderTopWidth) > 0).length};
        }""")
        # One box for the whole block (an inline <code> has one per line), nothing painted
        # behind the code or its coloured tokens.
        assert style["lines"] == 1, style
        assert style["background"] == "rgba(0, 0, 0, 0)", style
        assert style["spans"] > 5 and style["painted"] == 0, style
        page.locator("#answer-a pre, #answer-b pre").screenshot(path=str(screenshot_dir / "code-block.png"))
    finally:
        context.close()


def test_the_form_and_the_done_screen_on_a_phone_and_a_desktop(server, chromium_browser, screenshot_dir):
    from playwright.sync_api import expect

    context, page, _ = _open(chromium_browser, server, "eve", viewport=PHONE)
    try:
        page.locator("#vote-left").click()
        page.get_by_label("clearly").check()
        page.locator("#rationale textarea").fill("A gives the steps in order.")
        page.evaluate("document.getElementById('vote-buttons').scrollIntoView({block: 'start'})")
        for element in (*BUTTONS, "#submit-vote", "#skip", "#strength", "#rationale"):
            box = page.locator(element).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (element, box)
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshot_dir / "reviewer-phone.png"))
        page.screenshot(path=str(screenshot_dir / "reviewer-phone-full.png"), full_page=True)
        page.locator("#submit-vote").click()
        expect(page.locator("#notice")).to_contain_text("Vote recorded: A is better (clearly).",
                                                        timeout=10_000)
        for choice in ("#vote-right", "#vote-tie"):
            page.locator(choice).click()
            page.locator("#submit-vote").click()
            expect(page.locator("#notice")).to_contain_text("Vote recorded", timeout=10_000)
        expect(page.locator("#notice")).to_contain_text("Nothing left for you to review")
        expect(page.locator("#change-last")).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshot_dir / "reviewer-done-phone.png"))
    finally:
        context.close()
    context, page, _ = open_logged_in(chromium_browser, server, "eve", viewport=DESKTOP,
                                      ready="#change-last")
    try:
        expect(page.locator("#notice")).to_contain_text("Nothing left for you to review", timeout=10_000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshot_dir / "reviewer-done-desktop.png"))
    finally:
        context.close()
