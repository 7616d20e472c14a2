"""`review import-judgments`: the MT-Bench human-judgment schema, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from review.reporting.dataset import study_judgments
from review.core.db import session_scope
from review.core.models import Comparison, Generation, Judgment, Model, Reviewer, Study


def conversation(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def mtbench_rows() -> list[dict]:
    """Two questions, three models, three judges; model_a is the answer shown on the left."""
    rows = []
    votes = [
        # question, model_a, model_b, winner, judge
        (81, "gpt-4", "llama-13b", "model_a", "expert_1"),
        (81, "llama-13b", "gpt-4", "model_b", "expert_2"),   # the same item, shown swapped
        (81, "gpt-4", "llama-13b", "tie", "expert_3"),
        (82, "gpt-4", "vicuna-13b", "model_b", "expert_1"),
        (82, "vicuna-13b", "gpt-4", "tie (bothbad)", "expert_2"),
    ]
    for qid, a, b, winner, judge in votes:
        rows.append({"question_id": qid, "model_a": a, "model_b": b, "winner": winner, "judge": judge,
                     "turn": 1, "conversation_a": conversation(f"Question {qid}?", f"{a} says hi"),
                     "conversation_b": conversation(f"Question {qid}?", f"{b} says hi"),
                     "tstamp": 1687000000 + qid})
    return rows


def write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_import_creates_models_items_and_judgments(cli, engine, tmp_path):
    assert cli("init")[0] == 0
    code, out, err = cli("import-judgments", write(tmp_path / "j.jsonl", mtbench_rows()),
                         "--study", "mt", "--candidate", "gpt-4", "--baseline", "llama-13b", "--json")
    assert code == 0, err
    assert json.loads(out) == {"study": "mt", "judgments": 5, "items": 2,
                               "models": ["gpt-4", "llama-13b", "vicuna-13b"], "judges": 3}
    with session_scope(engine) as session:
        study = session.scalar(select(Study).where(Study.name == "mt"))
        assert study.candidate.name == "gpt-4" and study.baseline.name == "llama-13b"
        assert study.overlap == 3  # the most judgments any item received
        assert session.scalar(select(func.count()).select_from(Model)) == 3
        assert session.scalar(select(func.count()).select_from(Comparison)) == 2
        assert session.scalar(select(func.count()).select_from(Generation)) == 4
        judges = session.scalars(select(Reviewer)).all()
        assert {j.name for j in judges} == {"expert_1", "expert_2", "expert_3"}
        assert all(j.password_hash is None and not j.active for j in judges)  # cannot log in
        assert session.scalar(select(Judgment).where(Judgment.choice == "tie")).meta["tstamp"] == 1687000081
        frame = study_judgments(session=session, study=study)
    # model_a is what was shown on the left, and the winner maps onto left/right.
    row = frame[(frame.rater == "expert_2") & (frame.prompt == "81")].iloc[0]
    assert (row.model_left, row.model_right, row.choice) == ("llama-13b", "gpt-4", "right")
    row = frame[(frame.rater == "expert_2") & (frame.prompt == "82")].iloc[0]
    assert (row.model_left, row.choice) == ("vicuna-13b", "both_bad")
    assert row.length_left == len("vicuna-13b says hi")


def test_bad_line_imports_nothing_and_names_the_line(cli, engine, tmp_path):
    assert cli("init")[0] == 0
    cases = [
        ('{"question_id": 1, "model_a": "x"', "malformed JSON", 3),
        ({"question_id": 1, "model_a": "x", "model_b": "y", "winner": "x", "judge": "j"}, "unknown winner", 3),
        ({"question_id": 1, "model_a": "x", "model_b": "y", "winner": "tie"}, "missing field 'judge'", 3),
        ({"question_id": 1, "model_a": "x", "model_b": "x", "winner": "tie", "judge": "j"}, "the same model", 3),
        ({"question_id": 1, "model_a": "x", "model_b": "y", "winner": "tie", "judge": "j", "turn": 0},
         "'turn' must be a positive integer", 3),
    ]
    for bad, fragment, line in cases:
        rows = mtbench_rows()[:2] + [bad] + mtbench_rows()[2:]
        path = write(tmp_path / "bad.jsonl", rows)
        code, out, err = cli("import-judgments", path, "--study", "mt")
        assert code == 1 and out == ""
        assert f"bad.jsonl:{line}:" in err and fragment in err and err.count("\n") == 1, err
    duplicate = mtbench_rows() + [mtbench_rows()[0]]
    code, _, err = cli("import-judgments", write(tmp_path / "dup.jsonl", duplicate), "--study", "mt")
    assert code == 1 and "dup.jsonl:6:" in err and "already judged this pair" in err
    code, _, err = cli("import-judgments", write(tmp_path / "ok.jsonl", mtbench_rows()), "--study", "mt",
                       "--candidate", "gpt-5", "--baseline", "gpt-4")
    assert code == 1 and "--candidate 'gpt-5' does not occur" in err
    code, out, _ = cli("status", "--json")
    counts = json.loads(out)
    assert counts["judgments"] == counts["studies"] == counts["models"] == counts["prompts"] == 0


def test_import_into_an_existing_study_is_refused(cli, tmp_path):
    assert cli("init")[0] == 0
    path = write(tmp_path / "j.jsonl", mtbench_rows())
    assert cli("import-judgments", path, "--study", "mt")[0] == 0
    code, _, err = cli("import-judgments", path, "--study", "mt")
    assert code == 1 and "already exists" in err
    # Into a new study, existing models and judges are reused.
    code, out, err = cli("import-judgments", path, "--study", "mt-2", "--json")
    assert code == 0, err
    code, out, _ = cli("status", "--json")
    assert json.loads(out)["models"] == 3 and json.loads(out)["reviewers"] == 3
    assert json.loads(out)["judgments"] == 10
