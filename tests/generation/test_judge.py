"""`review judge`, `import-judgments --rater-kind llm` and active selection, on a real database."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
from sqlalchemy import func, select, text

from review.campaign.leases import next_assignment
from review.core.db import session_scope
from review.core.models import Comparison, JudgeVerdict, Judgment, Reviewer, StudyReviewer
from tests.factories import kill_midway_and_rerun, make_model, make_reviewer, make_study_with_items
from tests.generation.openai_server import CompletionServer

ANSWER = re.compile(r"\[The Start of Assistant (A|B)'s Answer\]\n(.*?)\n\[The End", re.S)


def scripted_judge(messages: list[dict]) -> str:
    """Prefers the fine-tune's answer in both orders; no verdict for prompt p0 shown as A/B."""
    user = messages[-1]["content"]
    answers = dict(ANSWER.findall(user))
    if "Question 0?" in user and answers["A"].startswith("ft"):
        return "Both answers look similar to me."
    return f"Assistant {'A' if answers['A'].startswith('ft') else 'B'} is better. [[{'A' if answers['A'].startswith('ft') else 'B'}]]"


@pytest.fixture
def judge_server():
    server = CompletionServer(None, model_id="judge-model", responder=scripted_judge).start()
    yield server
    server.stop()


def add_votes(session, study, items, votes: dict[str, list[str]]) -> None:
    """votes: reviewer -> per item, 'ft' or 'base' (the winner), shown with ft on the left."""
    for name, winners in votes.items():
        reviewer = session.scalar(select(Reviewer).where(Reviewer.name == name)) or make_reviewer(session, name)
        for item, winner in zip(items, winners, strict=False):
            session.add(Judgment(comparison_id=item.id, reviewer_id=reviewer.id,
                                 left_generation_id=item.generation_a_id,
                                 choice="left" if winner == "ft" else "right"))
    session.flush()


@pytest.fixture
def judged_study(engine, judge_server):
    with session_scope(engine, write=True) as session:
        study, items = make_study_with_items(session, n_items=12, overlap=2)
        make_model(session, "judge-model", kind="endpoint", location=judge_server.url)
    return study.name


def analysis(cli, study="study"):
    code, out, err = cli("analyze", "--study", study, "--json", "--bootstrap", "100")
    assert code == 0, err
    return json.loads(out)


def test_judge_stores_both_orders_and_failed_outputs(cli, engine, judged_study):
    code, out, err = cli("judge", "--study", judged_study, "--judge", "judge-model", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["judged"], summary["failed"], summary["already_present"]) == (24, 1, 0)
    with session_scope(engine) as session:
        rater = session.scalar(select(Reviewer).where(Reviewer.name == "judge:judge-model"))
        assert rater.kind == "llm" and rater.password_hash is None
        assert rater.judge_model.name == "judge-model"
        assert len(rater.judge_params["template_sha256"]) == 64
        verdicts = session.scalars(select(JudgeVerdict)).all()
        assert sorted({v.judge_order for v in verdicts}) == ["ab", "ba"]
        failed = [v for v in verdicts if v.choice is None]
        assert len(failed) == 1 and failed[0].raw_output == "Both answers look similar to me."
        # Generation a is always the fine-tune's answer: every parsed verdict names it.
        assert {v.choice for v in verdicts if v.choice} == {"a"}
        assert session.scalar(select(func.count(Judgment.id))) == 0, "a verdict is never a vote"
    code, out, _ = cli("judge", "--study", judged_study, "--judge", "judge-model", "--json")
    again = json.loads(out)
    assert (again["judged"], again["already_present"]) == (0, 24)


def test_human_figures_identical_with_and_without_a_judge(cli, engine, judged_study):
    with session_scope(engine, write=True) as session:
        from review.core.lookup import get_study

        study = get_study(session=session, name=judged_study)
        items = session.scalars(select(Comparison).where(Comparison.study_id == study.id)
                                .order_by(Comparison.id)).all()
        add_votes(session, study, items[:8], {"ana": ["ft"] * 6 + ["base"] * 2,
                                              "bo": ["ft"] * 5 + ["base"] * 3})
    before = analysis(cli)
    assert cli("judge", "--study", judged_study, "--judge", "judge-model")[0] == 0
    after = analysis(cli)
    for key in ("counts", "win_rate", "agreement", "n_judgments", "n_reviewers", "reviewers",
                "position_bias", "by_category"):
        assert after[key] == before[key], key
    assert before["judges"] == [] and before["win_rate_ppi"] is None
    (judge,) = after["judges"]
    assert judge["judge"] == "judge:judge-model" and judge["n"] == 12 and judge["failed"] == 1
    # Item 0: one order failed, so position consistency covers the 11 items with both orders.
    assert judge["position_consistency"] == 1.0
    # 16 human votes on judged items, 11 for ft: the judge (always ft) agrees with 11.
    assert judge["percent_agreement_with_humans"]["with_ties"] == pytest.approx(11 / 16)
    ppi = after["win_rate_ppi"]
    assert ppi["judge"] == "judge:judge-model" and ppi["n_human"] == 16 and ppi["n_judge"] == 12
    assert ppi["n_prompts_labeled"] == 8 and ppi["n_prompts_unlabeled"] == 4
    assert 0.0 <= ppi["lambda"] <= 1.0 and ppi["ci_low"] <= ppi["estimate"] <= ppi["ci_high"]


def test_unparseable_outputs_of_a_real_model_are_failed_verdicts(cli, engine, tiny_llama, tmp_path):
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, n_items=3, overlap=1)
    assert cli("models", "add", "tiny-judge", tiny_llama)[0] == 0
    code, out, err = cli("judge", "--study", "study", "--judge", "tiny-judge", "--max-new-tokens", "6",
                         "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["judged"] == 6 and summary["failed"] == 6
    with session_scope(engine) as session:
        outputs = session.scalars(select(JudgeVerdict.raw_output)).all()
    assert len(outputs) == 6 and all(isinstance(o, str) for o in outputs)
    judge = analysis(cli)["judges"][0]
    assert (judge["n"], judge["failed"], judge["position_consistency"]) == (0, 6, None)


def test_killed_judge_resumes_without_duplicates(cli, engine, database_url, tiny_llama):
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, n_items=60, overlap=1)
    assert cli("models", "add", "tiny-judge", tiny_llama)[0] == 0
    env = {**os.environ, "REVIEW_DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "review.cli", "judge", "--study", "study", "--judge", "tiny-judge",
               "--batch-size", "1", "--max-new-tokens", "32", "--json"]

    def stored() -> int:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM judge_verdicts")).scalar()

    done, result = kill_midway_and_rerun(command, env, stored)
    assert 5 <= done < 120, "the run must be killed midway"
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["already_present"], summary["judged"]) == (done, 120 - done)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT count(*), count(DISTINCT comparison_id || '-' || judge_order) FROM judge_verdicts")).one()
    assert tuple(rows) == (120, 120)


def test_bad_template_and_person_names_are_refused(cli, engine, judged_study, tmp_path):
    template = tmp_path / "t.txt"
    template.write_text("Compare {answer_a} with {answer_c} for {question}")
    code, _, err = cli("judge", "--study", judged_study, "--judge", "judge-model", "--template", template)
    assert code == 1 and "unknown placeholder(s) {answer_c}" in err and len(err.strip().splitlines()) == 1
    with session_scope(engine, write=True) as session:
        make_reviewer(session, "ana")
    code, _, err = cli("judge", "--study", judged_study, "--judge", "judge-model", "--name", "ana")
    assert code == 1 and "a rater's kind never changes" in err
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(JudgeVerdict.id))) == 0


def mtbench_line(question, model_a, model_b, winner, judge="gpt-judge"):
    return json.dumps({"question_id": question, "model_a": model_a, "model_b": model_b,
                       "winner": winner, "judge": judge})


def test_import_llm_verdicts_is_all_or_nothing(cli, engine, judged_study, tmp_path):
    good = [mtbench_line("p1", "ft", "base", "model_a"), mtbench_line("p1", "base", "ft", "model_b"),
            mtbench_line("p2", "base", "ft", "tie")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*good, mtbench_line("p99", "ft", "base", "model_a")]) + "\n")
    code, _, err = cli("import-judgments", bad, "--study", judged_study, "--rater-kind", "llm")
    assert code == 1 and "bad.jsonl:4:" in err and "matches no item" in err
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(JudgeVerdict.id))) == 0
        assert session.scalar(select(Reviewer).where(Reviewer.name == "gpt-judge")) is None
    ok = tmp_path / "ok.jsonl"
    ok.write_text("\n".join(good) + "\n")
    code, out, err = cli("import-judgments", ok, "--study", judged_study, "--rater-kind", "llm", "--json")
    assert code == 0, err
    assert json.loads(out)["verdicts"] == 3
    with session_scope(engine) as session:
        rows = session.execute(select(Comparison.prompt_id, JudgeVerdict.judge_order, JudgeVerdict.choice)
                               .join(Comparison, Comparison.id == JudgeVerdict.comparison_id)
                               .order_by(JudgeVerdict.id)).all()
    # ft is each item's first answer: model_a=ft is order ab; the verdicts name ft twice, then a tie.
    assert [(order, choice) for _, order, choice in rows] == [("ab", "a"), ("ba", "a"), ("ba", "tie")]
    code, _, err = cli("import-judgments", ok, "--study", judged_study, "--rater-kind", "llm")
    assert code == 1 and "already has a verdict" in err
    person = tmp_path / "person.jsonl"
    person.write_text(mtbench_line("p3", "ft", "base", "model_a", judge="ana") + "\n")
    with session_scope(engine, write=True) as session:
        make_reviewer(session, "ana")
    code, _, err = cli("import-judgments", person, "--study", judged_study, "--rater-kind", "llm")
    assert code == 1 and "a rater's kind never changes" in err
    analysis_doc = analysis(cli)
    assert [j["judge"] for j in analysis_doc["judges"]] == ["gpt-judge"]
    assert analysis_doc["n_judgments"] == 0


@pytest.fixture
def large_study(engine, judge_server):
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, name="large", n_items=80, overlap=2)
        make_model(session, "judge-model", kind="endpoint", location=judge_server.url)
    return "large"


def test_active_selection_serves_only_drawn_items(cli, engine, large_study):
    assert cli("judge", "--study", large_study, "--judge", "judge-model")[0] == 0
    code, _, err = cli("studies", "use-judge", large_study, "--judge", "judge:judge-model",
                       "--human-budget", "30")
    assert code == 1 and "at least 20" in err
    code, _, err = cli("studies", "use-judge", large_study, "--judge", "judge:judge-model",
                       "--human-budget", "60")
    assert code == 1 and "min_judgments" in err
    code, out, err = cli("studies", "use-judge", large_study, "--judge", "judge:judge-model",
                         "--human-budget", "100", "--json")
    assert code == 0, err
    selection = json.loads(out)
    assert selection["expected"] == 50.0 and 30 < selection["drawn"] < 70
    with session_scope(engine, write=True) as session:
        from review.core.lookup import get_study

        study = get_study(session=session, name=large_study)
        items = session.scalars(select(Comparison).where(Comparison.study_id == study.id)
                                .order_by(Comparison.id)).all()
        probability = {i.id: i.human_probability for i in items}
        drawn = {i.id for i in items if i.human_selected}
        assert sum(probability.values()) == pytest.approx(50.0)
        # Item 0 has one failed order (its score is that of the other order), the rest agree.
        assert all(0 < p <= 1 for p in probability.values())
        served = set()
        for name in ("r1", "r2", "r3"):
            reviewer = make_reviewer(session, name)
            session.add(StudyReviewer(study_id=study.id, reviewer_id=reviewer.id))
            session.flush()
            while (assignment := next_assignment(session=session, reviewer=reviewer, study=study)) is not None:
                served.add(assignment.comparison_id)
                # A vote as record_vote stores it: through its assignment.
                session.add(Judgment(comparison_id=assignment.comparison_id, reviewer_id=reviewer.id,
                                     assignment_id=assignment.id,
                                     left_generation_id=assignment.left_generation_id, choice="left"))
                assignment.status = "done"
                session.flush()
    assert served == drawn
    code, _, err = cli("studies", "use-judge", large_study, "--judge", "judge:judge-model",
                       "--human-budget", "100", "--seed", "5")
    assert code == 1 and "before people start" in err
    code, out, _ = cli("studies", "use-judge", large_study, "--judge", "judge:judge-model",
                       "--human-budget", "100", "--json")
    assert code == 0 and json.loads(out)["drawn"] == len(drawn), "the same settings change nothing"
    doc = analysis(cli, large_study)
    ppi = doc["win_rate_ppi"]
    assert ppi["method"] == "active_ipw_ppi_prompt" and ppi["final"] is True
    assert ppi["n_human"] == 2 * len(drawn) and ppi["n_judge"] == 80
    assert doc["decision"]["method"] == "fixed"
    assert any("decided with the model judge" in r for r in doc["decision"]["reasons"])
    code, out, _ = cli("studies", "list", "--json")
    assert code == 0


def test_judge_figures_reach_the_text_and_the_html_report(cli, engine, judged_study, tmp_path):
    with session_scope(engine, write=True) as session:
        from review.core.lookup import get_study

        study = get_study(session=session, name=judged_study)
        items = session.scalars(select(Comparison).where(Comparison.study_id == study.id)
                                .order_by(Comparison.id)).all()
        add_votes(session, study, items[:6], {"ana": ["ft"] * 5 + ["base"], "bo": ["ft"] * 6})
    assert cli("judge", "--study", judged_study, "--judge", "judge-model")[0] == 0
    code, out, _ = cli("analyze", "--study", judged_study, "--bootstrap", "100")
    assert code == 0
    assert "Judge judge:judge-model: 12 items judged, 1 outputs without a verdict" in out
    assert "agrees with people in 91.7% of vote pairs" in out
    assert "Win rate with the judge:" in out and "People only, same prompts:" in out
    report = tmp_path / "r.html"
    code, _, err = cli("report", "--study", judged_study, "-o", report, "--bootstrap", "100")
    assert code == 0, err
    page = report.read_text()
    assert 'id="judge"' in page and "Human judgments saved" in page


def test_a_local_judge_states_its_confidence(cli, engine, tiny_judge, tmp_path):
    """The real transformers path: a tiny model trained to answer [[A]] judges; its
    probabilities of A, B and C after "[[" are stored and become the judge's score."""
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, n_items=4, overlap=1)
    template = tmp_path / "short.txt"
    template.write_text("{question} A: {answer_a} B: {answer_b}")
    assert cli("models", "add", "tiny-judge", tiny_judge)[0] == 0
    code, out, err = cli("judge", "--study", "study", "--judge", "tiny-judge", "--template", template,
                         "--max-new-tokens", "8", "--json")
    assert code == 0, err
    assert json.loads(out)["failed"] == 0
    with session_scope(engine) as session:
        verdicts = session.scalars(select(JudgeVerdict).order_by(JudgeVerdict.id)).all()
    assert len(verdicts) == 8
    for verdict in verdicts:
        probabilities = verdict.meta["option_probabilities"]
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert verdict.raw_output.startswith("[[A]]")
        # Always "A": the item's first answer in order ab, its second in order ba.
        assert verdict.choice == ("a" if verdict.judge_order == "ab" else "b")
        assert verdict.confidence == pytest.approx(probabilities["A"]) and 0.5 < verdict.confidence < 1
    judge = analysis(cli)["judges"][0]
    assert judge["n"] == 4 and judge["position_consistency"] == 0.0


def test_verdict_only_reads_the_verdict_from_probabilities(cli, engine, tiny_llama, judged_study):
    """A model that cannot follow the format still judges: the most probable of A, B and C."""
    assert cli("models", "add", "tiny-judge", tiny_llama)[0] == 0
    code, out, err = cli("judge", "--study", judged_study, "--judge", "tiny-judge", "--verdict-only",
                         "--max-new-tokens", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["failed"] == 0
    with session_scope(engine) as session:
        verdicts = session.scalars(select(JudgeVerdict)).all()
        rater = session.scalar(select(Reviewer).where(Reviewer.name == "judge:tiny-judge"))
    assert len(verdicts) == 24 and rater.judge_params["verdict_only"] is True
    for verdict in verdicts:
        probabilities = verdict.meta["option_probabilities"]
        letter = max(probabilities, key=probabilities.get)
        assert verdict.raw_output == f"[[{letter}]]"
        assert verdict.confidence == pytest.approx(probabilities[letter])
    code, _, err = cli("judge", "--study", judged_study, "--judge", "judge-model", "--verdict-only",
                       "--name", "endpoint-verdicts")
    assert code == 1 and "needs a transformers model" in err
    with session_scope(engine) as session:
        assert session.scalar(select(Reviewer).where(Reviewer.name == "endpoint-verdicts")) is None
