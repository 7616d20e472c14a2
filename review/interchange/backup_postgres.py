"""Backup and restore of a PostgreSQL database with ``pg_dump`` / ``pg_restore``.

The dispatch and the SQLite side are in :mod:`review.interchange.backup`, the shared file
handling in :mod:`review.interchange.backup_files`; this module is what only PostgreSQL needs:
the client tools, the connection parameters they take, and the custom-format archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import URL, column, inspect, select, table
from sqlalchemy import func as sql_func
from sqlalchemy.exc import DBAPIError

from review.core.db import check_connection, make_engine
from review.core.errors import ReviewError
from review.interchange.backup_files import (
    VERSION_TABLE,
    BackupResult,
    RestoreResult,
    backup_kind,
    check_destination,
    first_line,
    is_head,
    publish,
    redacted,
    remove_partial,
    temporary_beside,
)


def _client_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ReviewError(f"{name} not found on PATH: install the PostgreSQL client tools "
                          "(e.g. apt-get install postgresql-client) of the server's version or newer")
    return path


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it.

    The URL's query (``sslmode``, ``options``, a socket ``host`` ...) is passed on as libpq
    parameters, as the psycopg driver does; a keyword/value string, not a URI, so that
    values with spaces or ``+`` arrive as written.
    """
    from psycopg.conninfo import make_conninfo

    parameters = {key: (value[-1] if isinstance(value, tuple) else value) for key, value in url.query.items()}
    parameters.update({key: value for key, value in (
        ("host", url.host), ("port", url.port), ("user", url.username), ("dbname", url.database))
        if value is not None})
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return make_conninfo(**parameters), env


def _run_tool(command: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace",
                                stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise ReviewError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        raise ReviewError(f"{what} failed: {first_line(result.stderr)}")
    return result


def _postgres_state(url: URL) -> tuple[int, str | None]:
    """(rows in the database's tables other than alembic_version, schema revision)."""
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        check_connection(engine)
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            rows = sum(connection.execute(select(sql_func.count()).select_from(table(name))).scalar_one()
                       for name in names if name != VERSION_TABLE)
            revision = None
            if VERSION_TABLE in names:
                revision = connection.execute(
                    select(table(VERSION_TABLE, column("version_num")).c.version_num)).scalar()
        return rows, revision
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ReviewError(f"cannot read database {redacted(url)}: {reason}") from None
    finally:
        engine.dispose()


def backup_postgres(url: URL, destination: Path) -> BackupResult:
    pg_dump = _client_tool("pg_dump")
    destination = check_destination(destination)
    uri, env = _libpq(url)
    partial = temporary_beside(destination)
    try:
        _run_tool([pg_dump, "--format=custom", "--no-password", f"--file={partial}", f"--dbname={uri}"],
                  env, "pg_dump")
        if backup_kind(partial) != "postgresql":
            raise ReviewError(f"pg_dump did not write a custom-format archive to {destination}")
        publish(partial, destination)
    except OSError as exc:
        raise ReviewError(f"backup to {destination} failed: {exc.strerror or exc}") from None
    finally:
        remove_partial(partial)
    _, revision = _postgres_state(url)
    return BackupResult(database=redacted(url), backend="postgresql", output=str(destination),
                        bytes=destination.stat().st_size, revision=revision)


def restore_postgres(url: URL, source: Path, *, force: bool) -> RestoreResult:
    pg_restore = _client_tool("pg_restore")
    uri, env = _libpq(url)
    listing = _run_tool([pg_restore, "--list", str(source)], env, f"reading {source}").stdout
    if not any(f" {VERSION_TABLE} " in f" {line} " for line in listing.splitlines()
               if " TABLE " in line):
        raise ReviewError(f"{source}: not a backup of a review database (no {VERSION_TABLE} table)")
    rows, _ = _postgres_state(url)
    if rows and not force:
        raise ReviewError(f"the database {redacted(url)} already holds data ({rows} rows): add "
                          "--force to replace it with the backup")
    _run_tool([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
               "--exit-on-error", "--no-password", f"--dbname={uri}", str(source)], env, "pg_restore")
    _, revision = _postgres_state(url)
    return RestoreResult(database=redacted(url), backend="postgresql", source=str(source),
                         revision=revision, replaced_data=bool(rows), up_to_date=is_head(revision))
