"""`analyze` and `report` say when the answers give the models away."""

from __future__ import annotations

import json

from review.core.db import session_scope
from tests.factories import make_study_with_items


def test_analyze_and_report_flag_answers_that_give_the_models_away(cli, engine, tmp_path):
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, n_items=12, overlap=1)
    code, out, err = cli("analyze", "--study", "study", "--json", "--bootstrap", "100")
    assert code == 0, err
    found = json.loads(out)["identifiability"]
    assert set(found) >= {"accuracy", "length_only_accuracy", "flagged", "phrases"}
    assert found["flagged"] is True and found["accuracy"] == 1.0
    assert "12 of 12 answers of ft start with 'ft answer'" in found["phrases"]
    code, out, _ = cli("analyze", "--study", "study", "--bootstrap", "100")
    assert "Models told apart from text alone: 100.0% of answers" in out and "FLAGGED" in out
    report = tmp_path / "r.html"
    assert cli("report", "--study", "study", "-o", report, "--bootstrap", "100")[0] == 0
    page = report.read_text()
    assert 'id="identifiability"' in page and "12 of 12 answers of ft start with" in page


def test_a_study_without_answer_texts_has_no_identifiability(cli, engine, tmp_path):
    lines = [json.dumps({"question_id": q, "model_a": a, "model_b": b, "winner": "model_a", "judge": j})
             for q in range(8) for a, b, j in (("x", "y", "h1"), ("y", "x", "h2"))]
    path = tmp_path / "j.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = cli("import-judgments", path, "--study", "imp", "--candidate", "x", "--baseline", "y")
    assert code == 0, err
    code, out, err = cli("analyze", "--study", "imp", "--json", "--bootstrap", "100")
    assert code == 0, err
    assert json.loads(out)["identifiability"] is None
