"""Backing up and restoring the database (``review db backup`` / ``review db restore``).

A backup is one file, and it appears only once it is complete: it is written to a hidden
file beside the destination and renamed into place, so an interrupted backup (a full disk,
``kill -9``) never leaves a half-written file under the name you asked for, and an older
backup of the same name stays intact until the new one is ready.

- **SQLite**: a copy made with SQLite's online backup API (``sqlite3.Connection.backup``).
  It is a consistent snapshot even while ``review serve`` or ``review watch`` keep writing
  (WAL mode: the copy reads one snapshot and never blocks writers). The copy is checked
  with ``PRAGMA integrity_check`` and is an ordinary SQLite file in rollback-journal mode:
  ``sqlite3 backup.db`` opens it, and ``review --db sqlite:///backup.db status`` reads it.
- **PostgreSQL**: a ``pg_dump --format=custom`` archive. The PostgreSQL client tools must be
  on PATH, of the server's major version or newer. The password is handed to them in the
  ``PGPASSWORD`` environment variable, never on the command line.

The file is readable by its owner only: it holds the reviewers' password hashes.

Taking a backup
---------------

::

    review db backup backups/review-$(date +%F).db          # SQLite (REVIEW_DATABASE_URL)
    review --db postgresql://review@db.internal/review db backup backups/review.dump

Restoring
---------

1. Stop everything that writes to the target database (``review serve``, ``review watch``,
   training runs with the ``ReviewCallback``).
2. For PostgreSQL, create the target database if it does not exist
   (``createdb -h HOST -U USER review``); the restoring role becomes the owner of what is
   restored (``pg_restore --no-owner``). For SQLite the file is created if needed.
3. Restore::

       review --db sqlite:///review.db db restore backups/review-2025-01-31.db
       review --db postgresql://review@db.internal/review db restore backups/review.dump

   Restore refuses a target that already holds data (rows in any table; a database that
   ``review init`` just created counts as empty); add ``--force`` to replace it. On
   SQLite the replacement is one transaction; on PostgreSQL ``pg_restore --clean
   --if-exists --no-owner --single-transaction`` drops and recreates the tables in one
   transaction. Either way a failed restore leaves the target as it was.
4. Run ``review init``: it upgrades the schema when the backup comes from an older version
   (and changes nothing otherwise). ``review status`` then shows the restored counts.

A SQLite backup restores into SQLite and a PostgreSQL archive into PostgreSQL; anything
else is refused before the target is touched (the kind of a backup is read from its first
bytes, not its name).

Example::

    result = backup_database("sqlite:///review.db", Path("backups/review.db"))
    restore_database("sqlite:///restored.db", Path("backups/review.db"))
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import URL
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from review.core.db import sqlite_file
from review.core.errors import ReviewError
from review.interchange.backup_files import (
    VERSION_TABLE,
    BackupResult,
    RestoreResult,
    backup_kind,
    check_destination,
    is_head,
    publish,
    redacted,
    remove_partial,
    temporary_beside,
)


def _parse(database_url: str | URL) -> URL:
    try:
        return make_url(database_url) if isinstance(database_url, str) else database_url
    except ArgumentError:
        raise ReviewError(f"invalid database URL {database_url!r}") from None


def _backend(url: URL) -> str:
    name = url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ReviewError(f"backups support SQLite and PostgreSQL databases, not {name}")
    return name


# --------------------------------------------------------------------------- SQLite


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=30)


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)).fetchone()
    if not has_table:
        return None
    row = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    return row[0] if row else None


def _integrity(connection: sqlite3.Connection) -> str:
    return connection.execute("PRAGMA integrity_check").fetchone()[0]


def _backup_sqlite(url: URL, destination: Path) -> BackupResult:
    source_path = sqlite_file(url)
    if source_path is None:
        raise ReviewError("cannot back up an in-memory SQLite database")
    if not source_path.is_file():
        raise ReviewError(f"no database at {source_path}")
    destination = check_destination(destination)
    if destination.resolve() == source_path.resolve():
        raise ReviewError(f"{destination} is the database itself: choose another file for the backup")
    partial = temporary_beside(destination)
    try:
        with closing(_read_only(source_path)) as source, closing(sqlite3.connect(partial)) as copy:
            # pages=-1: the whole database in one step, i.e. from one read snapshot.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            check = _integrity(copy)
            if check != "ok":
                raise ReviewError(f"the backup copy failed its integrity check: {check}")
            revision = _sqlite_revision(copy)
        publish(partial, destination)
    except sqlite3.Error as exc:
        raise ReviewError(f"backup of {source_path} failed: {exc}") from None
    except OSError as exc:
        raise ReviewError(f"backup to {destination} failed: {exc.strerror or exc}") from None
    finally:
        remove_partial(partial)
    return BackupResult(database=redacted(url), backend="sqlite", output=str(destination),
                        bytes=destination.stat().st_size, revision=revision)


def _sqlite_rows(path: Path) -> int:
    """Rows in the database's tables, the schema-version table aside (0 for a new file)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        with closing(_read_only(path)) as connection:
            tables = [name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            return sum(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                       for name in tables if name != VERSION_TABLE)
    except sqlite3.Error as exc:
        raise ReviewError(f"cannot read the target database {path}: {exc}") from None


def _restore_sqlite(url: URL, source: Path, *, force: bool) -> RestoreResult:
    target = sqlite_file(url)
    if target is None:
        raise ReviewError("cannot restore into an in-memory SQLite database")
    try:
        with closing(_read_only(source)) as backup:
            check = _integrity(backup)
            revision = _sqlite_revision(backup)
    except sqlite3.Error as exc:
        raise ReviewError(f"{source}: the backup is damaged or unreadable: {exc}") from None
    if check != "ok":
        raise ReviewError(f"{source}: the backup is damaged (integrity check: {check})")
    if revision is None:
        raise ReviewError(f"{source}: not a backup of a review database (no {VERSION_TABLE} table)")
    rows = _sqlite_rows(target)
    if rows and not force:
        raise ReviewError(f"the database {target} already holds data ({rows} rows): add --force to "
                          "replace it with the backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(_read_only(source)) as backup, \
                closing(sqlite3.connect(target, timeout=30, isolation_level=None)) as database:
            # The backup API replaces every page of the target in one write transaction:
            # if it fails midway, the target is left as it was.
            backup.backup(database, pages=-1)
            database.execute("PRAGMA journal_mode=WAL")
            check = _integrity(database)
    except sqlite3.Error as exc:
        raise ReviewError(f"restore into {target} failed: {exc}") from None
    if check != "ok":
        raise ReviewError(f"the restored database {target} failed its integrity check: {check}")
    return RestoreResult(database=redacted(url), backend="sqlite", source=str(source),
                         revision=revision, replaced_data=bool(rows),
                         up_to_date=is_head(revision))


# --------------------------------------------------------------------------- entry points


def backup_database(database_url: str | URL, destination: Path) -> BackupResult:
    """Write a consistent backup of the database to ``destination`` (replaced atomically).

    Raises :class:`ReviewError` with a one-line reason on any failure; the destination is
    then untouched.
    """
    from review.interchange.backup_postgres import backup_postgres

    url = _parse(database_url)
    if _backend(url) == "sqlite":
        return _backup_sqlite(url, Path(destination))
    return backup_postgres(url, Path(destination))


def restore_database(database_url: str | URL, source: Path, *, force: bool = False) -> RestoreResult:
    """Replace the database's content with the backup ``source``.

    Refuses (before touching the target) a backup of the other database kind, a file that is
    not a backup of a review database, and a target that already holds data unless ``force``.
    """
    url = _parse(database_url)
    backend = _backend(url)
    source = Path(source).expanduser()
    kind = backup_kind(source)
    if kind is None:
        raise ReviewError(f"{source}: not a backup made by `review db backup` (neither a SQLite "
                          "file nor a pg_dump custom-format archive)")
    if kind != backend:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise ReviewError(f"{source} is a {names[kind]} backup and cannot be restored into the "
                          f"{names[backend]} database {redacted(url)}: restore it into a "
                          f"{names[kind]} database (--db)")
    if backend == "sqlite":
        return _restore_sqlite(url, source, force=force)
    from review.interchange.backup_postgres import restore_postgres

    return restore_postgres(url, source, force=force)
