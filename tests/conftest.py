"""Shared fixtures: a real database per test, built with ``alembic upgrade head``.

SQLite (a file in the test's tmp folder) by default; with REVIEW_TEST_POSTGRES_URL set
(e.g. postgresql://postgres@127.0.0.1:5432/test) each test gets a fresh PostgreSQL
database created on that server and dropped afterwards. In that mode only the tests
that use the database run, unless REVIEW_TEST_ALL=1.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.tiny_models import build_adapter, build_gpt2, build_llama
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

POSTGRES_URL = os.environ.get("REVIEW_TEST_POSTGRES_URL")


def pytest_report_header(config):  # noqa: ANN001, ANN201
    if POSTGRES_URL:
        return f"database: PostgreSQL ({make_url(POSTGRES_URL).render_as_string(hide_password=True)})"
    return "database: SQLite (a file per test)"


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if not POSTGRES_URL or os.environ.get("REVIEW_TEST_ALL"):
        return
    selected, deselected = [], []
    for item in items:
        (selected if "database_url" in getattr(item, "fixturenames", ()) else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def _postgres_admin_url() -> str:
    url = make_url(POSTGRES_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """URL of a new, empty database: a SQLite file in ``folder``, or a PostgreSQL database
    created on the REVIEW_TEST_POSTGRES_URL server and dropped afterwards."""
    if not POSTGRES_URL:
        yield f"sqlite:///{folder / 'review.db'}"
        return
    admin_url = _postgres_admin_url()
    name = f"review_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path):
    """URL of an empty database that only this test uses."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url):
    """An engine on a database whose schema was made by the migrations."""
    from review.core.db import make_engine
    from review.core.schema import upgrade_head

    engine = make_engine(database_url)
    upgrade_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    """A session on the migrated database; the test commits what it wants kept."""
    from review.core.db import session_factory

    session = session_factory(engine)()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def cli(database_url, capsys, monkeypatch, tmp_path):
    """Run ``review ...`` in-process against the test database: returns (exit code, stdout, stderr)."""
    from review.cli import main

    monkeypatch.setenv("REVIEW_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def initialised(cli):
    """The ``cli`` runner on a database that ``review init`` has created."""
    code, _, err = cli("init")
    assert code == 0, err
    return cli


def counts(cli) -> dict[str, int]:
    """The counts ``review status --json`` prints (models, prompts, generations, ...)."""
    code, out, err = cli("status", "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def database(engine, database_url):
    """The server's :class:`~review.core.db.Database` on the migrated database, with the
    accounts ana (password her-password) and bo (his-password)."""
    from review.core.config import Settings
    from review.core.db import Database, session_scope
    from tests.factories import make_reviewer

    with session_scope(engine, write=True) as session:
        make_reviewer(session, "ana", password="her-password")
        make_reviewer(session, "bo", password="his-password")
    db = Database(Settings(database_url=database_url))
    yield db
    db.engine.dispose()


# --------------------------------------------------------------------------- tiny models
# Built offline from a config (tests/tiny_models.py), once per test session:
# - tiny_llama: a 2-layer Llama (hidden size 32) with a ChatML chat template;
# - tiny_gpt2: a 2-layer GPT-2 without a chat template;
# - tiny_llama_adapter: a LoRA adapter for tiny_llama that changes its output;
# - other_llama: a Llama with hidden size 48, a base that the adapter does not fit.

@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    return build_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    return build_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def other_llama(tmp_path_factory):
    return build_llama(tmp_path_factory.mktemp("other-llama"), hidden_size=48)


@pytest.fixture(scope="session")
def tiny_llama_adapter(tiny_llama, tmp_path_factory):
    return build_adapter(tiny_llama, tmp_path_factory.mktemp("tiny-llama-adapter"))


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory):
    """A tiny Llama trained to answer [[A]] (most often) or [[B]]: a position-biased judge."""
    from tests.tiny_models import build_judge

    return build_judge(tmp_path_factory.mktemp("tiny-judge"))
