"""Reading the text files users hand in (prompt sets, judgment files), with errors that
name the file and line.

Refused, with the line: invalid UTF-8, malformed JSON, NaN and Infinity, numbers beyond the
float range (``1e999``), a key given twice in one object (``json.loads`` would silently keep
the last), and strings the databases cannot store (NUL, unpaired surrogates). Everything
else, right-to-left and zero-width characters, markup and SQL included, is data and is
stored as written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from review.core.errors import ReviewError


def line_error(path: Path, line: int, message: str) -> ReviewError:
    return ReviewError(f"{path}:{line}: {message}")


def preview(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for quoting user input in one-line errors."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def read_bytes(path: Path, *, expected: str = "a file", limit: int | None = None) -> bytes:
    """The file's bytes (its first ``limit`` bytes when given); a missing or unreadable file,
    or a folder, is a :class:`ReviewError` (``expected`` says what should have been there)."""
    try:
        with open(path, "rb") as file:
            return file.read() if limit is None else file.read(limit)
    except FileNotFoundError:
        raise ReviewError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReviewError(f"{path}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise ReviewError(f"{path}: cannot read: {exc.strerror}") from None


def read_utf8(path: Path, *, expected: str = "a file") -> str:
    """The whole file as text; a missing file or invalid UTF-8 is a :class:`ReviewError`."""
    raw = read_bytes(path, expected=expected)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise line_error(path, line, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})") from None
    return text.removeprefix("\ufeff")


class _JSONValueError(ValueError):
    """A value that parses as JSON but that we refuse (the message is shown as it is)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # 1e999 parses as infinity, which the databases cannot store as JSON
        raise _JSONValueError(f"number {literal[:40]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # json.loads would silently keep the last value; which one the writer meant is unknown.
            raise _JSONValueError(f"duplicate key {preview(key)} in one object")
        result[key] = value
    return result


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity, out-of-range numbers and duplicate keys.

    Raises ``json.JSONDecodeError`` for malformed JSON and ``ValueError`` (with a message
    meant for the user) for the rest.
    """
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                      object_pairs_hook=_unique_keys)


def jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line, as :func:`loads_strict` reads it.

    Lines end at ``\\n`` only: U+2028 and the other characters that ``str.splitlines`` also
    breaks on are legal inside a JSON string.
    """
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = loads_strict(line)
        except json.JSONDecodeError as exc:
            raise line_error(path, number, f"malformed JSON: {exc.msg}") from None
        except _JSONValueError as exc:
            raise line_error(path, number, str(exc)) from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise line_error(path, number, f"malformed JSON: {exc}") from None
        problem = unstorable_text(row)
        if problem:
            raise line_error(path, number, problem)
        yield number, row


def unstorable_text(value: Any) -> str | None:
    """Why a string anywhere in ``value`` cannot be stored, or None.

    NUL cannot be stored in PostgreSQL text; an unpaired surrogate (from a ``\\ud800``
    escape) is not Unicode and cannot be encoded as UTF-8 by either database driver.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character (\\u0000), which cannot be stored"
        if _has_surrogate(value):
            surrogate = next(c for c in value if "\ud800" <= c <= "\udfff")
            return (f"contains an unpaired surrogate (\\u{ord(surrogate):04x}), which is not "
                    "valid Unicode")
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        problem = unstorable_text(item)
        if problem:
            return problem
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
