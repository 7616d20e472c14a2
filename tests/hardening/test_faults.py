"""Faults: a read-only database, a full disk, `kill -9` of `review watch`.

Each must give one clear error line and leave the database intact (integrity check ok,
earlier rows still there), or, for the killed watcher, finish on the next run without
storing anything twice.

The tests run as root in CI, where file permissions do not stop writes; a read-only SQLite
database is therefore opened read-only through its URI (``?mode=ro``), and on PostgreSQL the
connection is made read-only with ``default_transaction_read_only``. A full disk is made by
capping the database (``PRAGMA max_page_count``: SQLITE_FULL) and by a file-size limit on
the process (``RLIMIT_FSIZE``: writes fail with EFBIG, as on a full file system).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import event, text

import review.core.db
from tests.hardening.conftest import assert_one_error_line, write_lines
from tests.hardening.test_backup import study_file, table_contents
from tests.tiny_models import build_llama, write_trainer_state


def prompts_file(path: Path, n: int, *, size: int = 40) -> Path:
    return write_lines(path, [json.dumps({"id": f"{path.stem}-{i}", "prompt": f"{i}: " + "x" * size,
                                          "category": "c"}).encode() for i in range(n)])


def sqlite_integrity(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    connection.close()
    return result


def populated(cli, tmp_path: Path, *db: str) -> None:
    """Prompts, an imported study and an account: the rows that must survive."""
    assert cli(*db, "init")[0] == 0
    assert cli(*db, "prompts", "import", prompts_file(tmp_path / "first.jsonl", 5), "--set", "kept")[0] == 0
    code, _, err = cli(*db, "import-judgments", study_file(tmp_path / "mt.jsonl", items=6), "--study", "mt")
    assert code == 0, err
    assert cli(*db, "reviewers", "add", "dana", "--password", "pw")[0] == 0


# --------------------------------------------------------------------------- read-only


def read_only_urls(database_url: str) -> list[str]:
    """URLs through which the same database can only be read."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return [f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"]
    separator = "&" if "?" in database_url else "?"
    return [f"{database_url}{separator}options={quote('-c default_transaction_read_only=on')}"]


def test_read_only_database_refuses_writes_with_one_line_and_stays_intact(cli, database_url, tmp_path):
    populated(cli, tmp_path)
    before = table_contents(database_url)
    more = prompts_file(tmp_path / "more.jsonl", 3)
    for url in read_only_urls(database_url):
        db = ("--db", url)
        code, out, err = cli(*db, "status", "--json")  # reading still works
        assert code == 0, err
        assert json.loads(out)["prompts"] == 5 + 6
        for command in (("prompts", "import", more, "--set", "kept"),
                        ("prompts", "import", more, "--set", "new"),
                        ("import-judgments", study_file(tmp_path / "mt2.jsonl", items=3), "--study", "mt2"),
                        ("reviewers", "add", "eve", "--password", "pw")):
            code, out, err = cli(*db, *command)
            assert_one_error_line(code, out, err, "database error:")
            assert "read" in err.lower() and "only" in err.lower(), err
        # A read-only database can still be backed up, and the backup is complete.
        backup = tmp_path / "read-only.backup"
        code, _, err = cli(*db, "db", "backup", backup)
        assert code == 0, err
        assert backup.stat().st_size > 0
    assert table_contents(database_url) == before
    if database_url.startswith("sqlite"):
        assert sqlite_integrity(Path(database_url.removeprefix("sqlite:///"))) == "ok"


def test_percent_signs_in_the_database_url(cli, database_url, tmp_path):
    """Percent-encoded URLs (passwords with special characters, such paths) reach Alembic's
    ConfigParser in `review init`, where a bare % used to be an internal error."""
    folder = tmp_path / "100% sure"
    folder.mkdir()
    urls = [f"sqlite:///{folder / 'review.db'}"]
    if not database_url.startswith("sqlite"):
        separator = "&" if "?" in database_url else "?"
        urls.append(f"{database_url}{separator}application_name=review%20100%25")
    for url in urls:
        code, out, err = cli("--db", url, "init", "--json")
        assert code == 0, err
        assert json.loads(out)["revision"]
        assert cli("--db", url, "status")[0] == 0


# --------------------------------------------------------------------------- full disk


def test_full_database_gives_one_line_and_keeps_earlier_rows(cli, tmp_path, monkeypatch):
    """SQLITE_FULL: the database may not grow beyond two more pages."""
    path = tmp_path / "capped.db"
    db = ("--db", f"sqlite:///{path}")
    populated(cli, tmp_path, *db)
    before = table_contents(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.close()
    make = review.core.db.make_engine

    def capped_engine(settings):  # noqa: ANN001, ANN202
        engine = make(settings)

        @event.listens_for(engine, "connect")
        def _cap(dbapi_connection, _record):  # noqa: ANN001, ANN202
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

        return engine

    monkeypatch.setattr(review.core.db, "make_engine", capped_engine)
    big = prompts_file(tmp_path / "big.jsonl", 200, size=4000)
    for command in (("prompts", "import", big, "--set", "big"),
                    ("import-judgments", study_file(tmp_path / "many.jsonl", items=300), "--study", "many")):
        code, out, err = cli(*db, *command)
        assert_one_error_line(code, out, err, "database or disk is full")
    monkeypatch.undo()
    assert sqlite_integrity(path) == "ok"
    assert table_contents(f"sqlite:///{path}") == before
    code, _, err = cli(*db, "prompts", "import", big, "--set", "big")  # with room again, it works
    assert code == 0, err


def _file_size_limit(limit: int):  # noqa: ANN202 - a preexec_fn
    def apply() -> None:
        # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, like a full disk.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _review(*args: str, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "review.cli", *map(str, args)], capture_output=True,
                          text=True, preexec_fn=_file_size_limit(limit), timeout=120)


def test_disk_full_during_import_and_backup(cli, tmp_path):
    """Writes that fail in the middle (EFBIG) leave the database and an older backup intact."""
    path = tmp_path / "review.db"
    url = f"sqlite:///{path}"
    populated(cli, tmp_path, "--db", url)
    before = table_contents(url)
    size = path.stat().st_size

    result = _review("--db", url, "prompts", "import", prompts_file(tmp_path / "big.jsonl", 300, size=4000),
                     "--set", "big", limit=size + 64 * 1024)
    assert_one_error_line(result.returncode, result.stdout, result.stderr, "database error: disk I/O error")
    assert sqlite_integrity(path) == "ok"
    assert table_contents(url) == before

    backups = tmp_path / "backups"
    backups.mkdir()
    older = backups / "review.backup"
    older.write_bytes(b"an older backup")
    result = _review("--db", url, "db", "backup", older, limit=size // 2)
    assert_one_error_line(result.returncode, result.stdout, result.stderr, "backup of", "failed")
    assert older.read_bytes() == b"an older backup"
    assert [p.name for p in backups.iterdir()] == ["review.backup"]  # no partial file left
    assert table_contents(url) == before


# --------------------------------------------------------------------------- kill -9 watch


def make_checkpoint(run: Path, step: int) -> None:
    folder = run / f"checkpoint-{step}"
    build_llama(folder, seed=step)
    write_trainer_state(folder, step)


@pytest.mark.slow
def test_killed_watch_resumes_without_duplicates(cli, engine, database_url, tmp_path, tiny_llama):
    prompts = 6
    assert cli("init")[0] == 0
    assert cli("prompts", "import", prompts_file(tmp_path / "watch.jsonl", prompts), "--set", "demo")[0] == 0
    assert cli("models", "add", "base", tiny_llama)[0] == 0
    run = tmp_path / "run"
    run.mkdir()
    for step in (10, 20, 30):
        make_checkpoint(run, step)
    env = {**os.environ, "REVIEW_DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "review.cli", "watch", str(run), "--baseline", "base", "--set", "demo",
               "--interval", "0.2", "--max-new-tokens", "16", "--batch-size", "1", "--json"]

    def count(table: str) -> int:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it while it answers for the second checkpoint: the first is paired, the rest is not.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if count("studies") >= 1 and count("generations") > 2 * prompts + 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    studies_before, generations_before = count("studies"), count("generations")
    assert 1 <= studies_before < 5 and generations_before < 4 * prompts, "the watcher must be killed midway"

    finish = subprocess.run([*command[:-1], "--once", "--json"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert finish.returncode == 0, finish.stderr
    assert json.loads(finish.stdout)["handled"][-1] == "run/checkpoint-30"

    def stored() -> dict:
        with engine.connect() as connection:
            one = lambda sql: tuple(connection.execute(text(sql)).one())  # noqa: E731
            return {
                "models": one("SELECT count(*), count(DISTINCT name) FROM models"),
                "generations": one("SELECT count(*) FROM (SELECT DISTINCT model_id, prompt_id, params_hash "
                                   "FROM generations) AS g") + one("SELECT count(*) FROM generations"),
                "studies": one("SELECT count(*), count(DISTINCT name) FROM studies"),
                "items": one("SELECT count(*) FROM (SELECT DISTINCT study_id, prompt_id FROM comparisons) AS c")
                + one("SELECT count(*) FROM comparisons"),
            }

    # base + 3 checkpoints; 4 x 6 answers; 3 studies against base + 2 against an earlier checkpoint.
    expected = {"models": (4, 4), "generations": (4 * prompts,) * 2, "studies": (5, 5), "items": (5 * prompts,) * 2}
    assert stored() == expected
    again = subprocess.run([*command[:-1], "--once", "--json"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and json.loads(again.stdout) == {"handled": []}, again.stderr
    assert stored() == expected

