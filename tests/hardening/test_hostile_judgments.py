"""Judgment files (MT-Bench schema) with hostile or malformed content: refused whole with one
error line naming the file and the first bad line, or stored and read back exactly."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import aliased

from review.core.db import session_scope
from review.interchange.mtbench import KNOWN_KEYS, WINNERS, prompt_external_id
from review.core.models import Comparison, Generation, Judgment, Model, Prompt, Reviewer, Study
from review.reporting.status import database_counts
from tests.conftest import counts
from tests.hardening.conftest import HYPOTHESIS, assert_one_error_line, write_lines
from tests.hardening.hostile import hostile_name, hostile_text, json_values
from tests.hardening.test_hostile_prompts import INVALID_UTF8, first_error_line

_studies = itertools.count()


def stored_counts(engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return database_counts(session=session)


messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool"]),
                                           "content": hostile_text}), max_size=5)


@st.composite
def judgment_rows(draw, *, max_rows: int = 6) -> list[dict]:
    models = draw(st.lists(hostile_name, min_size=2, max_size=3, unique_by=str.strip))
    judges = draw(st.lists(hostile_name, min_size=1, max_size=3, unique_by=str.strip))
    questions = draw(st.lists(st.one_of(hostile_name.filter(lambda q: len(q.strip()) <= 150),
                                        st.integers(0, 10**9)),
                              min_size=1, max_size=3, unique_by=lambda q: str(q).strip()))
    rows = []
    for _ in range(draw(st.integers(1, max_rows))):
        model_a, model_b = draw(st.permutations(models))[:2]
        row: dict = {"question_id": draw(st.sampled_from(questions)), "model_a": model_a,
                     "model_b": model_b, "winner": draw(st.sampled_from(sorted(WINNERS))),
                     "judge": draw(st.sampled_from(judges))}
        optional = {
            "turn": st.integers(1, 3), "conversation_a": messages, "conversation_b": messages,
            "category": hostile_text.filter(lambda c: len(c) <= 200), "strength": st.sampled_from([1, 2, 3]),
            "rationale": hostile_text, "seconds": st.floats(0, 10**7, exclude_max=True),
        }
        for key, strategy in optional.items():
            if draw(st.booleans()):
                row[key] = draw(strategy)
        extras = draw(st.dictionaries(hostile_text.filter(lambda k: k not in KNOWN_KEYS | {"source_line"}),
                                      json_values, max_size=2))
        rows.append({**row, **extras})
    # One judgment per judge per answer pair (the importer refuses repeats).
    unique, seen = [], set()
    for row in rows:
        key = (str(row["question_id"]).strip(), row.get("turn", 1),
               *sorted((row["model_a"].strip(), row["model_b"].strip())), row["judge"].strip())
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _prompt_key(row: dict) -> tuple[str, int]:
    return str(row["question_id"]).strip(), row.get("turn", 1)


def expected_database(rows: list[dict]) -> dict:
    """What the import must store, by the documented rules: names are stripped, the first row
    of a question and turn gives its prompt and category, the first row that shows a model's
    answer to it gives that answer, unknown keys are the judgment's metadata."""
    judgments, prompts, answers = {}, {}, {}
    for line, row in enumerate(rows, 1):
        key = _prompt_key(row)
        a, b = row["model_a"].strip(), row["model_b"].strip()
        if key not in prompts:
            conversation = row.get("conversation_a") or row.get("conversation_b")
            if conversation:
                prompt, users = [], 0
                for message in conversation:
                    prompt.append(message)
                    users += message["role"] == "user"
                    if users == key[1]:
                        break
            else:
                prompt = [{"role": "user", "content": f"(question {key[0]}, turn {key[1]})"}]
            prompts[key] = (prompt_external_id(*key), prompt, row.get("category"))
        for model, conversation in ((a, row.get("conversation_a")), (b, row.get("conversation_b"))):
            if (model, key) not in answers:
                said = [m["content"] for m in conversation or [] if m["role"] == "assistant"]
                answers[(model, key)] = said[key[1] - 1] if len(said) >= key[1] else ""
        choice = WINNERS[row["winner"]]
        judgments[line] = {
            "judge": row["judge"].strip(), "left": a, "right": b, "choice": choice,
            "strength": row.get("strength") if choice in ("left", "right") else None,
            "rationale": row.get("rationale"), "seconds": row.get("seconds"),
            "prompt": prompt_external_id(*key),
            "meta": {k: v for k, v in row.items() if k not in KNOWN_KEYS},
        }
    return {"judgments": judgments, "prompts": sorted(prompts.values(), key=repr),
            "answers": {(model, prompt_external_id(*key)): text for (model, key), text in answers.items()}}


def stored_database(engine, study_name: str) -> dict:
    left_generation, left_model = aliased(Generation), aliased(Model)
    a, b, model_a, model_b = aliased(Generation), aliased(Generation), aliased(Model), aliased(Model)
    with session_scope(engine) as session:
        study = session.scalar(select(Study).where(Study.name == study_name))
        rows = session.execute(
            select(Judgment, Reviewer.name, left_model.name, model_a.name, model_b.name, Prompt.external_id)
            .join(Reviewer, Reviewer.id == Judgment.reviewer_id)
            .join(Comparison, Comparison.id == Judgment.comparison_id)
            .join(Prompt, Prompt.id == Comparison.prompt_id)
            .join(left_generation, left_generation.id == Judgment.left_generation_id)
            .join(left_model, left_model.id == left_generation.model_id)
            .join(a, a.id == Comparison.generation_a_id).join(model_a, model_a.id == a.model_id)
            .join(b, b.id == Comparison.generation_b_id).join(model_b, model_b.id == b.model_id)
            .where(Comparison.study_id == study.id)).all()
        judgments = {}
        for judgment, judge, left, name_a, name_b, prompt in rows:
            meta = dict(judgment.meta)
            line = meta.pop("source_line")
            judgments[line] = {
                "judge": judge, "left": left, "right": name_b if left == name_a else name_a,
                "choice": judgment.choice, "strength": judgment.strength, "rationale": judgment.rationale,
                "seconds": judgment.seconds, "prompt": prompt, "meta": meta}
        prompts = session.scalars(select(Prompt).where(Prompt.prompt_set_id == study.prompt_set_id)).all()
        answers = session.execute(
            select(Model.name, Prompt.external_id, Generation.output)
            .join(Generation, Generation.model_id == Model.id)
            .join(Prompt, Prompt.id == Generation.prompt_id)
            .where(Prompt.prompt_set_id == study.prompt_set_id)).all()
        return {"judgments": judgments,
                "prompts": sorted(((p.external_id, p.messages, p.category) for p in prompts), key=repr),
                "answers": {(model, prompt): output for model, prompt, output in answers}}


@HYPOTHESIS
@given(rows=judgment_rows(), ensure_ascii=st.booleans())
def test_hostile_judgments_are_stored_and_read_back_exactly(initialised, engine, tmp_path, rows, ensure_ascii):
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=ensure_ascii) for r in rows) + "\n", encoding="utf-8")
    study = f"<b>study</b> '; DROP TABLE studies; -- \u202e{next(_studies)}"
    code, out, err = initialised("import-judgments", path, f"--study={study}", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["judgments"] == len(rows)
    assert summary["models"] == sorted({r[k].strip() for r in rows for k in ("model_a", "model_b")})
    assert stored_database(engine, study) == expected_database(rows)


def malformed_judgment(draw, kind: str, row: dict, earlier: list[dict]) -> bytes:
    """One line that the importer must refuse, made from the valid ``row``."""
    line = json.dumps(row).encode()
    if kind == "truncated":
        return line[:draw(st.integers(1, len(line) - 1))]
    if kind == "invalid_utf8":
        line = json.dumps(row, ensure_ascii=False).encode()
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.sampled_from(INVALID_UTF8)) + line[at:]
    if kind == "nan":
        return json.dumps({**row, "seconds": "__RAW__"}).encode().replace(
            b'"__RAW__"', draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"])))
    if kind == "out_of_range":
        return json.dumps({**row, "score": "__RAW__"}).encode().replace(
            b'"__RAW__"', draw(st.sampled_from([b"1e999", b"-1e999", b"{\"x\": 1E400}"])))
    if kind == "duplicate_key":
        key = draw(st.sampled_from(sorted(row)))
        return line[:-1] + b", " + json.dumps(key).encode() + b": " + json.dumps(draw(json_values)).encode() + b"}"
    if kind == "nul":
        return json.dumps({**row, draw(st.sampled_from(["judge", "rationale", "note"])): "x\x00y"}).encode()
    if kind == "surrogate":
        return json.dumps({**row, "judge": "__S__"}).encode().replace(b"__S__", b"j\\udbff")
    if kind == "not_an_object":
        return draw(st.sampled_from([b"[1, 2]", b'"text"', b"42", b"null", b"false"]))
    if kind == "missing_field":
        missing = draw(st.sampled_from(["question_id", "model_a", "model_b", "winner", "judge"]))
        return json.dumps({k: v for k, v in row.items() if k != missing}).encode()
    if kind == "bad_winner":
        return json.dumps({**row, "winner": draw(st.one_of(hostile_text.filter(lambda w: w not in WINNERS),
                                                           st.sampled_from([None, 1, ["tie"], "A", "Tie"])))}).encode()
    if kind == "bad_turn":
        return json.dumps({**row, "turn": draw(st.sampled_from([0, -1, "1", 1.0, True, None, [1]]))}).encode()
    if kind == "same_model":
        return json.dumps({**row, "model_b": f" {row['model_a']}\t"}).encode()
    if kind == "bad_name":
        key = draw(st.sampled_from(["model_a", "model_b", "judge", "question_id"]))
        value = draw(st.sampled_from([1.5, True, [], {}, None, "", "  \u2028 ", "n" * 201]))
        return json.dumps({**row, key: value}).encode()
    if kind == "bad_conversation":
        return json.dumps({**row, draw(st.sampled_from(["conversation_a", "conversation_b"])): draw(st.sampled_from([
            "text", {"role": "user"}, [1], [{"role": "user"}], [{"role": 1, "content": "x"}],
            [{"role": "user", "content": None}]]))}).encode()
    if kind == "bad_number":
        key, value = draw(st.sampled_from([("strength", 0), ("strength", 4), ("strength", "2"), ("strength", True),
                                           ("strength", 1.5), ("seconds", -1), ("seconds", "3"), ("seconds", True),
                                           ("seconds", 1e8)]))
        return json.dumps({**row, key: value}).encode()
    if kind == "bad_text":
        key = draw(st.sampled_from(["category", "rationale"]))
        return json.dumps({**row, key: draw(st.sampled_from([1, ["x"], {"a": "b"}, True]))}).encode()
    if kind == "long_category":
        return json.dumps({**row, "category": "c" * 201}).encode()
    if kind == "long_prompt_id":
        return json.dumps({**row, "question_id": "q" * 195, "turn": 10**6}).encode()
    if kind == "repeated_judgment" and earlier:
        return json.dumps(draw(st.sampled_from(earlier))).encode()
    return json.dumps({**row, "winner": "draw"}).encode()


JUDGMENT_KINDS = ["truncated", "invalid_utf8", "nan", "out_of_range", "duplicate_key", "nul", "surrogate",
                  "not_an_object", "missing_field", "bad_winner", "bad_turn", "same_model", "bad_name",
                  "bad_conversation", "bad_number", "bad_text", "long_category", "long_prompt_id",
                  "repeated_judgment"]


@HYPOTHESIS
@given(data=st.data())
def test_malformed_judgment_file_names_the_first_bad_line_and_stores_nothing(initialised, engine, tmp_path, data):
    rows = data.draw(judgment_rows(max_rows=5))
    broken = set(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=3, unique=True)))
    lines: list[bytes] = []
    bad: list[int] = []
    for index, row in enumerate(rows):
        if data.draw(st.integers(0, 4)) == 0:
            lines.append(b"")
        if index in broken:
            kind = data.draw(st.sampled_from(JUDGMENT_KINDS))
            lines.append(malformed_judgment(data.draw, kind, row, rows[:index]))
            bad.append(len(lines))
        else:
            lines.append(json.dumps(row, ensure_ascii=data.draw(st.booleans())).encode())
    path = write_lines(tmp_path / "malformed.jsonl", lines)
    before = stored_counts(engine)
    code, out, err = initialised("import-judgments", path, "--study", f"bad-{next(_studies)}")
    assert_one_error_line(code, out, err, f"{path}:{first_error_line(lines, bad)}:")
    assert len(err) < 400, err
    assert stored_counts(engine) == before


def test_one_megabyte_judgment_values(initialised, engine, tmp_path):
    """A 1 MB rationale and answer are stored whole; a 1 MB unknown winner is a short error."""
    big = "\u202e<img src=x onerror=alert(1)> ' OR 1=1; -- " * 25_000
    assert len(big.encode()) > 1_000_000
    row = {"question_id": "q1", "model_a": "a", "model_b": "b", "winner": "model_a", "judge": "j",
           "rationale": big, "conversation_a": [{"role": "user", "content": "q"}, {"role": "assistant", "content": big}]}
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    code, _, err = initialised("import-judgments", path, "--study", "big")
    assert code == 0, err
    stored = stored_database(engine, "big")
    assert stored["judgments"][1]["rationale"] == big and stored["answers"][("a", "q1")] == big
    before = counts(initialised)
    path.write_text(json.dumps({**row, "winner": big}) + "\n")
    code, out, err = initialised("import-judgments", path, "--study", "big-2")
    assert_one_error_line(code, out, err, f"{path}:1:", "unknown winner")
    assert len(err) < 400
    assert counts(initialised) == before


def test_errors_quoting_hostile_names_stay_on_one_line(initialised, tmp_path):
    """Model names are user text: an error that lists them must not break the one-line rule."""
    rows = [{"question_id": 1, "model_a": "evil\nname", "model_b": "x\u2028y", "winner": "tie", "judge": "j"}]
    path = write_lines(tmp_path / "names.jsonl", [json.dumps(r).encode() for r in rows])
    code, out, err = initialised("import-judgments", path, "--study", "s", "--candidate", "gpt-5",
                                 "--baseline", "x\u2028y")
    assert_one_error_line(code, out, err, "--candidate 'gpt-5' does not occur", "'evil\\nname'")
    code, out, err = initialised("import-judgments", path, "--study", "s" * 200)
    assert_one_error_line(code, out, err, "study name must be 1 to 189 characters")
    assert counts(initialised)["judgments"] == 0


def test_hostile_names_in_the_analysis_and_the_html_report(initialised, tmp_path):
    """Script in a model or judge name is data: analyze returns it as is, the report escapes it."""
    evil = "<script>alert('xss')</script>"
    rows = [{"question_id": q, "model_a": evil if q % 2 else "base", "model_b": "base" if q % 2 else evil,
             "winner": ["model_a", "model_b", "tie"][q % 3], "judge": f"{evil}{j}", "category": f"<i>{q % 2}</i>"}
            for q in range(12) for j in range(2)]
    path = write_lines(tmp_path / "evil.jsonl", [json.dumps(r).encode() for r in rows])
    code, _, err = initialised("import-judgments", path, "--study", "evil", "--candidate", evil, "--baseline", "base")
    assert code == 0, err
    code, out, err = initialised("analyze", "--study", "evil", "--json", "--bootstrap", "50")
    assert code == 0, err
    analysis = json.loads(out)
    assert analysis["candidate"] == evil and {r["model"] for r in analysis["ratings"]} == {evil, "base"}
    report = tmp_path / "report.html"
    code, _, err = initialised("report", "--study", "evil", "-o", report, "--bootstrap", "50")
    assert code == 0, err
    page = report.read_text(encoding="utf-8")
    assert evil not in page and "<i>0</i>" not in page
    assert "&lt;script&gt;" in page
