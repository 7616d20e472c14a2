"""What every command module shares: the ``review`` group, the context (settings, engine,
sessions), the ``--json`` option and the way results are printed."""

from __future__ import annotations

import json
from typing import Any

import click

from review.core.errors import ReviewError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS, no_args_is_help=True)
def app() -> None:
    """Blind side-by-side human review of fine-tuned language models.

    Database: --db URL (anywhere on the line) or REVIEW_DATABASE_URL; default
    sqlite:///review.db in the working directory.
    """


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


class Context:
    """What every command needs: the settings (with --db applied) and, lazily, an engine."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._settings = None
        self._engine = None

    @property
    def settings(self):  # noqa: ANN201 - review.core.config.Settings
        if self._settings is None:
            from pydantic import ValidationError

            from review.core.config import Settings

            overrides = {"database_url": self.database_url} if self.database_url else {}
            try:
                self._settings = Settings(**overrides)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                raise ReviewError(f"invalid setting REVIEW_{field.upper()}: {first['msg']}") from None
        return self._settings

    def use_database(self, url: str) -> None:
        """Point this command at another database (before the engine is made)."""
        self.database_url, self._settings, self._engine = url, None, None

    def engine(self, *, require_schema: bool = True):  # noqa: ANN201 - sqlalchemy.Engine
        if self._engine is None:
            from review.core.db import check_connection, make_engine, sqlite_file
            from review.core.schema import current_revision, head_revision

            engine = make_engine(self.settings)
            if engine.dialect.name == "sqlite":
                database = sqlite_file(engine.url)
                if database is not None and not database.exists():
                    if require_schema:
                        raise ReviewError(f"no database at {database}: run `review init` first")
                    database.parent.mkdir(parents=True, exist_ok=True)
            check_connection(engine)
            if require_schema:
                revision = current_revision(engine)
                if revision is None:
                    raise ReviewError("the database has no schema yet: run `review init` first")
                if revision != head_revision():
                    raise ReviewError("the database schema is out of date: run `review init` to upgrade it")
            self._engine = engine
        return self._engine

    def session(self, *, write: bool = True):  # noqa: ANN201 - context manager of Session
        from review.core.db import session_scope

        return session_scope(self.engine(), write=write)


def current() -> Context:
    return click.get_current_context().find_object(Context)


def emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text)
