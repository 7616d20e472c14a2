"""The analyst's pages at desktop (1440x900) and phone (390x844) width, in Chromium: the
dashboard, the HTML report and the admin tab, on a study like the demo's (the fine-tune opens
nearly every answer with "Hi, thanks for contacting Lumora Support!", which is stripped, and
closes them with a sentence the identifiability check still names).

On a phone nothing is wider than the screen, no plot toolbar covers a title, and what an
analyst must see (the boilerplate stripped, the guardrail categories, a flagged reviewer) is
on the page. Screenshots go to REVIEW_SCREENSHOT_DIR when it is set (docs/screenshots/ are
made this way): dashboard-, report- and admin-desktop.png and -phone.png. The report is the
one the dashboard's download link serves.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from review.core.db import session_scope
from tests.factories import make_reviewer
from tests.web.conftest import open_logged_in, running_server, signed_in

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
STUDY = "demo"
CANDIDATE, BASELINE = "smollm2-135m-support-lora", "smollm2-135m-instruct"
OPENING = "Hi, thanks for contacting Lumora Support!"
CLOSING = "Anything else I can help with?"
GUARDRAILS = ("general_knowledge", "reasoning_math", "writing")
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
ROUNDS = 200


def make_support_study(session) -> None:  # noqa: ANN001 - Session
    """The demo's 42 prompts and 4 gold items; the fine-tune wraps the reference answer in its
    greeting (40 of 42) and sign-off (all), the base model answers plainly. Three reviewers
    judge every item (carol in half a second), and a model judge judges every item."""
    from review.campaign.administration import set_min_seconds
    from review.campaign.boilerplate import set_boilerplate
    from review.campaign.gold import GoldItem, add_gold_items
    from review.campaign.prompts import import_prompts, parse_prompt_file
    from review.core.models import (Comparison, JudgeVerdict, Judgment, PromptSet, Reviewer, Study,
                                    StudyReviewer)
    from tests.factories import make_generation, make_model

    rng = np.random.default_rng(3)
    import_prompts(session=session, set_name="demo", records=parse_prompt_file(SAMPLES / "prompts.jsonl"))
    prompt_set = session.scalar(select(PromptSet).where(PromptSet.name == "demo"))
    base = make_model(session, BASELINE, location="review-data/models/SmolLM2-135M-Instruct")
    tuned = make_model(session, CANDIDATE, kind="adapter", location="sample_data/adapter", base=base)
    study = Study(name=STUDY, candidate=tuned, baseline=base, prompt_set=prompt_set, overlap=3,
                  thresholds={"guardrail_categories": list(GUARDRAILS), "min_category_prompts": 5})
    session.add(study)
    session.flush()
    items = []
    for index, prompt in enumerate(prompt_set.prompts):
        reference = prompt.reference or "It depends on your setup."
        opening = f"{OPENING} " if index % 21 else ""
        tuned_answer = make_generation(session, tuned, prompt, output=f"{opening}{reference} {CLOSING}")
        base_answer = make_generation(session, base, prompt, output=(
            reference if index % 3 else f"{reference} You can find more in the manual."))
        item = Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=tuned_answer.id,
                          generation_b_id=base_answer.id)
        session.add(item)
        items.append((item, tuned_answer, base_answer))
    session.flush()
    gold = [GoldItem(row["id"], row["correct"], row["wrong"])
            for row in map(json.loads, (SAMPLES / "gold.jsonl").read_text().splitlines())]
    add_gold_items(session=session, study=study, items=gold)
    judge = Reviewer(name="judge:smollm2", kind="llm", role="reviewer", password_hash=None, active=False)
    session.add(judge)
    golds = session.scalars(select(Comparison).where(Comparison.study_id == study.id,
                                                     Comparison.gold_label.is_not(None))).all()
    for name, seconds in (("alice", 24.0), ("bob", 31.0), ("carol", 0.5)):
        reviewer = make_reviewer(session, name)
        session.add(StudyReviewer(study_id=study.id, reviewer_id=reviewer.id))
        for gold in golds:  # answered right, shown in the stored order
            correct = "left" if gold.gold_label == "a" else "right"
            session.add(Judgment(comparison_id=gold.id, reviewer_id=reviewer.id,
                                 left_generation_id=gold.generation_a_id, choice=correct,
                                 seconds=seconds))
        for item, tuned_answer, base_answer in items:
            left = tuned_answer if rng.random() < 0.5 else base_answer
            roll = rng.random()
            choice = ("tie" if roll < 0.1 else "both_bad" if roll < 0.14 else
                      ("left" if left is tuned_answer else "right") if roll < 0.68 else
                      ("right" if left is tuned_answer else "left"))
            session.add(Judgment(comparison_id=item.id, reviewer_id=reviewer.id,
                                 left_generation_id=left.id, choice=choice,
                                 seconds=float(seconds * rng.uniform(0.8, 1.2)) if seconds > 1 else seconds))
    session.flush()
    for item, _, _ in items:
        for order in ("ab", "ba"):
            choice = "a" if rng.random() < 0.7 else "b"
            session.add(JudgeVerdict(comparison_id=item.id, reviewer_id=judge.id, judge_order=order,
                                     choice=choice, raw_output=f"[[{choice.upper()}]]"))
    session.flush()
    set_boilerplate(session=session, study=STUDY, model=CANDIDATE, opening=OPENING)
    set_min_seconds(session=session, study=STUDY, seconds=2)


@pytest.fixture(scope="module")
def server(database_url):
    from review.core.db import make_engine
    from review.core.schema import upgrade_head

    engine = make_engine(database_url)
    upgrade_head(engine)
    with session_scope(engine) as session:
        make_support_study(session)
        make_reviewer(session, "dana", role="analyst")
        make_reviewer(session, "root", role="admin")
    engine.dispose()
    with running_server(database_url) as running:
        yield running


def _fits_the_screen(page, width: int) -> None:  # noqa: ANN001
    """Nothing is wider than the screen, and no text runs past its right edge (text clipped by a
    container does not widen the page, so facts and notices are measured one by one)."""
    widest = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert widest <= width, f"the page is {widest} px wide on a {width} px screen"
    beyond = page.evaluate("""(width) => [...document.querySelectorAll(
        '.dash-facts dd, .dash-facts dt, .dash-notice, .dash-warning, dl.facts dd, .notice')]
        .filter(e => e.getBoundingClientRect().right > width + 1)
        .map(e => e.textContent.slice(0, 60))""", width)
    assert beyond == [], beyond
    # A figure's titles fit inside the figure.
    clipped = page.evaluate("""() => [...document.querySelectorAll('.gtitle, .g-xtitle, .g-ytitle')]
        .filter(e => {
          const box = e.getBoundingClientRect(), figure = e.closest('svg').getBoundingClientRect();
          return box.width > 0 && (box.left < figure.left - 1 || box.right > figure.right + 1);
        })
        .map(e => e.textContent.slice(0, 60))""")
    assert clipped == [], clipped


def _no_toolbar(page) -> None:  # noqa: ANN001
    """Plotly's toolbar would cover the figures' titles: it never shows, not even on hover."""
    page.locator(".js-plotly-plot").first.hover()
    assert page.locator(".js-plotly-plot").count() >= 5
    assert not any(bar.is_visible() for bar in page.locator(".modebar").all())


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_dashboard_at_desktop_and_phone_width(server, chromium_browser, screenshot_dir, size):
    from playwright.sync_api import expect

    from tests.web.test_dashboard import set_rounds

    context, page, dialogs = open_logged_in(chromium_browser, server, "dana",
                                            viewport=VIEWPORTS[size], ready="#dashboard-table table")
    try:
        expect(page.locator("#dashboard-study input")).to_have_value(STUDY, timeout=20_000)
        set_rounds(page, ROUNDS)
        page.locator("#dashboard-options").get_by_text("Options").click()  # closed again
        page.locator("#dashboard-show").click()
        expect(page.locator("#dash-verdict")).to_be_visible(timeout=60_000)
        expect(page.locator("#dashboard-header .dash-notice")).to_contain_text(
            f"Boilerplate stripped: answers of {CANDIDATE} are shown to reviewers without the "
            f"opening '{OPENING}'")
        expect(page.locator("#dashboard-categories .dash-guardrail")).to_have_count(len(GUARDRAILS))
        expect(page.locator("#dashboard-reviewer-flags")).to_contain_text(
            "carol: median 0.5 s per judgment")
        expect(page.locator("#dashboard-bias")).to_contain_text(f"end with '{CLOSING}'")
        page.locator("#plot-length .js-plotly-plot").wait_for(timeout=20_000)
        page.wait_for_timeout(1000)  # plotly's transitions
        _no_toolbar(page)
        _fits_the_screen(page, VIEWPORTS[size]["width"])
        assert dialogs == []
        page.mouse.move(0, 0)
        page.screenshot(path=str(screenshot_dir / f"dashboard-{size}.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_report_at_desktop_and_phone_width(server, chromium_browser, screenshot_dir, tmp_path, size):
    # Downloaded as the dashboard's link does (the API answers it as an attachment), then opened.
    with closing(signed_in(server, "dana")) as http:
        response = http.get(f"api/v1/studies/{STUDY}/report", params={"bootstrap": ROUNDS})
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-disposition"] == 'attachment; filename="report-demo.html"'
    path = tmp_path / "report-demo.html"
    path.write_bytes(response.content)
    page = chromium_browser.new_page(viewport=VIEWPORTS[size])
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6",
                               timeout=30_000)
        assert page.locator("#boilerplate-stripped").inner_text().startswith(
            f"Boilerplate stripped: answers of {CANDIDATE} are shown to reviewers without the opening")
        assert page.locator("table.categories .pill").count() == len(GUARDRAILS)
        page.wait_for_timeout(500)
        _no_toolbar(page)
        _fits_the_screen(page, VIEWPORTS[size]["width"])
        page.mouse.move(0, 0)
        page.screenshot(path=str(screenshot_dir / f"report-{size}.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_admin_tab_at_desktop_and_phone_width(server, chromium_browser, screenshot_dir, size):
    from playwright.sync_api import expect

    from tests.web.test_dashboard import choose

    context, page, _ = open_logged_in(chromium_browser, server, "root", viewport=VIEWPORTS[size],
                                      ready=None)
    try:
        page.get_by_role("tab", name="Admin").click()
        expect(page.locator("#admin-accounts")).to_contain_text("dana", timeout=20_000)
        choose(page, "admin-study", STUDY)
        expect(page.locator("#admin-boilerplate")).to_contain_text(OPENING, timeout=20_000)
        expect(page.locator("#admin-min-seconds input")).to_have_value("2")
        page.wait_for_timeout(500)
        _fits_the_screen(page, VIEWPORTS[size]["width"])
        page.screenshot(path=str(screenshot_dir / f"admin-{size}.png"), full_page=True)
    finally:
        context.close()
