"""What a SQLite and a PostgreSQL backup share: the result records, a backup file's kind,
writing the file beside its destination and publishing it atomically, and the messages.

:mod:`review.interchange.backup` (the dispatch and the SQLite side) and
:mod:`review.interchange.backup_postgres` both import it; neither imports the other's internals.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import URL

from review.core.errors import ReviewError
from review.core.textfiles import read_bytes

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class BackupResult:
    database: str          # the source URL, password hidden
    backend: str           # sqlite | postgresql
    output: str
    bytes: int
    revision: str | None   # the schema revision (alembic) of what was backed up

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RestoreResult:
    database: str          # the target URL, password hidden
    backend: str
    source: str
    revision: str | None
    replaced_data: bool    # the target held data before (only with force)
    up_to_date: bool       # the restored schema is at this version's head revision

    def to_dict(self) -> dict:
        return asdict(self)


def redacted(url: URL) -> str:
    """The URL as messages and results show it: password hidden."""
    return url.render_as_string(hide_password=True)


def backup_kind(path: Path) -> str | None:
    """``sqlite`` or ``postgresql`` from a backup file's first bytes; None when neither."""
    head = read_bytes(path, expected="a backup file", limit=len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    return None


def first_line(text: str) -> str:
    """The line of a tool's output worth showing: its first error, else its first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["(no message)"])[0]


def is_head(revision: str | None) -> bool:
    """Whether ``revision`` is this version's newest schema revision."""
    from review.core.schema import head_revision

    return revision is not None and revision == head_revision()


# --------------------------------------------------------------------------- writing files


def check_destination(destination: Path) -> Path:
    """The backup's destination, refused when it is a folder or its folder does not exist."""
    destination = Path(destination).expanduser()
    if destination.is_dir():
        raise ReviewError(f"{destination}: is a directory, expected a file name for the backup")
    if not destination.parent.is_dir():
        raise ReviewError(f"{destination.parent}: no such folder")
    return destination


def temporary_beside(destination: Path) -> Path:
    """An empty hidden file in the destination's folder (so the final rename is atomic)."""
    try:
        handle, name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                        suffix=".partial")
    except OSError as exc:
        raise ReviewError(f"cannot write to {destination.parent}: {exc.strerror}") from None
    os.close(handle)
    return Path(name)


def remove_partial(path: Path) -> None:
    """Remove an unfinished backup file and any SQLite journal beside it."""
    for leftover in (path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))):
        with suppress(FileNotFoundError):
            leftover.unlink()


def publish(partial: Path, destination: Path) -> None:
    """fsync the finished file, rename it into place and fsync the folder."""
    with open(partial, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(partial, destination)
    with suppress(OSError):  # not every file system lets a folder be fsynced
        folder = os.open(destination.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
