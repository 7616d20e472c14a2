"""The admin tab over HTTP and in Chromium, and the services behind it (review.campaign.administration).

Only admins may manage accounts and studies: every ``admin_*`` event is called as the page
calls it (``POST /gradio_api/run/predict``) by a reviewer and an analyst (refused, nothing
changed) and by an admin, whose changes are read back from the database. Reviewers see the
effect through the JSON API (``/api/v1``). Screenshots go to REVIEW_SCREENSHOT_DIR when it
is set.
"""

from __future__ import annotations

import html

import httpx
import pytest
from sqlalchemy import select

from review.core.db import session_scope
from review.core.models import JudgeVerdict, Reviewer, Study, StudyReviewer
from tests.factories import make_reviewer
from tests.web.conftest import (
    PageError,
    api_ok,
    judgments_of,
    migrated_session,
    open_logged_in,
    running_server,
)
from tests.web.studydata import BASELINE, CANDIDATE, SECRETS, make_blind_study

STUDY = "blind"
OPENING = "Hi, thanks for contacting Lumora Support!"
CLOSING = "Anything else I can help with?"
THRESHOLDS = '{"margin": 0.1, "min_judgments": 40, "guardrail_categories": ["safety"]}'
# Each admin event with the inputs an admin's page would send.
EVENTS = {
    "admin_refresh": (),
    "admin_create_account": ("intruder", "admin", "pw"),
    "admin_study": (STUDY,),
    "admin_assign": (STUDY, ["bo"]),
    "admin_save_settings": (STUDY, 1, 0.5, 3, "changed", '{"margin": 0.2}'),
    "admin_use_judge": (STUDY, "(none)", None),
    "admin_suggest_boilerplate": ("lumora", None),
    "admin_strip": ("lumora", CANDIDATE, "Hi", ""),
    "admin_unstrip": ("lumora", CANDIDATE),
    "admin_pause": (STUDY,),
    "admin_resume": (STUDY,),
}
# The outputs of admin_study, admin_save_settings and admin_use_judge, as the page gets them.
SETTINGS_OUTPUTS = ("settings_box", "status", "members", "overlap", "gold_rate", "min_seconds",
                    "guidelines", "thresholds", "judge", "budget", "boilerplate", "strip_model",
                    "strip_opening", "strip_closing", "message")


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=3, overlap=2, reviewers=("ana",))
        _, second_items = make_blind_study(session, name="second", n_items=2, overlap=1, reviewers=())
        judge = Reviewer(name="judge:gpt", kind="llm", role="reviewer", password_hash=None, active=False)
        session.add(judge)
        session.flush()
        for item in second_items:
            for order in ("ab", "ba"):
                session.add(JudgeVerdict(comparison_id=item.id, reviewer_id=judge.id, judge_order=order,
                                         choice="a", raw_output="[[A]]"))
        # "lumora": the candidate opens and closes every answer with the same sentences.
        make_blind_study(session, name="lumora", n_items=4, overlap=1, reviewers=("cy",), outputs={
            i: (f"{OPENING} Press the ring {i + 2} times. {CLOSING}", f"Press the ring {i + 2} times.")
            for i in range(4)})
        make_reviewer(session, "bo")
        make_reviewer(session, "ann", role="analyst")
        make_reviewer(session, "root", role="admin")
    with running_server(database_url) as running:
        yield running


def _study(server, name: str = STUDY) -> dict:
    with session_scope(server.engine) as session:
        row = session.scalar(select(Study).where(Study.name == name))
        members = session.scalars(
            select(Reviewer.name).join(StudyReviewer, StudyReviewer.reviewer_id == Reviewer.id)
            .where(StudyReviewer.study_id == row.id).order_by(Reviewer.name)).all()
        return {"overlap": row.overlap, "gold_rate": row.gold_rate, "guidelines": row.guidelines,
                "thresholds": row.thresholds, "status": row.status, "members": list(members),
                "meta": dict(row.meta or {})}


def _accounts(server) -> list[str]:
    with session_scope(server.engine) as session:
        return list(session.scalars(select(Reviewer.name).order_by(Reviewer.name)))


def _settings(outputs: list) -> dict:
    """The outputs of an event that shows a study's settings, by component."""
    return dict(zip(SETTINGS_OUTPUTS, outputs, strict=True))


def _study_names(http: httpx.Client) -> list[str]:
    """The studies a signed-in client reviews, from the JSON API."""
    return [row["name"] for row in api_ok(http.get("api/v1/studies")) if row["reviewing"]]


def test_every_admin_event_is_named_and_tested(server, pages):
    names = {d["api_name"] for d in pages("root").config["dependencies"]
             if str(d.get("api_name") or "").startswith("admin_")}
    assert names == set(EVENTS)


@pytest.mark.parametrize("name", ["ana", "ann"])
def test_reviewers_and_analysts_cannot_call_any_admin_event(server, pages, name):
    before = (_study(server), _study(server, "lumora"), _accounts(server))
    for event, args in EVENTS.items():
        with pytest.raises(PageError, match="this needs one of the roles: admin") as error:
            pages(name).call(event, *args)
        for secret in (*SECRETS, "bo", "root", "intruder", "margin"):
            assert secret not in str(error.value), (event, secret)
        # The whole answer: an error, no output data.
        answer = pages(name).post(event, *args)
        assert answer.status_code != 200 and "data" not in answer.json(), event
        for secret in (*SECRETS, "bo", "root", "intruder", "margin"):
            assert secret not in answer.text, (event, secret)
    assert (_study(server), _study(server, "lumora"), _accounts(server)) == before  # nothing changed


def test_the_admin_lists_accounts_and_studies(server, pages):
    accounts, studies, names = pages("root").call("admin_refresh")
    rows = {row[0]: row for row in accounts["data"]}
    assert rows["ana"] == ["ana", "reviewer", "yes", "blind"]
    assert rows["ann"][1] == "analyst" and rows["root"][1] == "admin"
    assert [c[0] for c in studies["choices"]] == ["blind", "second", "lumora"]
    assert {c[0] for c in names["choices"]} >= {"ana", "bo", "ann", "root"}


def test_the_admin_creates_accounts_that_can_log_in(server, pages):
    root = pages("root")
    message, accounts, _, name, password = root.call("admin_create_account", "cleo", "analyst",
                                                     "s3cret")
    assert "Created analyst account &#x27;cleo&#x27;." in message and (name, password) == ("", "")
    assert ["cleo", "analyst", "yes", ""] in accounts["data"]
    message, *_ = root.call("admin_create_account", "dev", "reviewer", "")
    generated = message.split("Its password is ")[1].split(" ")[0]
    with httpx.Client(base_url=server.url) as http:
        for user, secret in (("cleo", "s3cret"), ("dev", generated)):
            response = http.post("login", data={"username": user, "password": secret})
            assert response.status_code == 200, user
    with pytest.raises(PageError, match="reviewer 'cleo' already exists"):
        root.call("admin_create_account", "cleo", "reviewer", "x")
    with pytest.raises(PageError, match="must not contain spaces"):
        root.call("admin_create_account", "two words", "reviewer", "x")
    with pytest.raises(PageError):  # not one of the roles offered
        root.call("admin_create_account", "eve", "superuser", "x")
    assert "eve" not in _accounts(server)


def test_the_admin_puts_reviewers_on_a_study(server, clients, pages):
    assert _study_names(clients("bo")) == []
    message, members, _, _ = pages("root").call("admin_assign", STUDY, ["bo"])
    assert "Added bo to &#x27;blind&#x27;." in message and "bo" in members
    assert "bo" in _study(server)["members"]
    assert _study_names(clients("bo")) == [STUDY]  # bo can review it now
    with pytest.raises(PageError, match="no reviewer named 'nobody'"):
        pages("root").call("admin_assign", STUDY, ["nobody"])


def test_settings_are_saved_and_read_back(server, pages):
    root = pages("root")
    guidelines = "Prefer **correct** answers.\n\n<script>alert(1)</script>"
    *values, message = root.call("admin_save_settings", "second", 4, 0.25, 2.5, guidelines,
                                 THRESHOLDS)
    assert "Saved the settings of &#x27;second&#x27;." in message
    saved = _study(server, "second")
    assert (saved["overlap"], saved["gold_rate"], saved["guidelines"]) == (4, 0.25, guidelines)
    assert saved["meta"]["min_seconds_on_screen"] == 2.5
    # Stored with every threshold filled in, as DecisionThresholds has them.
    assert saved["thresholds"] == {
        "method": "anytime", "margin": 0.1, "min_judgments": 40, "max_both_bad_rate": 0.2,
        "guardrail_categories": ["safety"], "guardrail_margin": 0.05, "min_category_prompts": 10,
        "min_gold_accuracy": 0.7, "min_gold_answered": 3, "two_way": False, "confidence": 0.95,
        "power": 0.8}
    shown = _settings(root.call("admin_study", "second"))
    assert (shown["overlap"], shown["gold_rate"], shown["min_seconds"], shown["guidelines"]) == (
        4, 0.25, 2.5, guidelines)
    assert '"margin": 0.1' in shown["thresholds"] and "active" in shown["status"]
    assert "Nobody is on this study yet." in shown["members"]


@pytest.mark.parametrize(("overlap", "gold_rate", "min_seconds", "thresholds", "error"), [
    (2, 0.1, 1, '{"margin": 0.7}',
     r"invalid decision threshold\(s\): margin=0.7 \(margin must be from 0 to below 0.5\)"),
    (2, 0.1, 1, '{"margin": 0.1', "decision thresholds are not valid JSON"),
    (2, 0.1, 1, '{"margins": 0.1}', r"unknown decision threshold\(s\): margins"),
    (2, 0.1, 1, '{"margin": "high"}', "decision threshold 'margin' must be a number"),
    (2, 0.1, 1, '{"guardrail_categories": "safety"}', "must be a list of category names"),
    (2, 0.1, 1, "[0.1]", "must be a JSON object"),
    (2, 1.5, 1, "{}", "gold rate must be between 0 and 1|maximum value 1"),
    (0, 0.1, 1, "{}", "overlap must be a whole number from 1 to 50|minimum value 1"),
    (2, 0.1, -1, "{}", "minimum seconds on screen must be from 0 to 600|minimum value 0"),
    (2, 0.1, 601, "{}", "minimum seconds on screen must be from 0 to 600|maximum value 600"),
])
def test_invalid_settings_are_refused_and_nothing_changes(server, pages, overlap, gold_rate,
                                                          min_seconds, thresholds, error):
    before = _study(server, "second")
    with pytest.raises(PageError, match=error):
        pages("root").call("admin_save_settings", "second", overlap, gold_rate, min_seconds,
                           "new guidelines", thresholds)
    assert _study(server, "second") == before


def test_a_paused_study_hands_out_no_new_items(server, clients, pages):
    root, ana = pages("root"), clients("ana")
    status, message = root.call("admin_pause", STUDY)
    assert "paused" in status and "hands out no new items" in message
    assert _study(server)["status"] == "paused"
    assert api_ok(ana.get(f"api/v1/studies/{STUDY}/next"))["assignment_id"] is None
    (table,) = pages("ann").call("dashboard_progress")
    assert "dash-status-paused" in table

    status, _ = root.call("admin_resume", STUDY)
    assert "active" in status and _study(server)["status"] == "active"
    assert api_ok(ana.get(f"api/v1/studies/{STUDY}/next"))["assignment_id"] is not None
    with pytest.raises(PageError, match="no study named 'gone'"):
        root.call("admin_pause", "gone")


def test_the_admin_strips_boilerplate_and_reviewers_see_answers_without_it(server, clients, pages):
    root, cy = pages("root"), clients("cy")
    model, opening, closing, message = root.call("admin_suggest_boilerplate", "lumora", None)
    assert (model, opening, closing) == (CANDIDATE, OPENING, CLOSING)
    assert f"4 of 4 answers of {CANDIDATE} start with {OPENING!r}" in html.unescape(message)
    # Only the opening: the closing stays.
    shown, message = root.call("admin_strip", "lumora", CANDIDATE, OPENING, "")
    assert (f"Answers of {CANDIDATE} are shown to reviewers without the opening {OPENING!r}."
            in html.unescape(shown))
    assert f"Reviewers see 4 of the 4 answers of {CANDIDATE} without it." in html.unescape(message)
    assert _study(server, "lumora")["meta"]["boilerplate"][CANDIDATE]["opening"] == OPENING

    item = api_ok(cy.get("api/v1/studies/lumora/next"))  # the JSON API a script uses
    answers = [item["left"], item["right"]]
    assert not any(OPENING in text for text in answers)
    assert any(text.startswith("Press the ring") and text.endswith(CLOSING) for text in answers)
    *_, shown, strip_model, shown_opening, shown_closing, _ = root.call("admin_study", "lumora")
    assert strip_model["value"] == CANDIDATE and (shown_opening, shown_closing) == (OPENING, "")

    shown, opening, closing, message = root.call("admin_unstrip", "lumora", CANDIDATE)
    assert "Nothing is stripped" in shown and (opening, closing) == ("", "")
    again = api_ok(cy.get(f"api/v1/assignments/{item['assignment_id']}"))
    assert any(text.startswith(OPENING) for text in (again["left"], again["right"]))
    assert "boilerplate" not in _study(server, "lumora")["meta"]
    with pytest.raises(PageError, match=f"study 'lumora' compares {BASELINE} and {CANDIDATE}, not 'nope'"):
        root.call("admin_strip", "lumora", "nope", OPENING, "")
    message = root.call("admin_suggest_boilerplate", "blind", None)[-1]
    assert "nothing to suggest" in message


def test_the_admin_sets_the_seconds_on_screen_before_a_vote_counts(server, clients, pages):
    # The server times a vote from handing the item out; the longest minimum (600 s) is
    # certainly not over for an item handed out during this module.
    root, cy = pages("root"), clients("cy")
    *_, message = root.call("admin_save_settings", "lumora", 1, 0.0, 600, "", "{}")
    assert "Saved the settings" in message
    assert _study(server, "lumora")["meta"]["min_seconds_on_screen"] == 600.0
    assert _settings(root.call("admin_study", "lumora"))["min_seconds"] == 600
    item = api_ok(cy.get("api/v1/studies/lumora/next"))
    vote = f"api/v1/assignments/{item['assignment_id']}/vote"
    refused = api_ok(cy.post(vote, json={"choice": "left"}), status=400)
    assert "read both answers first (votes count after 600 s)" in refused["detail"]
    assert judgments_of(server, "cy") == []  # nothing recorded
    root.call("admin_save_settings", "lumora", 1, 0.0, 0, "", "{}")
    recorded = api_ok(cy.post(vote, json={"choice": "left"}))
    assert recorded["judgment"]["assignment_id"] == item["assignment_id"]
    assert recorded["judgment"]["choice"] == "left" and recorded["judgment"]["seconds"] >= 0
    (judgment,) = judgments_of(server, "cy")
    assert judgment.choice == "left" and judgment.seconds == recorded["judgment"]["seconds"]


def test_the_seconds_on_screen_from_the_command_line(server, pages, cli):
    code, out, err = cli("studies", "set-min-seconds", "--study", "second", "--seconds", "2.5")
    assert code == 0, err
    assert out.strip() == "study 'second': a vote counts once its item was on screen 2.5 s"
    assert _study(server, "second")["meta"]["min_seconds_on_screen"] == 2.5
    assert _settings(pages("root").call("admin_study", "second"))["min_seconds"] == 2.5
    code, out, _ = cli("studies", "set-min-seconds", "--study", "second", "--seconds", "0", "--json")
    assert code == 0 and out.strip().startswith("{") and '"min_seconds": 0.0' in out
    for seconds in ("-1", "nan", "inf", "601", "1e9"):
        code, out, err = cli("studies", "set-min-seconds", "--study", "second", "--seconds", seconds)
        assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, seconds
        assert err.startswith("error: minimum seconds on screen must be"), err
    code, _, err = cli("studies", "set-min-seconds", "--study", "second", "--seconds", "abc")
    assert code == 1 and err.strip() == "error: minimum seconds on screen must be a number, got 'abc'"
    code, _, err = cli("studies", "set-min-seconds", "--study", "nope", "--seconds", "2")
    assert code == 1 and err.strip().startswith("error: no study named 'nope'")
    assert _study(server, "second")["meta"]["min_seconds_on_screen"] == 0.0


# --------------------------------------------------------------------------- services


def test_services_validate_before_writing(server):
    from review.campaign.administration import (
        InvalidSetting,
        parse_thresholds,
        set_study_status,
        study_settings,
        update_study_settings,
    )

    # Hand-checked against DecisionThresholds' defaults.
    assert parse_thresholds("") == parse_thresholds({}) == {
        "method": "anytime", "margin": 0.05, "min_judgments": 100, "max_both_bad_rate": 0.2,
        "guardrail_categories": [], "guardrail_margin": 0.05, "min_category_prompts": 10,
        "min_gold_accuracy": 0.7, "min_gold_answered": 3, "two_way": False, "confidence": 0.95,
        "power": 0.8}
    assert parse_thresholds('{"method": "fixed", "two_way": true}')["two_way"] is True
    for bad in ('{"min_judgments": 1e999}', '{"power": true}', '{"min_judgments": 2.5}', "null",
                '{"method": "bayes"}', '{"two_way": 1}', '{"method": 1}'):
        with pytest.raises(InvalidSetting):
            parse_thresholds(bad)
    with session_scope(server.engine, write=True) as session:
        before = study_settings(session=session, study="second")
        with pytest.raises(InvalidSetting, match=r"confidence=2 \(confidence must be from 0.5"):
            update_study_settings(session=session, study="second", overlap=5,
                                  thresholds='{"confidence": 2}')
        assert study_settings(session=session, study="second") == before  # overlap untouched
        with pytest.raises(InvalidSetting, match="unknown study status 'done'"):
            set_study_status(session=session, study="second", status="done")
        assert update_study_settings(session=session, study="second").overlap == before.overlap


def test_the_admin_lets_a_verdict_use_a_model_judge(server, pages):
    root = pages("root")
    judge_choice = _settings(root.call("admin_study", "second"))["judge"]
    assert [c[0] for c in judge_choice["choices"]] == ["(none)", "judge:gpt"]
    assert judge_choice["value"] == "(none)"
    outputs = _settings(root.call("admin_use_judge", "second", "judge:gpt", None))
    assert "The verdict uses judge:gpt; 2 of 2 items are for people." in outputs["message"]
    assert outputs["judge"]["value"] == "judge:gpt"
    with session_scope(server.engine) as session:
        study = session.scalar(select(Study).where(Study.name == "second"))
        assert study.judge.name == "judge:gpt" and study.human_budget is None
    with pytest.raises(PageError, match="at least 20"):
        root.call("admin_use_judge", "second", "judge:gpt", 4)
    with pytest.raises(PageError, match="is a person, not a model judge"):
        root.call("admin_use_judge", "second", "ana", None)
    outputs = root.call("admin_use_judge", "second", "(none)", None)
    assert "The verdict uses people only." in outputs[-1]
    with session_scope(server.engine) as session:
        assert session.scalar(select(Study).where(Study.name == "second")).judge_id is None


# --------------------------------------------------------------------------- browser


def test_the_admin_tab_in_chromium(server, chromium_browser, screenshot_dir):
    from playwright.sync_api import expect

    from tests.web.test_dashboard import choose

    context, page, dialogs = open_logged_in(chromium_browser, server, "root",
                                            viewport={"width": 1280, "height": 900}, ready=None)
    try:
        page.get_by_role("tab", name="Admin").click()
        expect(page.locator("#admin-accounts")).to_contain_text("ann", timeout=20_000)
        choose(page, "admin-study", STUDY)
        expect(page.locator("#admin-status")).to_contain_text("active", timeout=20_000)
        page.locator("#admin-pause").click()
        expect(page.locator("#admin-status")).to_contain_text("paused", timeout=20_000)
        assert _study(server)["status"] == "paused"
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshot_dir / "admin.png"), full_page=True)
        page.locator("#admin-resume").click()
        expect(page.locator("#admin-status")).to_contain_text("active", timeout=20_000)
        assert _study(server)["status"] == "active"

        # Boilerplate: suggested from the answers, then stripped; seconds on screen saved.
        choose(page, "admin-study", "lumora")
        opening = page.locator("#admin-strip-opening textarea, #admin-strip-opening input").first
        expect(opening).to_have_value("", timeout=20_000)
        page.locator("#admin-suggest").click()
        expect(opening).to_have_value(OPENING, timeout=20_000)
        page.locator("#admin-strip").click()
        expect(page.locator("#admin-boilerplate")).to_contain_text(OPENING, timeout=20_000)
        assert _study(server, "lumora")["meta"]["boilerplate"][CANDIDATE]["closing"] == CLOSING
        page.locator("#admin-min-seconds input").fill("4")
        page.locator("#admin-save").click()
        expect(page.locator("#admin-study-message")).to_contain_text("Saved the settings", timeout=20_000)
        assert _study(server, "lumora")["meta"]["min_seconds_on_screen"] == 4.0
        page.locator("#admin-unstrip").click()
        expect(page.locator("#admin-boilerplate")).to_contain_text("Nothing is stripped", timeout=20_000)
        assert dialogs == []
    finally:
        context.close()
