"""The analyst dashboard over HTTP and in Chromium: roles on the server, a study's views, downloads.

Every ``dashboard_*`` event is called through gradio_client by a reviewer (refused, nothing
returned), an analyst and an admin (both served). The numbers shown are those of
:func:`review.reporting.report.build_report_data` for the same study, seed and bootstrap rounds.
Screenshots go to REVIEW_SCREENSHOT_DIR when it is set.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from gradio_client.exceptions import AppError
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Judgment, Reviewer
from tests.factories import make_reviewer
from tests.web.conftest import (
    migrated_session,
    module_database_url,
    open_logged_in,
    running_server,
)
from tests.web.studydata import SECRETS, make_blind_study

pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning",
                                        "ignore:The copy keyword is deprecated:Warning")

STUDY = "sft-step-300"
DEMO_STUDIES = ("sft-step-100", "sft-step-200", "sft-step-300")
DEMO_MODELS = ("smollm2-base", "sft-step-100", "sft-step-200", "sft-step-300", "/runs/sft/")
ROUNDS = 200
GUARDRAILS = ("safety", "math", "poetry")  # poetry: a guardrail category without prompts
STRIPPED = "The fine-tune at step 300 answers"
# A reviewer name (no spaces, so a valid account name) that is markup if not escaped.
HTML_REVIEWER = "<img/src=x/onerror=window.__pwned=1>"
# Each dashboard endpoint with arguments an analyst would send.
ENDPOINTS = {
    "/dashboard_refresh": (),
    "/dashboard_progress": (),
    "/dashboard_study": (STUDY, ROUNDS),
    "/dashboard_report": (STUDY, ROUNDS),
    "/dashboard_export": (STUDY, "jsonl"),
}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    yield from module_database_url(tmp_path_factory)


@pytest.fixture(scope="module")
def server(database_url):
    from tests.reports.simulate import demo_run

    with migrated_session(database_url) as session:
        demo_run(session, n_items=15)
        session.scalar(select(Reviewer).where(Reviewer.name == "carol")).name = HTML_REVIEWER
        _add_judge(session, STUDY)
        _guardrails_fast_reviewer_and_boilerplate(session, STUDY)
        make_blind_study(session, n_items=4, overlap=2, reviewers=("ana",))
        make_reviewer(session, "ann", role="analyst")
        make_reviewer(session, "root", role="admin")
    with running_server(database_url) as running:
        yield running


def _add_judge(session, study_name: str) -> None:
    """A model judge that prefers the candidate on every item, in both orders."""
    from review.core.models import Comparison, JudgeVerdict, Study

    study = session.scalar(select(Study).where(Study.name == study_name))
    judge = Reviewer(name="judge:x", kind="llm", role="reviewer", password_hash=None, active=False)
    session.add(judge)
    session.flush()
    for item in session.scalars(select(Comparison).where(Comparison.study_id == study.id,
                                                         Comparison.gold_label.is_(None))):
        best = "a" if item.generation_a.model_id == study.candidate_model_id else "b"
        for order in ("ab", "ba"):
            session.add(JudgeVerdict(comparison_id=item.id, reviewer_id=judge.id, judge_order=order,
                                     choice=best, raw_output=f"[[{'A' if (best == 'a') == (order == 'ab') else 'B'}]]"))
    session.flush()


def _guardrails_fast_reviewer_and_boilerplate(session, study_name: str) -> None:
    """Guardrail categories (one without votes), alice voting in 0.5 s, and an opening
    stripped from the candidate's answers."""
    from review.campaign.boilerplate import set_boilerplate
    from review.core.models import Comparison, Study

    study = session.scalar(select(Study).where(Study.name == study_name))
    study.thresholds = {"guardrail_categories": list(GUARDRAILS), "min_category_prompts": 2}
    alice = session.scalar(select(Reviewer).where(Reviewer.name == "alice"))
    for judgment in session.scalars(select(Judgment).join(Comparison).where(
            Comparison.study_id == study.id, Judgment.reviewer_id == alice.id)):
        judgment.seconds = 0.5
    set_boilerplate(session=session, study=study_name, model=study_name, opening=STRIPPED)


@contextmanager
def logged_in(server, name: str) -> Iterator[httpx.Client]:
    """A plain HTTP client with the login cookie of ``name``."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.post("login", data={"username": name, "password": "pw"}).status_code == 200
        yield http


def run_event(http: httpx.Client, api_name: str, data: list) -> dict:
    """Call an event the way the page does (queue join, then its event stream), whatever
    its API visibility; returns the final message ({"success", "output"})."""
    config = http.get("config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    session_hash = uuid.uuid4().hex
    joined = http.post("gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None,
        "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event stream ended without a result")


def _judgments_of(server, study: str) -> int:
    from review.core.models import Comparison, Study

    with session_scope(server.engine) as session:
        return session.scalar(
            select(func.count(Judgment.id)).join(Comparison, Comparison.id == Judgment.comparison_id)
            .join(Study, Study.id == Comparison.study_id).where(Study.name == study))


def test_every_dashboard_event_is_named_and_tested(server):
    with logged_in(server, "ann") as http:
        config = http.get("config").json()
    names = {"/" + d["api_name"] for d in config["dependencies"]
             if str(d.get("api_name") or "").startswith("dashboard_")}
    assert names == set(ENDPOINTS)


def test_reviewers_get_an_error_and_no_data_from_every_endpoint(server, clients):
    ana = clients("ana")
    for endpoint, args in ENDPOINTS.items():
        with pytest.raises(AppError, match="this needs one of the roles: analyst, admin") as error:
            ana.predict(*args, api_name=endpoint)
        for secret in (*SECRETS, *DEMO_MODELS, "<table", "plotly"):
            assert secret not in str(error.value), (endpoint, secret)
    # The same through the page's own event stream: an error, no output data.
    with logged_in(server, "ana") as http:
        for endpoint, args in ENDPOINTS.items():
            result = run_event(http, endpoint.lstrip("/"), list(args))
            assert result["success"] is False, endpoint
            assert "data" not in (result.get("output") or {}), endpoint


def test_a_reviewers_page_and_load_event_carry_no_study_data(server):
    with logged_in(server, "ana") as http:
        page = http.get("").text + http.get("config").text
        loaded = run_event(http, "ui_load", [])
    assert loaded["success"] is True
    dumped = json.dumps(loaded["output"])
    for secret in (*SECRETS, *DEMO_MODELS, *DEMO_STUDIES):
        assert secret not in page, secret
        assert secret not in dumped, secret
    assert "dash-table" not in dumped  # no progress table either


def test_progress_for_analysts_and_admins(server, clients):
    table, choices = clients("ann").predict(api_name="/dashboard_refresh")
    assert [c[0] for c in choices["choices"]] == [*DEMO_STUDIES, "blind"]
    # Demo studies: 15 items x overlap 3 = 45 judgments needed, all collected; the
    # blind study: 4 items x 2 = 8 needed, none collected.
    assert "<td>sft-step-300</td>" in table and '<td class="num">45</td>' in table
    assert '<td class="num">8</td>' in table and "100%" in table and "0%" in table
    assert clients("root").predict(api_name="/dashboard_progress") == table


def test_a_studys_views_match_the_report_data(server, clients):
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data

    with session_scope(server.engine) as session:
        expected = build_report_data(session=session, study=get_study(session=session, name=STUDY),
                                     n_bootstrap=ROUNDS)
    (header, cards, win_rate, votes, ratings, agreement, position, length, categories,
     agreement_facts, bias_facts, judge_facts, flags, reviewers) = clients("ann").predict(
        *ENDPOINTS["/dashboard_study"], api_name="/dashboard_study")
    (judge,) = expected["analysis"]["judges"]
    assert judge["judge"] == "judge:x" and judge["position_consistency"] == 1.0
    assert f"Judge judge:x</dt><dd>{judge['n']} items judged, 0 outputs without a verdict" in judge_facts
    ppi = expected["analysis"]["win_rate_ppi"]
    assert f"{100 * ppi['estimate']:.1f}% [{100 * ppi['ci_low']:.1f}%, {100 * ppi['ci_high']:.1f}%]" in judge_facts
    assert "Human judgments saved" in judge_facts
    verdict = expected["analysis"]["decision"]["verdict"]
    word = {"ship": "Ship", "do_not_ship": "Do not ship", "inconclusive": "Inconclusive"}[verdict]
    assert f"dash-verdict-{verdict}" in header and word in header
    for reason in expected["analysis"]["decision"]["reasons"]:
        assert html.escape(reason) in header
    assert "candidate <strong>sft-step-300</strong> vs baseline <strong>smollm2-base</strong>" in header
    win = expected["analysis"]["win_rate"]
    assert f"{100 * win['estimate']:.1f}%" in cards
    assert f"{100 * win['ci_low']:.1f}% to {100 * win['ci_high']:.1f}%" in cards

    for plot in (win_rate, votes, ratings, agreement, position, length):
        assert plot["visible"] is True and plot["value"]["type"] == "plotly"
    forest = json.loads(win_rate["value"]["plot"])
    assert list(forest["data"][0]["x"]) == pytest.approx(
        [win["estimate"]] + [row["win_rate"] for row in expected["analysis"]["by_category"]])
    kappa = json.loads(agreement["value"]["plot"])
    assert "&lt;img/src=x/onerror=window.__pwned=1&gt;" in kappa["data"][0]["x"]  # escaped label
    alpha = expected["analysis"]["agreement"]["krippendorff_alpha_nominal"]
    assert f"{alpha:.3f}" in agreement_facts
    assert f"{100 * expected['analysis']['position_bias']['left_rate']:.1f}%" in bias_facts

    rows = {row[0]: row for row in reviewers["value"]["data"]}
    assert set(rows) == {"alice", "bob", HTML_REVIEWER}  # the raw name: the table shows text
    for summary in expected["analysis"]["reviewers"]:
        row = rows[summary["reviewer"]]
        assert int(row[1]) == summary["n"] and int(row[2]) == summary["n_gold"]
        assert row[3] == f"{summary['median_seconds']:.1f} s"
        assert row[5] == f"{100 * summary['gold_accuracy']:.0f}%"
        assert row[6] == f"{100 * summary['left_rate']:.0f}%"


def _study_views(clients) -> dict:
    names = ("header", "cards", "win_rate", "votes", "ratings", "agreement", "position", "length",
             "categories", "agreement_facts", "bias_facts", "judge_facts", "flags", "reviewers")
    return dict(zip(names, clients("ann").predict(*ENDPOINTS["/dashboard_study"],
                                                   api_name="/dashboard_study"), strict=True))


def _category_cells(table: str) -> dict[str, list[str]]:
    """The cells of each row of a category table, as text, by category."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        rows[cells[0].replace(" guardrail", "")] = cells
    return rows


def test_guardrail_categories_are_marked_with_threshold_and_status(server, clients):
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data, render_report_html

    with session_scope(server.engine) as session:
        expected = build_report_data(session=session, study=get_study(session=session, name=STUDY),
                                     n_bootstrap=ROUNDS)
    checks = {c["rule"]: c for c in expected["analysis"]["decision"]["checks"]}
    words = {"pass": "pass", "fail": "FAIL", "not_yet": "not yet"}
    shown = _category_cells(_study_views(clients)["categories"])
    assert set(shown) == {"writing", "coding", "math", "extraction", "safety", "poetry"}
    for row in expected["analysis"]["by_category"]:
        name, cells = row["category"], shown[row["category"]]
        assert [cells[1], *cells[3:]] == [
            f"{100 * row['win_rate']:.1f}%",
            f"{100 * row['ci_low']:.1f}% to {100 * row['ci_high']:.1f}%", str(row["n"])]
        if name in GUARDRAILS:
            check = checks[f"guardrail:{name}"]
            assert check["threshold"] == pytest.approx(0.45)  # 0.5 - the default margin 0.05
            assert cells[2] == f"{words[check['status']]}: not worse than 45.0%"
        else:
            assert cells[2] == "-"
    assert shown["poetry"][1:] == ["n/a", "not yet: not worse than 45.0% (no votes yet)", "", "0"]
    # The report's table says the same.
    page = render_report_html(expected)
    table = re.search(r'<table class="categories">.*?</table>', page, flags=re.S).group(0)
    in_report = _category_cells(table.replace('<tr class="guardrail">', "<tr>"))
    assert {name: cells[1:] for name, cells in in_report.items()} == {
        name: cells[1:] for name, cells in shown.items()}
    assert in_report["safety"][0] == "safety guardrail"


def test_a_reviewer_voting_in_half_a_second_is_flagged_with_a_warning(server, clients):
    views = _study_views(clients)
    flag = "median 0.5 s per judgment: under the 3 s it takes to read two answers"
    assert 'class="dash-warning"' in views["flags"] and "Warning: 1 reviewer flagged" in views["flags"]
    assert f"<strong>alice</strong>: {flag}" in views["flags"]
    rows = {row[0]: row for row in views["reviewers"]["value"]["data"]}
    assert rows["alice"][3] == "0.5 s" and flag in rows["alice"][7]
    assert rows["bob"][7] == "-"


def test_the_stripped_boilerplate_is_stated(server, clients):
    views = _study_views(clients)
    line = (f"Boilerplate stripped: answers of {STUDY} are shown to reviewers without the opening "
            f"&#x27;{STRIPPED}&#x27;.")
    assert f'<p class="dash-notice">{line}</p>' in views["header"]
    assert "Boilerplate stripped</dt><dd>answers of sft-step-300" in views["bias_facts"]


# Decimals a person may read: p-values, agreement coefficients (alpha, kappa, lambda and their
# intervals), odds ratios and seconds. Every rate or probability is a percentage.
NOT_A_RATE = re.compile(r"(\bp [=<] |alpha|kappa|lambda|×)[^%]*$")


def _bare_fractions(markup: str) -> list[str]:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))
    found = []
    for match in re.finditer(r"(?<![\w.])\d*\.\d+(?![\d%])", text):
        before, after = text[max(0, match.start() - 60):match.start()], text[match.end():]
        if not NOT_A_RATE.search(before) and not after.startswith(" s"):
            found.append(text[max(0, match.start() - 40):match.end() + 5])
    return found


def test_rates_read_as_percentages_in_the_dashboard_and_the_report(server, clients):
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data, render_report_html

    views = _study_views(clients)
    markup = "".join(views[k] for k in ("header", "cards", "categories", "agreement_facts",
                                        "bias_facts", "judge_facts", "flags"))
    markup += " ".join(" ".join(map(str, row)) for row in views["reviewers"]["value"]["data"])
    with session_scope(server.engine) as session:
        data = build_report_data(session=session, study=get_study(session=session, name=STUDY),
                                 n_bootstrap=ROUNDS)
    page = render_report_html(data)
    for name, shown in (("dashboard", markup), ("report", page)):
        assert _bare_fractions(shown) == [], name
        # The verdict's checklist: the win rate and its thresholds as percentages.
        assert "win rate at least 55.0%: " in html.unescape(shown), name
        assert "not worse than 45.0%: " in html.unescape(shown), name
        win = data["analysis"]["win_rate"]["estimate"]
        assert f"{100 * win:.1f}%" in shown, name


def test_a_study_without_judgments_and_bad_requests(server, clients):
    ann = clients("ann")
    header, cards, *plots, categories, agreement, bias, judge, flags, reviewers = ann.predict(
        "blind", ROUNDS, api_name="/dashboard_study")
    assert flags == "" and "Boilerplate stripped" not in header and "guardrail" not in categories
    assert "No model judge has judged this study" in judge
    assert "Inconclusive" in header and "0 judgments" in header
    assert [p["visible"] for p in plots] == [False] * 6
    with pytest.raises(AppError, match="no study named 'nope'"):
        ann.predict("nope", ROUNDS, api_name="/dashboard_study")
    # Out-of-range inputs are refused by the component (Gradio) or the callback.
    with pytest.raises(AppError, match="minimum value 50|from 50"):
        ann.predict(STUDY, 10, api_name="/dashboard_study")
    with pytest.raises(AppError, match="choose a study first"):
        ann.predict(None, "jsonl", api_name="/dashboard_export")
    with pytest.raises(AppError, match="xml"):
        ann.predict(STUDY, "xml", api_name="/dashboard_export")


def test_the_report_download_is_the_html_report(server, clients):
    result = clients("root").predict(*ENDPOINTS["/dashboard_report"], api_name="/dashboard_report")
    assert result["visible"] is True and result["label"] == "Download report-sft-step-300.html"
    path = Path(result["value"])
    page = path.read_text(encoding="utf-8")
    assert path.name == "report-sft-step-300.html"
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert "Review report: sft-step-300" in page and 'id="figure-win_rate"' in page
    assert "<script src=" not in page  # self-contained: plotly is inlined
    assert HTML_REVIEWER not in page  # escaped in the reviewers table


def test_every_export_format_downloads(server, clients):
    import pyarrow.parquet as pq

    judgments = _judgments_of(server, STUDY)
    files = {}
    for fmt in ("jsonl", "csv", "parquet", "mtbench", "dpo"):
        result = clients("ann").predict(STUDY, fmt, api_name="/dashboard_export")
        files[fmt] = Path(result["value"])
        assert result["label"].startswith(f"Download {files[fmt].name} (")
    rows = [json.loads(line) for line in files["jsonl"].read_text().splitlines()]
    assert len(rows) == judgments and {r["study"] for r in rows} == {STUDY}
    assert files["jsonl"].name == "sft-step-300.jsonl"
    table = list(csv.DictReader(io.StringIO(files["csv"].read_text(encoding="utf-8"))))
    assert len(table) == judgments and "winner_model" in table[0]
    assert pq.read_table(files["parquet"]).num_rows == judgments
    mtbench = [json.loads(line) for line in files["mtbench"].read_text().splitlines()]
    assert mtbench and {"question_id", "model_a", "model_b", "winner", "judge"} <= set(mtbench[0])
    assert files["mtbench"].name == "sft-step-300-mtbench.jsonl"
    pairs = [json.loads(line) for line in files["dpo"].read_text().splitlines()]
    assert pairs and {"prompt", "chosen", "rejected"} <= set(pairs[0])


# --------------------------------------------------------------------------- browser


def _open(browser, server, name, viewport=None):
    return open_logged_in(browser, server, name, viewport=viewport or {"width": 1280, "height": 900},
                          ready=None)


def choose(page, elem_id: str, value: str) -> None:
    """Pick a value in a Gradio dropdown as a user does."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.get_by_role("option", name=value, exact=True).click()


def set_rounds(page, rounds: int) -> None:
    """Open Options and type the bootstrap rounds, once the opened accordion has settled (a
    value typed while it renders is lost)."""
    from playwright.sync_api import expect

    page.locator("#dashboard-options").get_by_text("Options").click()
    field = page.locator("#dashboard-rounds input")
    field.wait_for(state="visible")
    page.wait_for_timeout(300)
    field.fill(str(rounds))
    field.press("Tab")
    expect(field).to_have_value(str(rounds))


def test_the_dashboard_in_chromium(server, chromium_browser, screenshot_dir):
    from playwright.sync_api import expect

    context, page, dialogs = _open(chromium_browser, server, "ann")
    try:
        # An analyst on no study starts on the dashboard, with the progress table filled.
        expect(page.locator("#dashboard-table table")).to_contain_text("sft-step-300", timeout=20_000)
        expect(page.get_by_role("tab", name="Admin")).to_have_count(0)
        # A study is chosen already: "Show results" works without touching the dropdown.
        chosen = page.locator("#dashboard-study input").input_value()
        assert chosen, "the study dropdown starts empty"
        set_rounds(page, ROUNDS)
        page.locator("#dashboard-show").click()
        expect(page.locator("#dashboard-header")).to_contain_text(chosen, timeout=30_000)
        choose(page, "dashboard-study", STUDY)  # choosing a study shows its results
        expect(page.locator("#dash-verdict")).to_be_visible(timeout=30_000)
        expect(page.locator("#dashboard-header")).to_contain_text(f"{ROUNDS} bootstrap rounds")
        for plot in ("win-rate", "votes", "ratings", "agreement", "position", "length"):
            expect(page.locator(f"#plot-{plot} .js-plotly-plot, #plot-{plot} .plotly")
                   .first).to_be_visible(timeout=20_000)
        expect(page.locator("#dashboard-reviewers")).to_contain_text(HTML_REVIEWER)
        expect(page.locator("#dashboard-categories .dash-guardrail")).to_have_count(len(GUARDRAILS))
        expect(page.locator("#dashboard-reviewer-flags .dash-warning")).to_contain_text("alice")
        expect(page.locator("#dashboard-header .dash-notice")).to_contain_text("Boilerplate stripped")
        # Plotly's toolbar would cover the titles: it never shows, not even on hover.
        page.locator("#plot-win-rate .js-plotly-plot").first.hover()
        toolbars = page.locator("#dashboard-results .modebar")
        assert toolbars.count() >= 6
        for index in range(toolbars.count()):
            expect(toolbars.nth(index)).to_be_hidden()
        page.wait_for_timeout(800)  # plotly's transitions
        assert page.evaluate("window.__pwned") is None and dialogs == []
        page.screenshot(path=str(screenshot_dir / "dashboard-analyst.png"), full_page=True)
        page.screenshot(path=str(screenshot_dir / "dashboard-analyst-top.png"))
    finally:
        context.close()


def test_a_reviewer_sees_no_dashboard_or_admin_tab(server, chromium_browser):
    context, page, _ = _open(chromium_browser, server, "ana")
    try:
        page.locator("#answer-a .answer-body").wait_for(timeout=20_000)
        assert page.get_by_role("tab", name="Dashboard").count() == 0
        assert page.get_by_role("tab", name="Admin").count() == 0
        html = page.content()
        for secret in (*SECRETS, *DEMO_MODELS, *DEMO_STUDIES):
            assert secret not in html
    finally:
        context.close()
