"""Reading the text files users hand in (prompt sets, judgment files), with errors that
name the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from review.errors import ReviewError


def line_error(path: Path, line: int, message: str) -> ReviewError:
    return ReviewError(f"{path}:{line}: {message}")


def read_utf8(path: Path, *, expected: str = "a file") -> str:
    """The whole file as text; a missing file or invalid UTF-8 is a :class:`ReviewError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReviewError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReviewError(f"{path}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise ReviewError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise line_error(path, line, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})") from None
    return text.removeprefix("\ufeff")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line; NaN and Infinity are refused."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise line_error(path, number, f"malformed JSON: {message}") from None
        if contains_nul(row):
            raise line_error(path, number, "contains a NUL character (\\u0000), which cannot be stored")
        yield number, row


def contains_nul(value: Any) -> bool:
    """True if a string anywhere in ``value`` holds NUL, which PostgreSQL text cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False
