"""`review prompts import`: all or nothing, idempotent, one clear error line for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import counts

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "prompts.jsonl"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_import_then_reimport_changes_nothing(initialised, tmp_path):
    cli = initialised
    rows = [
        {"id": "a", "prompt": "How do I reset it?", "category": "support"},
        {"id": 2, "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                               {"role": "user", "content": "Reset?"}], "category": "support",
         "reference": "Hold the button.", "source": "ticket-17"},
        {"id": "c", "prompt": "What is 2+2?"},
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    code, out, err = cli("prompts", "import", path, "--set", "demo", "--json")
    assert code == 0, err
    assert json.loads(out) == {"prompt_set": "demo", "added": 3, "unchanged": 0}
    code, out, _ = cli("prompts", "import", path, "--set", "demo", "--json")
    assert json.loads(out) == {"prompt_set": "demo", "added": 0, "unchanged": 3}
    assert counts(cli)["prompts"] == 3 and counts(cli)["prompt_sets"] == 1


def test_import_keeps_messages_and_metadata(initialised, tmp_path, engine):
    from sqlalchemy import select

    from review.core.db import session_scope
    from review.core.models import Prompt

    path = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "m", "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Hi"}], "source": "x"}])
    assert initialised("prompts", "import", path, "--set", "s")[0] == 0
    with session_scope(engine) as session:
        prompt = session.scalar(select(Prompt))
        assert prompt.messages == [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Hi"}]
        assert prompt.meta == {"source": "x"} and prompt.category is None and prompt.text == "Hi"


def test_csv_import(initialised, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('id,prompt,category\n1,"Hello, world",general\n2,"Line one\nline two",general\n')
    code, out, err = initialised("prompts", "import", path, "--set", "csv", "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 2


BAD_FILES = [
    # (file name, content bytes, expected fragment of the error, line)
    ("bad.jsonl", b'{"id": "a", "prompt": "ok"}\n{"id": "b", "prompt": \n', "malformed JSON", 2),
    ("bad.jsonl", b'{"id": "a", "prompt": "ok"}\n{"prompt": "no id"}\n', "missing field 'id'", 2),
    ("bad.jsonl", b'{"id": "a", "prompt": "ok"}\n{"id": "b", "category": "x"}\n', "missing field 'prompt'", 2),
    ("bad.jsonl", b'{"id": "a", "prompt": "ok"}\n\n{"id": "a", "prompt": "again"}\n', "duplicate id 'a' (first on line 1)", 3),
    ("bad.jsonl", b'{"id": "a", "prompt": "ok"}\n{"id": "b", "prompt": "caf\xe9"}\n', "invalid UTF-8", 2),
    ("bad.jsonl", b'{"id": "a", "prompt": 5}\n', "must be a string", 1),
    ("bad.jsonl", b'["id", "prompt"]\n', "expected a JSON object", 1),
    ("bad.jsonl", b'{"id": "a", "prompt": NaN}\n', "malformed JSON", 1),
    ("bad.jsonl", b'{"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n',
     "last message must be the user's", 1),
    ("bad.jsonl", b'{"id": "a", "messages": [{"role": "robot", "content": "q"}]}\n', "unknown role", 1),
    ("bad.jsonl", b'{"id": "a", "prompt": "ok"}\n{"id": "b", "prompt": "nul \\u0000 here"}\n', "NUL character", 2),
    ("bad.csv", b'id,prompt\n1,ok\n2,ok,extra\n', "more values than header columns", 3),
    ("bad.csv", b'name,text\n1,ok\n', "CSV header must have the columns", 1),
]


@pytest.mark.parametrize("name,content,fragment,line", BAD_FILES)
def test_bad_file_gives_one_error_line_and_stores_nothing(initialised, tmp_path, name, content, fragment, line):
    cli = initialised
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "keep", "prompt": "stay"}])
    assert cli("prompts", "import", good, "--set", "demo")[0] == 0
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = cli("prompts", "import", path, "--set", "demo")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert f"{path}:{line}:" in err and fragment in err, err
    assert counts(cli)["prompts"] == 1  # the earlier import is intact, nothing of the bad file


def test_unknown_format_and_missing_file(initialised, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("hello\n")
    code, _, err = initialised("prompts", "import", path, "--set", "demo")
    assert code == 1 and "unknown format '.txt'" in err
    code, _, err = initialised("prompts", "import", tmp_path / "missing.jsonl", "--set", "demo")
    assert code == 1 and "no such file" in err


def test_changed_prompt_with_same_id_is_refused_whole(initialised, tmp_path):
    cli = initialised
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "prompt": "one"}])
    assert cli("prompts", "import", first, "--set", "demo")[0] == 0
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "2", "prompt": "two"}, {"id": "1", "prompt": "changed"}])
    code, _, err = cli("prompts", "import", second, "--set", "demo")
    assert code == 1 and "already in set 'demo' with different content" in err and "b.jsonl:2" in err
    assert counts(cli)["prompts"] == 1  # prompt 2 was not stored either


def test_sample_prompts_import(initialised):
    if not SAMPLE.exists():
        pytest.fail(f"{SAMPLE} is missing")
    code, out, err = initialised("prompts", "import", SAMPLE, "--set", "demo", "--json")
    assert code == 0, err
    added = json.loads(out)["added"]
    assert added >= 40
    from review.campaign.prompts import parse_prompt_file

    categories = {r.category for r in parse_prompt_file(SAMPLE)}
    assert len(categories) >= 4 and None not in categories
    code, out, _ = initialised("prompts", "import", SAMPLE, "--set", "demo", "--json")
    assert json.loads(out) == {"prompt_set": "demo", "added": 0, "unchanged": added}
