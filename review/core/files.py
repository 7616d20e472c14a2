"""Writing files safely: whole or not at all, under names made safe from user text.

Example::

    write_to_path(Path("report.html"), lambda out: out.write(page))
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from review.core.errors import ReviewError


def safe_file_name(name: str, *, prefix: str = "", suffix: str = "") -> str:
    """A file name made from user text: letters, digits, ``.``, ``_`` and ``-`` only.

    Example:
        >>> safe_file_name("../sft v1/ü", prefix="report-", suffix=".html")
        'report-sft-v1.html'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:150] or "study"
    return f"{prefix}{stem}{suffix}"


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """Open a binary stream whose bytes appear at ``path`` only if the block succeeds.

    Writes a temporary file next to ``path`` and renames it over ``path`` at the end, so a
    failure leaves neither a partial file nor a changed old one.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ReviewError(f"{directory}: no such directory")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ReviewError(f"cannot write to {directory}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_to_path(path: Path, write: Callable[[IO[bytes]], Any]) -> Any:
    """Call ``write(stream)`` inside :func:`atomic_output` and return what it returns."""
    try:
        with atomic_output(path) as out:
            return write(out)
    except IsADirectoryError:
        raise ReviewError(f"{path} is a directory") from None
    except PermissionError as exc:
        raise ReviewError(f"cannot write {path}: {exc.strerror}") from None
