"""`review db backup` / `review db restore` on the configured database (SQLite, or PostgreSQL
with REVIEW_TEST_POSTGRES_URL): a restored copy gives the identical analysis."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import make_url

from review.interchange.backup import backup_kind
from review.core.db import make_engine, session_scope
from review.core.models import Reviewer
from review.auth.passwords import verify_password
from tests.conftest import fresh_database
from tests.hardening.conftest import assert_one_error_line, write_lines


def study_file(path: Path, *, items: int = 30, judges: tuple[str, ...] = ("ana", "bo", "cy")) -> Path:
    """An MT-Bench-style judgment file: ``items`` questions, each judged by every judge, the
    fine-tune ("sft") preferred more often than the base, left/right order mixed."""
    rng = random.Random(11)
    rows = []
    for question in range(items):
        for judge in judges:
            shown = ("sft", "base") if rng.random() < 0.5 else ("base", "sft")
            preferred = rng.choices(["sft", "base", "tie", "both_bad"], weights=[5, 2, 2, 1])[0]
            winner = {"tie": "tie", "both_bad": "tie (bothbad)"}.get(
                preferred, "model_a" if preferred == shown[0] else "model_b")
            rows.append({
                "question_id": question, "model_a": shown[0], "model_b": shown[1], "winner": winner,
                "judge": judge, "category": ["coding", "writing", "math"][question % 3],
                "conversation_a": [{"role": "user", "content": f"Question {question}?"},
                                   {"role": "assistant", "content": f"{shown[0]} answers {question}"}],
                "conversation_b": [{"role": "user", "content": f"Question {question}?"},
                                   {"role": "assistant", "content": f"{shown[1]} says {question}"}],
                "rationale": "ünïcödé \u202e <b>why</b>", "seconds": 12.5 + question,
            })
    return write_lines(path, [json.dumps(r, ensure_ascii=False).encode() for r in rows])


def analysis(cli, *db: str) -> dict:
    code, out, err = cli(*db, "analyze", "--study", "mt", "--json", "--bootstrap", "200")
    assert code == 0, err
    return json.loads(out)


def table_contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key: the databases must be identical."""
    engine = make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {name: [tuple(r) for r in connection.execute(
                        table.select().order_by(*table.primary_key.columns))]
                    for name, table in sorted(metadata.tables.items())}
    finally:
        engine.dispose()


@pytest.fixture
def study(cli, tmp_path):
    """An initialised database with a 30-item, 3-judge imported study and a login account."""
    assert cli("init")[0] == 0
    code, _, err = cli("import-judgments", study_file(tmp_path / "mt.jsonl"), "--study", "mt",
                       "--candidate", "sft", "--baseline", "base")
    assert code == 0, err
    assert cli("reviewers", "add", "dana", "--role", "analyst", "--password", "pw-dana")[0] == 0
    return cli


def test_backup_then_restore_into_a_fresh_database_gives_the_identical_analysis(study, database_url, tmp_path):
    cli = study
    original = analysis(cli)
    assert original["n_items"] == 30 and original["n_judgments"] == 90 and original["n_reviewers"] == 3
    backup = tmp_path / "backups" / "review.backup"
    backup.parent.mkdir()
    code, out, err = cli("db", "backup", backup, "--json")
    assert code == 0, err
    result = json.loads(out)
    expected_kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert result["backend"] == expected_kind == backup_kind(backup)
    assert result["bytes"] == backup.stat().st_size > 0 and result["revision"]
    assert make_url(database_url).password is None or "***" in result["database"]
    assert [p.name for p in backup.parent.iterdir()] == ["review.backup"]  # no temporary left behind
    assert stat.S_IMODE(backup.stat().st_mode) & 0o077 == 0  # it holds password hashes: owner only

    (tmp_path / "second").mkdir()
    with fresh_database(tmp_path / "second") as second:
        code, out, err = cli("--db", second, "db", "restore", backup, "--json")
        assert code == 0, err
        restored = json.loads(out)
        assert restored["revision"] == result["revision"] and restored["up_to_date"] is True
        assert restored["replaced_data"] is False
        assert analysis(cli, "--db", second) == original
        assert table_contents(second) == table_contents(database_url)
        engine = make_engine(second)
        with session_scope(engine) as session:  # logins survive: the hash came along
            dana = session.scalar(select(Reviewer).where(Reviewer.name == "dana"))
            assert verify_password("pw-dana", dana.password_hash)
        engine.dispose()

        # A database that holds data is replaced only with --force.
        assert cli("--db", second, "reviewers", "add", "eve", "--password", "x")[0] == 0
        code, out, err = cli("--db", second, "db", "restore", backup)
        assert_one_error_line(code, out, err, "already holds data", "--force")
        code, out, err = cli("--db", second, "db", "restore", backup, "--force", "--json")
        assert code == 0, err
        assert json.loads(out)["replaced_data"] is True
        assert table_contents(second) == table_contents(database_url)  # eve is gone
        assert analysis(cli, "--db", second) == original


def test_restore_refuses_the_other_kind_and_files_that_are_not_backups(study, database_url, tmp_path):
    cli = study
    sqlite_backup = tmp_path / "from-sqlite.db"
    with sqlite3.connect(sqlite_backup) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('0001')")
    connection.close()
    pg_backup = tmp_path / "from-postgres.dump"
    pg_backup.write_bytes(b"PGDMP\x01\x0e\x00" + os.urandom(200))
    not_review = tmp_path / "other-app.db"
    with sqlite3.connect(not_review) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("SQLite format 2 -- not a backup\n")
    before = table_contents(database_url)

    on_sqlite = database_url.startswith("sqlite")
    wrong_kind = pg_backup if on_sqlite else sqlite_backup
    code, out, err = cli("db", "restore", wrong_kind, "--force")
    assert_one_error_line(code, out, err, "backup and cannot be restored into the",
                          "PostgreSQL backup" if on_sqlite else "SQLite backup")
    # The other direction needs no server: the kind is checked before connecting.
    target = tmp_path / "never-created.db"
    code, out, err = cli("--db", f"sqlite:///{target}", "db", "restore", pg_backup)
    assert_one_error_line(code, out, err, "is a PostgreSQL backup and cannot be restored into the SQLite")
    assert not target.exists()
    code, out, err = cli("--db", "postgresql://someone:secret-pw@127.0.0.1:1/nowhere", "db", "restore", sqlite_backup)
    assert_one_error_line(code, out, err, "is a SQLite backup and cannot be restored into the PostgreSQL")
    assert "secret-pw" not in err

    cases = [(text_file, "not a backup made by `review db backup`"), (tmp_path / "missing.db", "no such file"),
             (tmp_path, "is a directory")]
    if on_sqlite:
        good = tmp_path / "good.db"
        assert cli("db", "backup", good)[0] == 0
        truncated = tmp_path / "truncated.db"
        truncated.write_bytes(good.read_bytes()[: 4096 * 3 + 100])
        cases += [(truncated, "damaged"), (not_review, "not a backup of a review database")]
    for source, fragment in cases:
        code, out, err = cli("db", "restore", source, "--force")
        assert_one_error_line(code, out, err, fragment)
    assert table_contents(database_url) == before


def test_backup_taken_while_the_app_writes_is_a_consistent_snapshot(study, database_url, tmp_path):
    """A writer commits five reviewers per transaction while backups are taken: every backup
    restores to a multiple of five of them, and the writer never fails."""
    cli = study
    engine = make_engine(database_url)
    stop, failures, written = threading.Event(), [], [0]

    def write() -> None:
        batch = 0
        while not stop.is_set():
            try:
                with session_scope(engine, write=True) as session:
                    session.add_all(Reviewer(name=f"w{batch}-{i}", role="reviewer") for i in range(5))
                batch += 1
                written[0] = batch
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return

    writer = threading.Thread(target=write)
    writer.start()
    backups = []
    try:
        while written[0] < 5 and not failures:
            stop.wait(0.01)
        started = written[0]
        for number in range(2):
            backups.append(tmp_path / f"live-{number}.backup")
            code, _, err = cli("db", "backup", backups[-1])
            assert code == 0, err
        while written[0] == started and not failures:  # the writer kept going meanwhile
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()
        engine.dispose()
    assert failures == [] and written[0] > started
    for number, backup in enumerate(backups):
        (tmp_path / f"restore-{number}").mkdir()
        with fresh_database(tmp_path / f"restore-{number}") as target:
            code, _, err = cli("--db", target, "db", "restore", backup)
            assert code == 0, err
            restored = make_engine(target)
            with restored.connect() as connection:
                writers = connection.execute(text("SELECT count(*) FROM reviewers WHERE name LIKE 'w%'")).scalar()
                if target.startswith("sqlite"):
                    assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            restored.dispose()
            assert writers % 5 == 0 and writers > 0, writers


def test_backup_errors_are_one_line_and_leave_no_file(study, database_url, tmp_path):
    cli = study
    code, out, err = cli("db", "backup", tmp_path / "no-such-folder" / "x.backup")
    assert_one_error_line(code, out, err, "no such folder")
    code, out, err = cli("db", "backup", tmp_path)
    assert_one_error_line(code, out, err, "is a directory")
    missing = tmp_path / "missing.db"
    code, out, err = cli("--db", f"sqlite:///{missing}", "db", "backup", tmp_path / "m.backup")
    assert_one_error_line(code, out, err, f"no database at {missing}")
    assert not missing.exists() and not (tmp_path / "m.backup").exists()
    if database_url.startswith("sqlite"):
        database = Path(database_url.removeprefix("sqlite:///"))
        code, out, err = cli("db", "backup", database)
        assert_one_error_line(code, out, err, "is the database itself")
    code, out, err = cli("--db", "sqlite://", "db", "backup", tmp_path / "memory.backup")
    assert_one_error_line(code, out, err, "in-memory")
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == []


def _fake_pg_tool(folder: Path, name: str, *, exit_code: int, message: str) -> Path:
    """A stand-in for pg_dump that records how it was called, writes half an archive and fails."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{folder}/argv"\n'
        f'echo "$PGPASSWORD" > "{folder}/password"\n'
        'for a in "$@"; do case "$a" in --file=*) printf "PGDMP-half" > "${a#--file=}";; esac; done\n'
        f'echo "{message}" >&2\n'
        f"exit {exit_code}\n")
    script.chmod(0o755)
    return script


def test_pg_dump_missing_or_failing_is_one_clear_line(study, tmp_path, monkeypatch):
    cli = study
    url = "postgresql://review:s3cret-pw@127.0.0.1:1/review"
    destination = tmp_path / "pg.backup"
    destination.write_bytes(b"PGDMP an older backup")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = cli("--db", url, "db", "backup", destination)
    assert_one_error_line(code, out, err, "pg_dump not found on PATH", "postgresql-client")

    tools = tmp_path / "tools"
    _fake_pg_tool(tools, "pg_dump", exit_code=1,
                  message='pg_dump: error: connection to server at "127.0.0.1", port 1 failed: FATAL:  '
                          'password authentication failed for user "review"')
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    code, out, err = cli("--db", url, "db", "backup", destination)
    assert_one_error_line(code, out, err, "pg_dump failed:", "password authentication failed")
    assert "s3cret-pw" not in err
    argv = (tools / "argv").read_text()
    assert "s3cret-pw" not in argv and "--format=custom" in argv and "user=review dbname=review" in argv
    assert (tools / "password").read_text().strip() == "s3cret-pw"  # handed over in PGPASSWORD
    assert destination.read_bytes() == b"PGDMP an older backup"    # the older backup is intact
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
