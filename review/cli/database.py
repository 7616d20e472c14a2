"""``review init``, ``review status`` and ``review db backup|restore``."""

from __future__ import annotations

from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option


@app.command()
@json_option
def init(as_json: bool) -> None:
    """Create or upgrade the database schema (alembic upgrade head).

    Example: review --db sqlite:///votes.db init
    """
    from review.core.schema import upgrade_head

    ctx = current()
    engine = ctx.engine(require_schema=False)
    revision = upgrade_head(engine)
    url = engine.url.render_as_string(hide_password=True)
    emit({"database": url, "revision": revision}, as_json, f"database {url} is at revision {revision}")


@app.command()
@json_option
def status(as_json: bool) -> None:
    """Counts of models, prompts, generations, studies, items and judgments.

    Example: review status --json
    """
    from review.reporting.status import database_counts

    with current().session(write=False) as session:
        counts = database_counts(session=session)
    emit(counts, as_json, "\n".join(f"{key:<12} {value}" for key, value in counts.items()))


@app.group("db", no_args_is_help=True)
def db_app() -> None:
    """Back up and restore the database (a SQLite file or PostgreSQL)."""


@db_app.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def db_backup(file: Path, as_json: bool) -> None:
    """Write a consistent backup of the database to FILE; safe while the app is running.

    SQLite: a copy made with SQLite's online backup API (an ordinary SQLite file).
    PostgreSQL: a pg_dump custom-format archive (needs pg_dump on PATH). FILE appears only
    when the backup is complete; an existing FILE is replaced then, not before.

    Example: review db backup backups/review-2025-01-31.db
    """
    from review.interchange.backup import backup_database

    result = backup_database(current().settings.database_url, file)
    emit(result.to_dict(), as_json,
          f"backed up {result.database} to {result.output} ({result.bytes} bytes, "
          f"schema revision {result.revision or 'none'})")


@db_app.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@json_option
def db_restore(file: Path, force: bool, as_json: bool) -> None:
    """Restore a backup made by `review db backup` into the database (all or nothing).

    A SQLite backup goes into a SQLite database, a pg_dump archive into PostgreSQL (with
    pg_restore --clean --if-exists --no-owner, in one transaction). A database that already
    holds data is replaced only with --force. Stop `review serve` and `review watch` first.

    Example: review --db sqlite:///restored.db db restore backups/review-2025-01-31.db
    """
    from review.interchange.backup import restore_database

    result = restore_database(current().settings.database_url, file, force=force)
    hint = "" if result.up_to_date else "; run `review init` to upgrade its schema"
    emit(result.to_dict(), as_json,
          f"restored {result.source} into {result.database} "
          f"(schema revision {result.revision}){hint}")
