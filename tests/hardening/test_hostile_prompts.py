"""Prompt files with hostile or malformed content: refused whole with one error line naming
the file and the first bad line, or stored and read back exactly (property-based)."""

from __future__ import annotations

import csv
import io
import itertools
import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from review.core.db import session_scope
from review.core.models import Prompt, PromptSet
from review.campaign.prompts import KNOWN_FIELDS, ROLES
from review.reporting.status import database_counts
from tests.conftest import counts
from tests.hardening.conftest import HYPOTHESIS, assert_one_error_line, write_lines
from tests.hardening.hostile import hostile_name, hostile_text, json_values

_names = itertools.count()


def fresh_name(prefix: str) -> str:
    """Examples share the test's database: every example imports into a new set."""
    return f"{prefix}-{next(_names)}"


def stored_counts(engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return database_counts(session=session)


@st.composite
def chats(draw) -> list[dict[str, str]]:
    earlier = draw(st.lists(st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": hostile_text}),
                            max_size=3))
    return earlier + [{"role": "user", "content": draw(hostile_text.filter(str.strip))}]


@st.composite
def prompt_rows(draw, *, max_rows: int = 5) -> list[dict]:
    ids = draw(st.lists(st.one_of(hostile_name, st.integers(0, 10**15)), min_size=1, max_size=max_rows,
                        unique_by=lambda value: str(value).strip()))
    rows = []
    for external_id in ids:
        row: dict = {"id": external_id}
        if draw(st.booleans()):
            row["prompt"] = draw(hostile_text.filter(str.strip))
        else:
            row["messages"] = draw(chats())
        for key in ("category", "reference"):
            if draw(st.booleans()):
                row[key] = draw(hostile_text)
        extras = draw(st.dictionaries(hostile_text.filter(lambda k: k not in KNOWN_FIELDS), json_values,
                                      max_size=2))
        rows.append({**row, **extras})
    return rows


def expected_prompt(row: dict) -> dict:
    """What the database must hold for a valid row, by the documented rules: the id is
    stripped, an empty category or reference is none, unknown fields are metadata."""
    messages = row.get("messages") or [{"role": "user", "content": row["prompt"]}]
    return {"external_id": str(row["id"]).strip(), "messages": messages,
            "category": row.get("category") or None, "reference": row.get("reference") or None,
            "meta": {k: v for k, v in row.items() if k not in KNOWN_FIELDS}}


def read_back(engine, set_name: str) -> list[dict]:
    with session_scope(engine) as session:
        prompt_set = session.scalar(select(PromptSet).where(PromptSet.name == set_name))
        assert prompt_set is not None, set_name
        return [{"external_id": p.external_id, "messages": p.messages, "category": p.category,
                 "reference": p.reference, "meta": p.meta}
                for p in session.scalars(select(Prompt).where(Prompt.prompt_set_id == prompt_set.id)
                                         .order_by(Prompt.id))]


def assert_same_bytes(stored: list[dict], expected: list[dict]) -> None:
    assert stored == expected
    # Equal strings are equal code points; say it in bytes too, as the contract does.
    for got, want in zip(stored, expected):
        assert got["external_id"].encode("utf-8") == want["external_id"].encode("utf-8")
        for a, b in zip(got["messages"], want["messages"]):
            assert a["content"].encode("utf-8") == b["content"].encode("utf-8")


# --------------------------------------------------------------------------- stored faithfully


@HYPOTHESIS
@given(rows=prompt_rows(), ensure_ascii=st.booleans(), crlf=st.booleans(),
       set_label=hostile_name.map(lambda s: s.strip()[:150]))
def test_hostile_jsonl_prompts_are_stored_and_read_back_exactly(initialised, engine, tmp_path, rows,
                                                                ensure_ascii, crlf, set_label):
    set_name = f"{set_label} {fresh_name('set')}"
    newline = "\r\n" if crlf else "\n"
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(newline.join(json.dumps(r, ensure_ascii=ensure_ascii) for r in rows).encode() + b"\n")
    code, out, err = initialised("prompts", "import", path, f"--set={set_name}", "--json")
    assert code == 0, err
    assert json.loads(out) == {"prompt_set": set_name.strip(), "added": len(rows), "unchanged": 0}
    assert_same_bytes(read_back(engine, set_name.strip()), [expected_prompt(r) for r in rows])
    # Importing the same file again is recognised as the same content, hostile text or not.
    code, out, err = initialised("prompts", "import", path, f"--set={set_name}", "--json")
    assert code == 0 and json.loads(out)["unchanged"] == len(rows), err


@st.composite
def csv_rows(draw) -> tuple[list[str], list[dict]]:
    extra = draw(st.lists(hostile_name.filter(lambda k: k not in KNOWN_FIELDS), max_size=2, unique=True))
    header = ["id", "prompt", "category", "reference", *extra]
    ids = draw(st.lists(hostile_name, min_size=1, max_size=5, unique_by=str.strip))
    rows = [{"id": i, "prompt": draw(hostile_text.filter(str.strip)),
             **{key: draw(st.one_of(st.just(""), hostile_text)) for key in header[2:]}} for i in ids]
    return header, rows


@HYPOTHESIS
@given(table=csv_rows())
def test_hostile_csv_prompts_are_stored_and_read_back_exactly(initialised, engine, tmp_path, table):
    header, rows = table
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "hostile.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    set_name = fresh_name("csv")
    code, out, err = initialised("prompts", "import", path, "--set", set_name, "--json")
    assert code == 0, err
    # CSV has no null: an empty cell is a missing value.
    expected = [expected_prompt({k: (v if v != "" else None) for k, v in r.items()}) for r in rows]
    assert_same_bytes(read_back(engine, set_name), expected)


# --------------------------------------------------------------------------- refused whole

INVALID_UTF8 = [b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\x80"]


def _line(row: dict, **json_args) -> bytes:
    return json.dumps(row, **json_args).encode("utf-8")


def _with_raw_value(row: dict, raw: str) -> bytes:
    """The row plus an extra key whose value is the raw JSON text ``raw``."""
    return _line({**row, "score": "__RAW__"}).replace(b'"__RAW__"', raw.encode())


def malformed_line(draw, kind: str, row: dict, earlier_ids: list) -> bytes:
    """One line that the importer must refuse, made from the valid ``row``."""
    plain = {k: v for k, v in row.items() if k not in ("prompt", "messages")}
    if kind == "truncated":
        line = _line(row, ensure_ascii=draw(st.booleans()))
        return line[:draw(st.integers(1, len(line) - 1))]
    if kind == "invalid_utf8":
        line = _line(row, ensure_ascii=False)
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.sampled_from(INVALID_UTF8)) + line[at:]
    if kind == "nan":
        return _with_raw_value(row, draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])))
    if kind == "out_of_range":
        return _with_raw_value(row, draw(st.sampled_from(["1e999", "-1e999", "1E400", "[2e308]"])))
    if kind == "duplicate_key":
        key = draw(st.sampled_from(sorted(row, key=str)))
        return _line(row)[:-1] + b", " + _line(key) + b": " + _line(draw(json_values)) + b"}"
    if kind == "duplicate_nested_key":
        return _line({**plain, "messages": "__RAW__"}).replace(
            b'"__RAW__"', b'[{"role": "user", "content": "a", "content": "b"}]')
    if kind == "nul":
        where = draw(st.sampled_from(["value", "key"]))
        return _line({**row, "note": "a\x00b"} if where == "value" else {**row, "a\x00b": 1})
    if kind == "surrogate":
        return _line({**row, "note": "__S__"}).replace(b"__S__", draw(st.sampled_from([b"\\ud800", b"\\udfff", b"x\\udc00y"])))
    if kind == "not_an_object":
        return draw(st.sampled_from([b"[1, 2]", b'"text"', b"42", b"null", b"true", b"[]", b"{}"]))
    if kind == "wrong_id":
        return _line({**row, "id": draw(st.sampled_from([1.5, True, False, [], {}, None, [1], {"a": 1}, "", "   "]))})
    if kind == "long_id":
        return _line({**row, "id": "i" * draw(st.integers(201, 5000))})
    if kind == "wrong_prompt":
        return _line({**plain, "prompt": draw(st.sampled_from([5, 1.5, True, False, 0, ["x"], {"a": "b"}, "  \t "]))})
    if kind == "bad_messages":
        return _line({**plain, "messages": draw(st.sampled_from([
            [], "not json", "[1", [{"role": "user"}], [{"role": "robot", "content": "x"}],
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            [{"role": "user", "content": 5}], [{"role": "user", "content": "x", "extra": 1}],
            {"role": "user", "content": "x"}, [{"role": "user", "content": "   "}], ["user"]]))})
    if kind == "prompt_and_messages":
        return _line({**plain, "prompt": "p", "messages": [{"role": "user", "content": "m"}]})
    if kind == "long_category":
        return _line({**row, "category": "c" * draw(st.integers(201, 1000))})
    if kind == "duplicate_id" and earlier_ids:
        return _line({**row, "id": draw(st.sampled_from(earlier_ids))})
    return _line({**row, "id": None})  # duplicate_id on the first row: a missing id instead


MALFORMED_KINDS = ["truncated", "invalid_utf8", "nan", "out_of_range", "duplicate_key",
                   "duplicate_nested_key", "nul", "surrogate", "not_an_object", "wrong_id", "long_id",
                   "wrong_prompt", "bad_messages", "prompt_and_messages", "long_category", "duplicate_id"]


def first_error_line(lines: list[bytes], bad: list[int]) -> int:
    """Invalid UTF-8 anywhere is found first (the file is decoded whole); else the first bad line."""
    for number, line in enumerate(lines, 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return min(bad)


@HYPOTHESIS
@given(data=st.data())
def test_malformed_prompt_file_names_the_first_bad_line_and_stores_nothing(initialised, engine, tmp_path, data):
    rows = data.draw(prompt_rows(max_rows=4))
    broken = set(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=3, unique=True)))
    lines: list[bytes] = []
    bad: list[int] = []
    for index, row in enumerate(rows):
        if data.draw(st.integers(0, 4)) == 0:
            lines.append(data.draw(st.sampled_from([b"", b"   ", b"\r"])))  # blank lines still count
        if index in broken:
            kind = data.draw(st.sampled_from(MALFORMED_KINDS))
            lines.append(malformed_line(data.draw, kind, row, [r["id"] for r in rows[:index]]))
            bad.append(len(lines))
        else:
            lines.append(_line(row, ensure_ascii=data.draw(st.booleans())))
    path = write_lines(tmp_path / "malformed.jsonl", lines)
    before = stored_counts(engine)
    code, out, err = initialised("prompts", "import", path, "--set", fresh_name("bad"))
    assert_one_error_line(code, out, err, f"{path}:{first_error_line(lines, bad)}:")
    assert len(err) < 400, err  # the offending value is quoted short, never whole
    assert stored_counts(engine) == before


# --------------------------------------------------------------------------- explicit cases


def test_one_megabyte_lines(initialised, engine, tmp_path):
    """A 1 MB prompt is stored whole; a 1 MB line that is cut, or ends in a bad byte, or whose
    id is 1 MB long, is one short error naming the line."""
    big = "Ω≈ç√ " * 100_000 + "<script>alert(1)</script>\u202e"   # about 1 MB of UTF-8
    assert len(big.encode()) > 1_000_000
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"id": "small", "prompt": "hi"}) + "\n"
                    + json.dumps({"id": "big", "prompt": big, "category": "huge"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    code, _, err = initialised("prompts", "import", path, "--set", "big")
    assert code == 0, err
    stored = read_back(engine, "big")
    assert stored[1]["messages"][0]["content"].encode() == big.encode()

    whole = json.dumps({"id": "x", "prompt": big}, ensure_ascii=False).encode()
    cases = [
        (whole[: whole.rindex(b" ", 0, len(whole) // 2)], "malformed JSON"),  # cut between characters
        (whole[:-2] + b"\xff\"}", "invalid UTF-8"),
        (json.dumps({"id": "i" * 1_000_000, "prompt": "p"}).encode(), "field 'id' must be 1 to 200"),
        (b'{"id": "w", "prompt": "p", "' + b"k" * 1_000_000 + b'": 1, "' + b"k" * 1_000_000 + b'": 2}',
         "duplicate key"),
    ]
    before = counts(initialised)
    for line, fragment in cases:
        path = write_lines(tmp_path / "bad-big.jsonl", [b'{"id": "ok", "prompt": "fine"}', line])
        code, out, err = initialised("prompts", "import", path, "--set", "big-bad")
        assert_one_error_line(code, out, err, f"{path}:2:", fragment)
        assert len(err) < 400
    assert counts(initialised) == before


BAD_CSV = [
    # (content, fragment of the error, line)
    (b"id,prompt,prompt\n1,a,b\n", "repeats the column 'prompt'", 1),
    (b"id,prompt\n1,ok\n2,\"unterminated\n", "malformed CSV", 3),
    (b"id,prompt\n1,ok\n2,nul\x00here\n", "", 3),
    (b"id,prompt\n1,ok\n2,\"bad\xffbyte\"\n", "invalid UTF-8", 3),
    (b"id,prompt,category\n1,ok," + b"c" * 201 + b"\n", "'category' must be at most 200", 2),
    (b"id,messages\n1,\"[{\"\"role\"\": \"\"user\"\", \"\"role\"\": \"\"user\"\", \"\"content\"\": \"\"x\"\"}]\"\n",
     "duplicate key 'role'", 2),
    (b"id,messages\n1,\"[{\"\"role\"\": \"\"user\"\", \"\"content\"\": \"\"\\ud800\"\"}]\"\n", "unpaired surrogate", 2),
]


def test_malformed_csv_prompt_files(initialised, tmp_path):
    before = counts(initialised)
    for content, fragment, line in BAD_CSV:
        path = tmp_path / "bad.csv"
        path.write_bytes(content)
        code, out, err = initialised("prompts", "import", path, "--set", "csv-bad")
        assert_one_error_line(code, out, err, f"{path}:{line}:", fragment)
    assert counts(initialised) == before


def test_line_separators_inside_json_strings_are_text_not_line_breaks(initialised, engine, tmp_path):
    """U+2028, U+2029, NEL, VT, FF and FS are legal unescaped in JSON strings; only \\n ends a line."""
    prompt = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei"
    path = tmp_path / "separators.jsonl"
    path.write_text(json.dumps({"id": "s", "prompt": prompt}, ensure_ascii=False) + "\n"
                    + json.dumps({"id": "t", "prompt": "second"}) + "\n", encoding="utf-8")
    code, _, err = initialised("prompts", "import", path, "--set", "separators")
    assert code == 0, err
    assert [p["messages"][0]["content"] for p in read_back(engine, "separators")] == [prompt, "second"]
    path.write_text(json.dumps({"id": "s", "prompt": prompt}, ensure_ascii=False) + "\n{broken\n",
                    encoding="utf-8")
    code, out, err = initialised("prompts", "import", path, "--set", "separators-2")
    assert_one_error_line(code, out, err, f"{path}:2:")


def test_long_names_are_refused_before_the_database(initialised, tmp_path):
    """VARCHAR(200) names: PostgreSQL would refuse 201 characters, SQLite would keep them; both
    now get the same clear error."""
    path = tmp_path / "ok.jsonl"
    path.write_text('{"id": "a", "prompt": "p"}\n')
    code, out, err = initialised("prompts", "import", path, "--set", "s" * 201)
    assert_one_error_line(code, out, err, "prompt set name must be 1 to 200 characters")
    assert counts(initialised)["prompt_sets"] == 0
