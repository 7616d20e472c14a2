"""The HTML report: its data, its figures, escaping, and `review report`."""

from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

from review.core.db import session_scope
from review.interchange.mtbench import import_mtbench, parse_mtbench_file
from review.core.lookup import get_study
from review.reporting.figures import report_figures
from review.reporting.report import build_report_data, render_report_html
from tests.factories import make_study_with_items
from tests.reports.simulate import PAYLOADS, mtbench_file, payload_study

N_BOOTSTRAP = 200
DEMO_ITEMS = 40  # items per study of the ``demo`` fixture's run


def report_of(engine, name: str) -> tuple[dict, str]:
    with session_scope(engine) as session:
        data = build_report_data(session=session, study=get_study(session=session, name=name),
                                 n_bootstrap=N_BOOTSTRAP, seed=0)
    json.dumps(data)  # plain data, ready for a dashboard or a JSON endpoint
    return data, render_report_html(data)


def test_demo_report_has_every_view(demo):
    data, page = report_of(demo, "sft-step-300")
    analysis = data["analysis"]
    assert analysis["n_reviewers"] == 3 and analysis["n_items"] == 42
    assert {row["reviewer"] for row in analysis["reviewers"]} == {"alice", "bob", "carol"}
    assert all(row["n_gold"] == 2 for row in analysis["reviewers"])
    assert set(report_figures(data)) == {"win_rate", "votes", "agreement", "ratings", "position_bias",
                                         "length_bias"}
    # The whole run is rated: three checkpoints by step, then the base model (the anchor).
    run = data["training_run"]
    assert run["run"] == "sft-run" and run["anchor"] == "smollm2-base"
    assert run["studies"] == ["sft-step-100", "sft-step-200", "sft-step-300"]
    assert [(m["model"], m["training_step"]) for m in run["models"]] == [
        ("sft-step-100", 100), ("sft-step-200", 200), ("sft-step-300", 300), ("smollm2-base", None)]
    assert run["n_judgments"] == 3 * 42 * 3
    assert [m["is_candidate"] for m in run["models"]] == [False, False, True, False]
    base = run["models"][-1]
    assert base["score"] == pytest.approx(1000.0)
    assert all(m["ci_low"] <= m["score"] <= m["ci_high"] for m in run["models"])
    # Disagreements come with the prompt, both answers and each vote.
    item = data["disagreements"][0]
    assert item["disagreement"] >= data["disagreements"][-1]["disagreement"]
    assert [a["model"] for a in item["answers"]] == [item["model_a"], item["model_b"]]
    assert item["answers"][1]["text"].startswith("The fine-tune") or item["answers"][0]["text"].startswith("The fine-tune")
    assert len(item["judgments"]) == item["n"] == 3
    assert data["length_bins"] and sum(b["n"] for b in data["length_bins"]) <= analysis["position_bias"]["n_decisive"]

    # One page: plotly inlined once, no external script, stylesheet or image.
    assert page.count("plotly.js v") == 1
    assert len(re.findall(r"Plotly\.newPlot\(", page)) == 6
    assert page.count("<script") == 1 + 6
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    # The verdict box shows this study's verdict, in its colour, and no other verdict word.
    verdict = analysis["decision"]["verdict"]
    assert verdict in ("ship", "do_not_ship", "inconclusive")
    box = re.search(r'<section id="verdict" class="verdict (\w+)">\s*<div class="word">([^<]*)</div>', page)
    assert box is not None and box.groups() == (verdict, verdict.replace("_", " ").upper())
    assert "Cohen&#39;s kappa" in page or "Cohen's kappa" in page
    assert "Bradley-Terry score by training step" in page


def test_html_in_user_text_is_escaped(engine):
    with session_scope(engine, write=True) as session:
        payload_study(session)
    data, page = report_of(engine, PAYLOADS["study"])
    assert data["disagreements"], "the payload items must be shown"
    for name, payload in PAYLOADS.items():
        assert payload not in page, name
        assert str(escape(payload)) in page, name
    # Inside figures, labels are HTML entities so that plotly shows them as text.
    assert "ft &amp;lt;img" in page or "ft &lt;img src=x" in page


def test_report_of_an_imported_six_model_study(engine, tmp_path):
    rows = parse_mtbench_file(mtbench_file(tmp_path / "mt.jsonl", seed=7))
    with session_scope(engine, write=True) as session:
        import_mtbench(session=session, study_name="mt-bench", rows=rows)
    data, page = report_of(engine, "mt-bench")
    assert data["analysis"]["decision"]["verdict"] is None
    assert len(data["analysis"]["ratings"]) == 6
    assert data["training_run"] is None
    assert set(report_figures(data)) == {"votes", "agreement", "ratings", "position_bias", "length_bias"}
    assert len(data["vote_pairs"]) >= 10
    assert sum(p["n"] for p in data["vote_pairs"]) == data["analysis"]["n_judgments"]
    assert "NO VERDICT" in page and "several model pairs" in page
    # A second turn shows the whole conversation up to the question (this file's seed puts
    # second turns among the items reviewers disagreed on).
    turn_two = [d for d in data["disagreements"] if "/turn-2" in d["prompt"]]
    turn_one = [d for d in data["disagreements"] if "/turn-2" not in d["prompt"]]
    assert turn_two and turn_one
    assert all([m["role"] for m in d["messages"]] == ["user", "assistant", "user"] for d in turn_two)
    assert all([m["role"] for m in d["messages"]] == ["user"] for d in turn_one)


def test_report_of_a_study_without_votes(engine):
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, name="empty", n_items=3)
    data, page = report_of(engine, "empty")
    assert data["analysis"]["n_judgments"] == 0
    assert report_figures(data) == {}
    assert "This study has no judgments yet." in page


def test_report_command_writes_a_safe_default_file(cli, demo, tmp_path):
    with session_scope(demo, write=True) as session:
        get_study(session=session, name="sft-step-300").name = "../sft step/300"
    code, out, err = cli("report", "--study", "../sft step/300", "--bootstrap", "100", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["output"] == "report-sft-step-300.html"
    # The command's verdict is the study's, as the same analysis (same rounds and seed) gives it.
    with session_scope(demo) as session:
        expected = build_report_data(session=session, n_bootstrap=100, seed=0,
                                     study=get_study(session=session, name="../sft step/300"))
    assert result["verdict"] == expected["analysis"]["decision"]["verdict"]
    assert result["verdict"] in ("ship", "do_not_ship", "inconclusive")
    written = tmp_path / "report-sft-step-300.html"
    assert written.stat().st_size == result["bytes"]
    assert "Review report: ../sft step/300" in written.read_text(encoding="utf-8")

    target = tmp_path / "out.html"
    code, out, err = cli("report", "--study", "sft-step-200", "-o", target, "--bootstrap", "100")
    assert code == 0 and out.startswith(f"wrote {target}")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    code, _, err = cli("report", "--study", "missing")
    assert code == 1 and err.startswith("error: no study named 'missing'")
    code, _, err = cli("report", "--study", "sft-step-200", "-o", tmp_path / "nowhere" / "r.html")
    assert code == 1 and "no such directory" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".html", ".tmp")) == [
        "out.html", "report-sft-step-300.html"]
