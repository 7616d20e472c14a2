"""`review answers import`: answers generated elsewhere become an external model's, all or
nothing, and `review pair` pairs on them without generating anything for that model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from review.core.db import session_scope
from review.core.models import Comparison, Generation, Model, Study
from tests.conftest import counts

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "prompts.jsonl"
DATA = Path(__file__).resolve().parent / "data" / "answers"
GREETING = "Hello, and thanks for reaching out to Vendor A!"
SIGN_OFF = "Warm regards, the Vendor A assistant"


def sample_prompts() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def single_turn() -> list[dict]:
    """The sample prompts that are one user message (AlpacaEval instructions can name them)."""
    return [row for row in sample_prompts() if "prompt" in row]


def alpaca_eval(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def vendor_a_outputs(path: Path) -> Path:
    """Every answer opens with the same greeting and closes with the same sign-off."""
    return alpaca_eval(path, [
        {"instruction": row["prompt"], "generator": "vendor-a-2025-06",
         "output": f"{GREETING} About {row['category']}: see our guide {row['id']}. {SIGN_OFF}"}
        for row in single_turn()])


def vendor_b_outputs(path: Path) -> Path:
    return alpaca_eval(path, [
        {"instruction": row["prompt"], "generator": "vendor-b-large", "dataset": "lumora",
         "output": f"Short answer for {row['id']}: {row.get('reference') or 'contact support'}"}
        for row in single_turn()])


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def demo(initialised):
    """An initialised database with the sample prompts as set 'demo'."""
    code, _, err = initialised("prompts", "import", SAMPLE, "--set", "demo")
    assert code == 0, err
    return initialised


def table_rows(engine) -> dict[str, int]:
    """Rows per table: what 'the database is unchanged' means here."""
    with engine.connect() as connection:
        return {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar()
                for table in inspect(connection).get_table_names() if table != "alembic_version"}


def run_review_in_a_fresh_process(database_url: str, cwd: Path, *args: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, heavy libraries imported) of `review ARGS` in a new interpreter."""
    code = ("import json, sys; from review.cli import main; rc = main(sys.argv[1:]); "
            "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]; "
            "print(json.dumps({'rc': rc, 'heavy': heavy}))")
    env = {**os.environ, "REVIEW_DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    *out, last = result.stdout.strip().splitlines()
    status = json.loads(last)
    assert status["rc"] == 0, result.stderr
    return status["rc"], "\n".join(out), status["heavy"]


# --------------------------------------------------------------------------- acceptance


def test_two_alpaca_eval_files_are_paired_without_generating_anything(demo, engine, database_url,
                                                                      tmp_path):
    n = len(single_turn())
    assert n == len(sample_prompts()) - 3  # three sample prompts are chats of several messages
    code, out, err = demo("answers", "import", vendor_a_outputs(tmp_path / "vendor_a.json"),
                          "--model", "vendor-a", "--set", "demo", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {k: result[k] for k in ("model", "created_model", "imported", "unchanged", "prompt_set")} == {
        "model": "vendor-a", "created_model": True, "imported": n, "unchanged": 0, "prompt_set": "demo"}
    code, out, err = demo("answers", "import", vendor_b_outputs(tmp_path / "vendor_b.json"),
                          "--model", "vendor-b", "--set", "demo")
    assert code == 0, err
    assert out.strip() == f"external model 'vendor-b', registered: {n} answers imported, 0 unchanged"

    # No model folder anywhere, the hub offline, and a fresh interpreter: nothing can be loaded,
    # and neither torch nor transformers is even imported.
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    _, out, heavy = run_review_in_a_fresh_process(
        database_url, workdir, "pair", "--study", "ext", "--candidate", "vendor-a",
        "--baseline", "vendor-b", "--set", "demo", "--json")
    assert heavy == []
    assert json.loads(out) == {"study": "ext", "created": True, "items_added": n, "items_total": n,
                               "prompts_without_both_answers": 3, "answers_generated": 0}
    assert counts(demo)["generations"] == 2 * n  # exactly what was imported

    with session_scope(engine) as session:
        study = session.scalar(select(Study).where(Study.name == "ext"))
        assert study.params_hash is None  # neither side was generated with decoding parameters
        items = session.scalars(select(Comparison).where(Comparison.study_id == study.id)).all()
        assert len({item.prompt_id for item in items}) == len(items) == n
        for item in items:
            assert item.generation_a.model.name == "vendor-a" and item.generation_b.model.name == "vendor-b"
            assert item.generation_a.prompt_id == item.generation_b.prompt_id == item.prompt_id
            assert item.generation_a.output.startswith(GREETING)
            assert item.generation_a.output.endswith(SIGN_OFF)
            assert not item.generation_b.output.startswith(GREETING)

    # The three chats, answered by prompt id, join the study when it is paired again.
    chats = [row for row in sample_prompts() if "messages" in row]
    for model in ("vendor-a", "vendor-b"):
        path = jsonl(tmp_path / f"{model}-chats.jsonl",
                     [{"prompt_id": row["id"], "output": f"{model} on {row['id']}"} for row in chats])
        code, _, err = demo("answers", "import", path, "--model", model, "--set", "demo")
        assert code == 0, err
    code, out, err = demo("pair", "--study", "ext", "--candidate", "vendor-a", "--baseline", "vendor-b",
                          "--set", "demo", "--max-new-tokens", "99", "--json")
    assert code == 0, err
    assert json.loads(out) == {"study": "ext", "created": False, "items_added": 3,
                               "items_total": n + 3, "prompts_without_both_answers": 0,
                               "answers_generated": 0}
    assert counts(demo)["generations"] == 2 * (n + 3)


def test_the_imported_model_and_answers_record_where_they_came_from(demo, engine):
    code, out, err = demo("answers", "import", DATA / "model_outputs.json", "--model", "vendor-a",
                          "--set", "demo", "--json")
    assert code == 0, err
    digest = json.loads(out)["sha256"]
    import hashlib

    assert digest == hashlib.sha256((DATA / "model_outputs.json").read_bytes()).hexdigest()
    with session_scope(engine) as session:
        model = session.scalar(select(Model).where(Model.name == "vendor-a"))
        assert (model.kind, model.location, model.content_hash, model.base_model_id) == (
            "external", "model_outputs.json", None, None)
        assert model.meta == {"generators": ["vendor-a-2025-06"],
                              "files": [{"file": "model_outputs.json", "sha256": digest, "answers": 3}]}
        answers = session.scalars(select(Generation).order_by(Generation.id)).all()
        assert len(answers) == 3
        assert {a.params_hash for a in answers} == {answers[0].params_hash}  # one per import
        first = answers[0]
        assert first.params == {"source": "import", "file": "model_outputs.json", "sha256": digest}
        assert (first.backend, first.token_count, first.latency_seconds, first.chat_template) == (
            "import", None, None, None)
        assert first.prompt.external_id == "setup-01"
        assert first.meta == {"dataset": "lumora-support", "generator": "vendor-a-2025-06",
                              "source_entry": 1}


# --------------------------------------------------------------------------- all or nothing


def test_a_file_naming_an_unknown_prompt_is_refused_whole(demo, engine, tmp_path):
    entries = [{"instruction": row["prompt"], "output": "An answer.", "generator": "g"}
               for row in single_turn()[:5]]
    entries.insert(2, {"instruction": "What is the warranty on a Lumora Halo bought abroad?",
                       "output": "Two years.", "generator": "g"})
    before = table_rows(engine)
    code, out, err = demo("answers", "import", alpaca_eval(tmp_path / "answers.json", entries),
                          "--model", "vendor-a", "--set", "demo")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "error: answers.json: entry 3: no prompt in set 'demo' has this exact text: "
        '"What is the warranty on a Lumora Halo bought abroad?"']
    assert table_rows(engine) == before
    assert counts(demo)["models"] == 0 and counts(demo)["generations"] == 0


def test_jsonl_answers_by_prompt_id(demo, engine, tmp_path):
    code, out, err = demo("answers", "import", DATA / "chats.jsonl", "--model", "vendor-a",
                          "--set", "demo", "--json")
    assert code == 0, err
    assert json.loads(out)["imported"] == 3
    with session_scope(engine) as session:
        answers = {g.prompt.external_id: g for g in session.scalars(select(Generation))}
        assert sorted(answers) == ["billing-08", "setup-09", "trouble-09"]
        assert answers["setup-09"].output.startswith("Yes: the Halo supports 24 V heat pumps")
        assert answers["setup-09"].meta == {"generator": "vendor-a-2025-06", "source_line": 1}
    path = jsonl(tmp_path / "more.jsonl", [{"prompt_id": "setup-01", "output": "Use 2.4 GHz."},
                                          {"prompt_id": "setup-99", "output": "?"}])
    code, _, err = demo("answers", "import", path, "--model", "vendor-a", "--set", "demo")
    assert code == 1
    assert err.strip() == "error: more.jsonl:2: no prompt with id \"setup-99\" in set 'demo'"
    assert counts(demo)["generations"] == 3


def test_importing_the_same_file_again_changes_nothing(demo, engine):
    assert demo("answers", "import", DATA / "model_outputs.json", "--model", "vendor-a", "--set", "demo")[0] == 0
    before = table_rows(engine)
    with session_scope(engine) as session:
        meta = session.scalar(select(Model.meta).where(Model.name == "vendor-a"))
    code, out, err = demo("answers", "import", DATA / "model_outputs.json", "--model", "vendor-a",
                          "--set", "demo", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["created_model"], result["imported"], result["unchanged"]) == (False, 0, 3)
    code, out, _ = demo("answers", "import", DATA / "model_outputs.json", "--model", "vendor-a", "--set", "demo")
    assert out.strip() == "external model 'vendor-a': 0 answers imported, 3 unchanged"
    assert table_rows(engine) == before
    with session_scope(engine) as session:
        assert session.scalar(select(Model.meta).where(Model.name == "vendor-a")) == meta


def test_a_different_answer_to_an_imported_prompt_is_refused(demo, engine, tmp_path):
    assert demo("answers", "import", DATA / "model_outputs.json", "--model", "vendor-a", "--set", "demo")[0] == 0
    entries = json.loads((DATA / "model_outputs.json").read_text(encoding="utf-8"))
    entries[1]["output"] += " (revised)"
    entries.append({"instruction": single_turn()[5]["prompt"], "output": "New.", "generator": "g"})
    before = table_rows(engine)
    code, _, err = demo("answers", "import", alpaca_eval(tmp_path / "revised.json", entries),
                        "--model", "vendor-a", "--set", "demo")
    assert code == 1
    assert err.strip() == (
        "error: revised.json: entry 2: model 'vendor-a' already has a different answer to prompt "
        "'setup-02'; imported answers are never replaced: import this file under another model name")
    assert table_rows(engine) == before  # not even the new prompt's answer
    code, out, err = demo("answers", "import", tmp_path / "revised.json", "--model", "vendor-a-v2",
                          "--set", "demo", "--json")
    assert code == 0, err
    assert json.loads(out)["imported"] == 4


def test_an_answer_with_the_same_text_in_another_file_is_not_stored_twice(demo, engine, tmp_path):
    assert demo("answers", "import", DATA / "model_outputs.json", "--model", "vendor-a", "--set", "demo")[0] == 0
    entries = json.loads((DATA / "model_outputs.json").read_text(encoding="utf-8"))
    entries.append({"instruction": single_turn()[5]["prompt"], "output": "New.", "generator": "other"})
    code, out, err = demo("answers", "import", alpaca_eval(tmp_path / "more.json", entries),
                          "--model", "vendor-a", "--set", "demo", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["imported"], result["unchanged"]) == (1, 3)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Generation)) == 4
        meta = session.scalar(select(Model.meta).where(Model.name == "vendor-a"))
        assert meta["generators"] == ["other", "vendor-a-2025-06"]
        assert [f["file"] for f in meta["files"]] == ["model_outputs.json", "more.json"]
        assert len({g.params_hash for g in session.scalars(select(Generation))}) == 2


@pytest.mark.parametrize(("entries", "message"), [
    pytest.param("twice", "answers.json: entry 4: prompt 'setup-01' is already answered by entry 1",
                 id="answered-twice"),
    pytest.param([{"instruction": "x", "output": "y"}], "answers.json: entry 1: missing field 'generator'",
                 id="missing-field"),
    pytest.param("empty", "answers.json: entry 2: field 'output' is empty", id="empty-output"),
    pytest.param("number", "answers.json: entry 2: field 'output' must be text, got a number",
                 id="non-text-output"),
    pytest.param("chat", "answers.json: entry 1: prompt 'setup-09' of set 'demo' is a chat of several "
                 "messages and cannot be matched by instruction: answer it by prompt_id in JSON lines",
                 id="chat-by-instruction"),
    pytest.param({"instruction": "x"}, "answers.json: expected a JSON list of {instruction, output, "
                 "generator} or one {prompt_id, output} object per line", id="not-a-list"),
    pytest.param([], "answers.json: no answers found", id="no-answers"),
])
def test_bad_entries_are_refused_with_one_line(demo, engine, tmp_path, entries, message):
    good = [{"instruction": row["prompt"], "output": f"Answer {i}.", "generator": "g"}
            for i, row in enumerate(single_turn()[:3])]
    if entries == "twice":
        entries = [*good, {**good[0], "output": "Another answer."}]
    elif entries == "empty":
        entries = [good[0], {**good[1], "output": "  \n"}]
    elif entries == "number":
        entries = [good[0], {**good[1], "output": 42}]
    elif entries == "chat":
        chat = next(row for row in sample_prompts() if row["id"] == "setup-09")
        entries = [{"instruction": chat["messages"][-1]["content"], "output": "Yes.", "generator": "g"}]
    before = table_rows(engine)
    code, out, err = demo("answers", "import", alpaca_eval(tmp_path / "answers.json", entries),
                          "--model", "vendor-a", "--set", "demo")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"error: {message}"]
    assert table_rows(engine) == before


def test_invalid_json_is_refused_with_its_line(demo, engine, tmp_path):
    path = tmp_path / "answers.json"
    path.write_text('[\n  {"instruction": "a",\n   "output": "b"\n   "generator": "g"}\n]\n')
    code, _, err = demo("answers", "import", path, "--model", "vendor-a", "--set", "demo")
    assert code == 1
    assert err.strip() == "error: answers.json:4: malformed JSON: Expecting ',' delimiter"
    path = jsonl(tmp_path / "answers.jsonl", [{"prompt_id": "setup-01", "output": "ok"},
                                              '{"prompt_id": "setup-02", "output": }'])
    code, _, err = demo("answers", "import", path, "--model", "vendor-a", "--set", "demo")
    assert code == 1
    assert err.strip() == "error: answers.jsonl:2: malformed JSON: Expecting value"
    code, _, err = demo("answers", "import", tmp_path / "missing.json", "--model", "vendor-a", "--set", "demo")
    assert code == 1 and "missing.json: no such file" in err
    code, _, err = demo("answers", "import", DATA / "chats.jsonl", "--model", "vendor-a", "--set", "nope")
    assert code == 1 and "no prompt set named 'nope'" in err
    assert counts(demo)["models"] == 0 and counts(demo)["generations"] == 0


# --------------------------------------------------------------------------- the kind rule


def test_a_model_of_another_kind_is_not_given_imported_answers(demo, engine):
    with session_scope(engine) as session:
        session.add(Model(name="base", kind="base", location="/models/base", meta={}))
    code, _, err = demo("answers", "import", DATA / "chats.jsonl", "--model", "base", "--set", "demo")
    assert code == 1
    assert err.strip() == ("error: model 'base' is a base model, not an external one: import these "
                           "answers under another model name")
    assert counts(demo)["generations"] == 0


def test_external_models_are_registered_and_answered_by_import_only(demo, tmp_path):
    code, _, err = demo("models", "add", "vendor-a", tmp_path, "--kind", "external")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "`review answers import FILE --model vendor-a --set SET`" in err
    assert demo("answers", "import", DATA / "chats.jsonl", "--model", "vendor-a", "--set", "demo")[0] == 0
    code, _, err = demo("generate", "--model", "vendor-a", "--set", "demo")
    assert code == 1
    assert err.strip() == ("error: model 'vendor-a' is external: its answers are imported with "
                           "`review answers import`, it cannot generate")
    code, _, err = demo("models", "add", "tuned", tmp_path, "--base", "vendor-a")
    assert code == 1 and "base model 'vendor-a' is external" in err
    assert counts(demo)["generations"] == 3


def test_an_external_model_is_paired_with_a_local_one(initialised, engine, tmp_path, tiny_llama):
    cli = initialised
    prompts = jsonl(tmp_path / "p.jsonl", [{"id": f"q{i}", "prompt": f"Question {i}?"} for i in range(4)])
    assert cli("prompts", "import", prompts, "--set", "small")[0] == 0
    assert cli("models", "add", "base", tiny_llama)[0] == 0
    answers = jsonl(tmp_path / "vendor.jsonl",
                    [{"prompt_id": f"q{i}", "output": f"Vendor answer {i}."} for i in range(3)])
    assert cli("answers", "import", answers, "--model", "vendor", "--set", "small")[0] == 0
    code, out, err = cli("pair", "--study", "s", "--candidate", "base", "--baseline", "vendor",
                         "--set", "small", "--max-new-tokens", "4", "--json")
    assert code == 0, err
    # The local model answers every prompt, as before; the one the vendor did not answer is left out.
    assert json.loads(out) == {"study": "s", "created": True, "items_added": 3, "items_total": 3,
                               "prompts_without_both_answers": 1, "answers_generated": 4}
    code, out, err = cli("pair", "--study", "s", "--candidate", "base", "--baseline", "vendor",
                         "--set", "small", "--max-new-tokens", "4")
    assert code == 0, err
    assert out.strip() == ("study 's': 3 items (0 new), 3 reviewers per item; 1 prompts left out "
                           "(no answer from both models)")
    with session_scope(engine) as session:
        study = session.scalar(select(Study))
        items = session.scalars(select(Comparison)).all()
        assert {item.generation_b.output for item in items} == {f"Vendor answer {i}." for i in range(3)}
        assert {item.generation_a.params_hash for item in items} == {study.params_hash}
        assert all(item.generation_a.backend == "transformers" for item in items)


def test_the_service_is_called_with_the_bytes_of_an_upload(engine, session):
    from review.campaign.prompts import import_prompts, parse_prompt_file
    from review.interchange.answers import AnswersImport, import_answers

    import_prompts(session=session, set_name="demo", records=parse_prompt_file(SAMPLE))
    source = b'{"prompt_id": "setup-01", "output": "Switch the router to 2.4 GHz."}\n'
    result = import_answers(session=session, source=source, file_name="C:/uploads/answers.jsonl",
                            model="vendor-a", prompt_set="demo")
    session.commit()
    assert isinstance(result, AnswersImport)
    assert (result.model, result.created_model, result.imported, result.unchanged) == ("vendor-a", True, 1, 0)
    assert session.scalar(select(Model.location).where(Model.name == "vendor-a")) == "answers.jsonl"


# --------------------------------------------------------------------------- the migration


def test_migration_0006_keeps_every_row_and_reference_and_goes_down_and_up(database_url):
    from alembic import command

    from review.core.db import make_engine
    from review.core.schema import alembic_config, current_revision

    engine = make_engine(database_url)

    def migrate(step, revision: str) -> None:
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    def insert_model(connection, name: str, kind: str, base: int | None = None) -> None:
        connection.execute(text(
            "INSERT INTO models (name, kind, location, base_model_id, metadata, created_at) "
            "VALUES (:name, :kind, '/m', :base, '{}', CURRENT_TIMESTAMP)"),
            {"name": name, "kind": kind, "base": base})

    try:
        migrate(command.upgrade, "0005")
        with engine.begin() as connection:  # rows that refer to models, as in a database in use
            insert_model(connection, "base", "base")
            insert_model(connection, "tuned", "adapter", base=1)
            connection.execute(text("INSERT INTO prompt_sets (name, created_at) VALUES ('s', CURRENT_TIMESTAMP)"))
            connection.execute(text(
                "INSERT INTO prompts (prompt_set_id, external_id, messages, content_hash, metadata, "
                "created_at) VALUES (1, 'p', '[]', 'h', '{}', CURRENT_TIMESTAMP)"))
            for model_id in (1, 2):
                connection.execute(text(
                    "INSERT INTO generations (model_id, prompt_id, params_hash, params, output, backend, "
                    "library_versions, metadata, created_at) VALUES (:m, 1, 'h', '{}', 'o', 'b', '{}', "
                    "'{}', CURRENT_TIMESTAMP)"), {"m": model_id})
        migrate(command.upgrade, "head")
        assert current_revision(engine) == "0006"
        with engine.begin() as connection:
            insert_model(connection, "vendor", "external")
            assert connection.execute(text("SELECT count(*) FROM generations")).scalar() == 2
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                triggers = connection.exec_driver_sql(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").scalar()
                assert triggers == 9  # those of 0005, untouched
        with pytest.raises(Exception), engine.begin() as connection:  # references still enforced
            connection.execute(text("DELETE FROM models WHERE name = 'base'"))
        with pytest.raises(Exception), engine.begin() as connection:
            insert_model(connection, "odd", "hologram")
        assert {c["name"] for c in inspect(engine).get_check_constraints("models")} == {"ck_models_kind"}

        with pytest.raises(RuntimeError, match="1 models of kind 'external' exist \\(vendor\\)"):
            migrate(command.downgrade, "-1")
        assert current_revision(engine) == "0006"
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM models WHERE name = 'vendor'"))
        migrate(command.downgrade, "-1")
        assert current_revision(engine) == "0005"
        with pytest.raises(Exception), engine.begin() as connection:
            insert_model(connection, "vendor", "external")
        migrate(command.upgrade, "head")
        assert current_revision(engine) == "0006"
        with engine.begin() as connection:
            insert_model(connection, "vendor", "external")
            assert connection.execute(text("SELECT count(*) FROM models")).scalar() == 3
            assert connection.execute(text("SELECT count(*) FROM generations")).scalar() == 2
    finally:
        engine.dispose()
