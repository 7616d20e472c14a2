"""The analyst dashboard over HTTP and in Chromium: roles on the server, a study's views, downloads.

Every ``dashboard_*`` event is called as the page calls it (``POST /gradio_api/run/predict``)
by a reviewer (refused, nothing returned), an analyst and an admin (both served). The numbers
shown are those of :func:`review.reporting.report.build_report_data` for the same study, seed
and bootstrap rounds. The downloads are links to the JSON API's report and export routes,
fetched here as the analyst's browser would. Screenshots go to REVIEW_SCREENSHOT_DIR when it
is set.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Judgment, Reviewer
from tests.factories import make_reviewer
from tests.web.conftest import (
    PageError,
    api_ok,
    migrated_session,
    open_logged_in,
    running_server,
)
from tests.web.studydata import SECRETS, make_blind_study

STUDY = "sft-step-300"
DEMO_STUDIES = ("sft-step-100", "sft-step-200", "sft-step-300")
DEMO_MODELS = ("smollm2-base", "sft-step-100", "sft-step-200", "sft-step-300", "/runs/sft/")
ROUNDS = 200
GUARDRAILS = ("safety", "math", "poetry")  # poetry: a guardrail category without prompts
STRIPPED = "The fine-tune at step 300 answers"
# A reviewer name (no spaces, so a valid account name) that is markup if not escaped.
HTML_REVIEWER = "<img/src=x/onerror=window.__pwned=1>"
EXPORT_FORMATS = ("jsonl", "csv", "parquet", "mtbench", "dpo")
# Each dashboard event with the inputs an analyst's page would send.
EVENTS = {
    "dashboard_refresh": (),
    "dashboard_progress": (),
    "dashboard_study": (STUDY, ROUNDS),
}
# The outputs of dashboard_study, as the page gets them.
STUDY_VIEWS = ("results", "header", "cards", "win_rate", "votes", "ratings", "agreement",
               "position", "length", "categories", "agreement_facts", "bias_facts", "judge_facts",
               "flags", "reviewers", "downloads")
PLOT_VIEWS = STUDY_VIEWS[3:9]


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    from tests.reports.simulate import demo_run

    with migrated_session(database_url) as session:
        demo_run(session, n_items=15)
        session.scalar(select(Reviewer).where(Reviewer.name == "carol")).name = HTML_REVIEWER
        _add_judge(session, STUDY)
        _guardrails_fast_reviewer_and_boilerplate(session, STUDY)
        make_blind_study(session, n_items=4, overlap=2, reviewers=("ana",))
        make_reviewer(session, "ann", role="analyst")
        make_reviewer(session, "root", role="admin")
    # Gradio's own folder for files it serves (uploads, downloads): one of this module's, so a
    # test can tell that nothing is written there.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-files")))
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


def _judgments_of(server, study: str) -> int:
    from review.core.models import Comparison, Study

    with session_scope(server.engine) as session:
        return session.scalar(
            select(func.count(Judgment.id)).join(Comparison, Comparison.id == Judgment.comparison_id)
            .join(Study, Study.id == Comparison.study_id).where(Study.name == study))


def _study_views(pages, name: str = "ann", study: str | None = STUDY, rounds: int = ROUNDS) -> dict:
    """The outputs of "Show results" (dashboard_study) for ``name``, by component."""
    return dict(zip(STUDY_VIEWS, pages(name).call("dashboard_study", study, rounds), strict=True))


def _links(markup: str) -> list[str]:
    """The targets of the links in ``markup``, in order."""
    return [html.unescape(href) for href in re.findall(r'<a [^>]*href="([^"]*)"', markup)]


def _download_links(pages, name: str = "ann") -> tuple[str, dict[str, str]]:
    """The report's link and each export format's link, from "Show results"."""
    report, *exports = _links(_study_views(pages, name)["downloads"])
    return report, {re.search(r"format=(\w+)", link).group(1): link for link in exports}


def test_every_dashboard_event_is_named_and_tested(server, pages):
    names = {d["api_name"] for d in pages("ann").config["dependencies"]
             if str(d.get("api_name") or "").startswith("dashboard_")}
    assert names == set(EVENTS)


def test_reviewers_get_an_error_and_no_data_from_every_event(server, pages):
    ana = pages("ana")
    for event, args in EVENTS.items():
        with pytest.raises(PageError, match="this needs one of the roles: analyst, admin") as error:
            ana.call(event, *args)
        for secret in (*SECRETS, *DEMO_MODELS, "<table", "plotly"):
            assert secret not in str(error.value), (event, secret)
        # The whole answer: an error, no output data.
        answer = ana.post(event, *args)
        assert answer.status_code != 200 and "data" not in answer.json(), event
        for secret in (*SECRETS, *DEMO_MODELS, "<table", "plotly"):
            assert secret not in answer.text, (event, secret)


def test_a_reviewers_page_and_load_event_carry_no_study_data(server, clients, pages):
    page = clients("ana").get("").text  # the page's config is in it
    assert "window.gradio_config" in page
    loaded = pages("ana").post("ui_load")
    assert loaded.status_code == 200 and "error" not in loaded.json()
    dumped = json.dumps(loaded.json()["data"])
    for secret in (*SECRETS, *DEMO_MODELS, *DEMO_STUDIES):
        assert secret not in page, secret
        assert secret not in dumped, secret
    assert "dash-table" not in dumped  # no progress table either


def test_progress_for_analysts_and_admins(server, pages):
    table, choices = pages("ann").call("dashboard_refresh")
    assert [c[0] for c in choices["choices"]] == [*DEMO_STUDIES, "blind"]
    # Demo studies: 15 items x overlap 3 = 45 judgments needed, all collected; the
    # blind study: 4 items x 2 = 8 needed, none collected.
    assert "<td>sft-step-300</td>" in table and '<td class="num">45</td>' in table
    assert '<td class="num">8</td>' in table and "100%" in table and "0%" in table
    assert pages("root").call("dashboard_progress") == [table]


def test_a_studys_views_match_the_report_data(server, pages):
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data

    with session_scope(server.engine) as session:
        expected = build_report_data(session=session, study=get_study(session=session, name=STUDY),
                                     n_bootstrap=ROUNDS)
    views = _study_views(pages)
    header, cards, judge_facts = views["header"], views["cards"], views["judge_facts"]
    assert views["results"]["visible"] is True
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

    for name in PLOT_VIEWS:
        assert views[name]["visible"] is True and views[name]["value"]["type"] == "plotly", name
    forest = json.loads(views["win_rate"]["value"]["plot"])
    assert list(forest["data"][0]["x"]) == pytest.approx(
        [win["estimate"]] + [row["win_rate"] for row in expected["analysis"]["by_category"]])
    kappa = json.loads(views["agreement"]["value"]["plot"])
    assert "&lt;img/src=x/onerror=window.__pwned=1&gt;" in kappa["data"][0]["x"]  # escaped label
    alpha = expected["analysis"]["agreement"]["krippendorff_alpha_nominal"]
    assert f"{alpha:.3f}" in views["agreement_facts"]
    assert f"{100 * expected['analysis']['position_bias']['left_rate']:.1f}%" in views["bias_facts"]

    rows = {row[0]: row for row in views["reviewers"]["value"]["data"]}
    assert set(rows) == {"alice", "bob", HTML_REVIEWER}  # the raw name: the table shows text
    for summary in expected["analysis"]["reviewers"]:
        row = rows[summary["reviewer"]]
        assert int(row[1]) == summary["n"] and int(row[2]) == summary["n_gold"]
        assert row[3] == f"{summary['median_seconds']:.1f} s"
        assert row[5] == f"{100 * summary['gold_accuracy']:.0f}%"
        assert row[6] == f"{100 * summary['left_rate']:.0f}%"


def _category_cells(table: str) -> dict[str, list[str]]:
    """The cells of each row of a category table, as text, by category."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        rows[cells[0].replace(" guardrail", "")] = cells
    return rows


def test_guardrail_categories_are_marked_with_threshold_and_status(server, pages):
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data, render_report_html

    with session_scope(server.engine) as session:
        expected = build_report_data(session=session, study=get_study(session=session, name=STUDY),
                                     n_bootstrap=ROUNDS)
    checks = {c["rule"]: c for c in expected["analysis"]["decision"]["checks"]}
    words = {"pass": "pass", "fail": "FAIL", "not_yet": "not yet"}
    shown = _category_cells(_study_views(pages)["categories"])
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


def test_a_reviewer_voting_in_half_a_second_is_flagged_with_a_warning(server, pages):
    views = _study_views(pages)
    flag = "median 0.5 s per judgment: under the 3 s it takes to read two answers"
    assert 'class="dash-warning"' in views["flags"] and "Warning: 1 reviewer flagged" in views["flags"]
    assert f"<strong>alice</strong>: {flag}" in views["flags"]
    rows = {row[0]: row for row in views["reviewers"]["value"]["data"]}
    assert rows["alice"][3] == "0.5 s" and flag in rows["alice"][7]
    assert rows["bob"][7] == "-"


def test_the_stripped_boilerplate_is_stated(server, pages):
    views = _study_views(pages)
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


def test_rates_read_as_percentages_in_the_dashboard_and_the_report(server, pages):
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data, render_report_html

    views = _study_views(pages)
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


def test_a_study_without_judgments_and_bad_requests(server, clients, pages):
    ann = pages("ann")
    views = _study_views(pages, study="blind")
    header, plots = views["header"], [views[name] for name in PLOT_VIEWS]
    assert views["flags"] == "" and "Boilerplate stripped" not in header
    assert "guardrail" not in views["categories"]
    assert "No model judge has judged this study" in views["judge_facts"]
    assert "Inconclusive" in header and "0 judgments" in header
    assert [p["visible"] for p in plots] == [False] * 6
    with pytest.raises(PageError, match="no study named 'nope'"):
        ann.call("dashboard_study", "nope", ROUNDS)
    # Out-of-range inputs are refused by the component (Gradio) or the callback.
    with pytest.raises(PageError, match="minimum value 50|from 50"):
        ann.call("dashboard_study", STUDY, 10)
    with pytest.raises(PageError, match="choose a study first"):
        ann.call("dashboard_study", None, ROUNDS)
    # The download routes refuse what they cannot serve, with the reason.
    http = clients("ann")
    assert "xml" in api_ok(http.get(f"api/v1/studies/{STUDY}/export", params={"format": "xml"}),
                           status=400)["detail"]
    assert "no study named 'nope'" in api_ok(http.get("api/v1/studies/nope/export"), status=404)["detail"]
    assert "from 50" in api_ok(http.get(f"api/v1/studies/{STUDY}/report", params={"bootstrap": 10}),
                               status=400)["detail"]


@pytest.fixture
def server_files(server, monkeypatch, tmp_path) -> list[Path]:
    """The folders the server would write a download to: its temporary folder (the server runs
    in this process: its own for the test) and Gradio's folder of files it serves."""
    temporary = tmp_path / "server-temp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    gradio_files = Path(server.app.page.GRADIO_CACHE)
    assert gradio_files.name.startswith("gradio-files")  # this module's (see ``server``)
    return [temporary, gradio_files]


def _files_in(folders: list[Path]) -> list[Path]:
    return [path for folder in folders if folder.exists() for path in folder.rglob("*")
            if not path.is_dir()]


def _file_name(response: httpx.Response) -> str:
    """The file name a browser saves a download under."""
    found = re.fullmatch(r'attachment; filename="([^"/]+)"', response.headers["content-disposition"])
    assert found, response.headers["content-disposition"]
    return found.group(1)


def test_the_downloads_are_links_to_the_api(server, pages):
    report, exports = _download_links(pages)
    assert report == f"api/v1/studies/{STUDY}/report?bootstrap={ROUNDS}"
    assert exports == {fmt: f"api/v1/studies/{STUDY}/export?format={fmt}" for fmt in EXPORT_FORMATS}
    # The report's link asks for the bootstrap rounds the results were shown with.
    links = _links(_study_views(pages, "root", study="blind", rounds=300)["downloads"])
    assert links[0] == "api/v1/studies/blind/report?bootstrap=300"


def test_the_report_download_is_the_html_report(server, clients, pages, server_files):
    report, _ = _download_links(pages)
    for name in ("ann", "root"):
        response = clients(name).get(report)
        assert response.status_code == 200, (name, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
        assert _file_name(response) == "report-sft-step-300.html"
        page = response.text
        assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
        assert "Review report: sft-step-300" in page and 'id="figure-win_rate"' in page
        assert f"{ROUNDS} bootstrap rounds" in page
        assert "<script src=" not in page  # self-contained: plotly is inlined
        assert HTML_REVIEWER not in page  # escaped in the reviewers table
    assert _files_in(server_files) == []  # nothing written on the server


def test_every_export_format_downloads(server, clients, pages, server_files):
    import pyarrow.parquet as pq

    judgments = _judgments_of(server, STUDY)
    _, links = _download_links(pages)
    names, files = {}, {}
    for fmt in EXPORT_FORMATS:
        response = clients("ann").get(links[fmt])
        assert response.status_code == 200, (fmt, response.text[:300])
        names[fmt], files[fmt] = _file_name(response), response.content
    assert names == {"jsonl": "sft-step-300.jsonl", "csv": "sft-step-300.csv",
                     "parquet": "sft-step-300.parquet", "mtbench": "sft-step-300-mtbench.jsonl",
                     "dpo": "sft-step-300-dpo.jsonl"}
    rows = [json.loads(line) for line in files["jsonl"].decode().splitlines()]
    assert len(rows) == judgments and {r["study"] for r in rows} == {STUDY}
    table = list(csv.DictReader(io.StringIO(files["csv"].decode("utf-8"))))
    assert len(table) == judgments and "winner_model" in table[0]
    assert pq.read_table(io.BytesIO(files["parquet"])).num_rows == judgments
    mtbench = [json.loads(line) for line in files["mtbench"].decode().splitlines()]
    assert mtbench and {"question_id", "model_a", "model_b", "winner", "judge"} <= set(mtbench[0])
    pairs = [json.loads(line) for line in files["dpo"].decode().splitlines()]
    assert pairs and {"prompt", "chosen", "rejected"} <= set(pairs[0])
    assert _files_in(server_files) == []  # streamed: nothing left on the server


def test_reviewers_and_anonymous_clients_cannot_download(server, clients, pages, server_files):
    report, exports = _download_links(pages)
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        for link in (report, *exports.values()):
            refused = clients("ana").get(link)
            assert refused.status_code == 403, (link, refused.text[:300])
            assert refused.json() == {"detail": "this needs one of the roles: analyst, admin"}
            assert "content-disposition" not in refused.headers
            unknown = anonymous.get(link)
            assert unknown.status_code == 401, (link, unknown.text[:300])
            assert unknown.json() == {"detail": "please log in"}
    assert _files_in(server_files) == []


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

        # The downloads are links: the browser saves what the API sends, under its file name.
        page.locator("#dashboard-downloads").get_by_text("Download the report or the judgments").click()
        links = page.locator("#dashboard-download-links a")
        expect(links).to_have_count(1 + len(EXPORT_FORMATS), timeout=20_000)
        expect(links.first).to_have_attribute("href", f"api/v1/studies/{STUDY}/report?bootstrap={ROUNDS}")
        for name, file_name in (("jsonl", f"{STUDY}.jsonl"),
                                (f"Download the HTML report of {STUDY}", f"report-{STUDY}.html")):
            with page.expect_download(timeout=60_000) as download:
                page.locator("#dashboard-download-links").get_by_role("link", name=name, exact=True).click()
            assert download.value.suggested_filename == file_name
            assert download.value.failure() is None
        saved = Path(download.value.path()).read_text(encoding="utf-8")
        assert f"Review report: {STUDY}" in saved
        assert dialogs == []
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
