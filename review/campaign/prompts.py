"""Prompt sets: parsing prompt files and importing them, all or nothing.

A prompt file is JSONL (one object per line) or CSV (a header row), with the fields
``id``, ``prompt`` *or* ``messages`` (a chat: a list of ``{"role", "content"}`` whose last
message is the user's), and the optional ``category`` and ``reference``. Other fields are
kept as metadata.

Example::

    records = parse_prompt_file(Path("sample_data/prompts.jsonl"))
    result = import_prompts(session=session, set_name="demo", records=records)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.textfiles import (
    jsonl_rows,
    line_error,
    loads_strict,
    preview,
    read_utf8,
    unstorable_text,
)
from review.core.models import NAME_LENGTH, Prompt, PromptSet

ROLES = ("system", "user", "assistant")
KNOWN_FIELDS = {"id", "prompt", "messages", "category", "reference"}
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def prompt_content_hash(messages: list[dict[str, str]], *, category: str | None,
                        reference: str | None) -> str:
    """The content hash of a prompt (``Prompt.content_hash``): sha256 of its canonical JSON.

    Two prompts with the same messages, category and reference have the same hash, however
    they were imported (a prompt file or MT-Bench judgments).
    """
    canonical = json.dumps({"messages": messages, "category": category, "reference": reference},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class PromptRecord:
    """One validated prompt from a file (``line`` is where it started, for messages)."""

    external_id: str
    messages: list[dict[str, str]]
    category: str | None = None
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def content_hash(self) -> str:
        return prompt_content_hash(self.messages, category=self.category, reference=self.reference)


@dataclass(frozen=True)
class ImportResult:
    prompt_set: str
    added: int
    unchanged: int


def _optional_text(path: Path, line: int, row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise line_error(path, line, f"field '{key}' must be a string, got {type(value).__name__}")
    if key == "category" and len(value) > NAME_LENGTH:
        raise line_error(path, line, f"field 'category' must be at most {NAME_LENGTH} characters")
    return value


def _messages(path: Path, line: int, value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = loads_strict(value)
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise line_error(path, line, f"field 'messages' is not valid JSON: {reason}") from None
        problem = unstorable_text(value)
        if problem:
            raise line_error(path, line, f"field 'messages' {problem}")
    if not isinstance(value, list) or not value:
        raise line_error(path, line, "field 'messages' must be a non-empty list of {role, content}")
    messages = []
    for position, message in enumerate(value, 1):
        if not isinstance(message, dict) or set(message) - {"role", "content"} or \
                not isinstance(message.get("role"), str) or not isinstance(message.get("content"), str):
            raise line_error(path, line, f"message {position} must be an object with string 'role' and 'content'")
        if message["role"] not in ROLES:
            raise line_error(path, line, f"message {position} has unknown role {preview(message['role'])} "
                                    f"(expected one of {', '.join(ROLES)})")
        messages.append({"role": message["role"], "content": message["content"]})
    if messages[-1]["role"] != "user":
        raise line_error(path, line, "the last message must be the user's")
    if not any(m["content"].strip() for m in messages if m["role"] == "user"):
        raise line_error(path, line, "the user's message is empty")
    return messages


def _record(path: Path, line: int, row: Any) -> PromptRecord:
    if not isinstance(row, dict):
        raise line_error(path, line, f"expected a JSON object, got {type(row).__name__}")
    problem = unstorable_text(row)  # CSV rows; JSONL rows are checked as they are read
    if problem:
        raise line_error(path, line, problem)
    raw_id = row.get("id")
    if raw_id is None or raw_id == "":
        raise line_error(path, line, "missing field 'id'")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise line_error(path, line, "field 'id' must be a string or an integer")
    external_id = str(raw_id).strip()
    if not external_id or len(external_id) > NAME_LENGTH:
        raise line_error(path, line, f"field 'id' must be 1 to {NAME_LENGTH} characters")
    has_prompt = row.get("prompt") not in (None, "")
    has_messages = row.get("messages") not in (None, "", [])
    if has_prompt and has_messages:
        raise line_error(path, line, "give either 'prompt' or 'messages', not both")
    if has_prompt:
        prompt = row["prompt"]
        if not isinstance(prompt, str):
            raise line_error(path, line, f"field 'prompt' must be a string, got {type(prompt).__name__}")
        if not prompt.strip():
            raise line_error(path, line, "field 'prompt' is empty")
        messages = [{"role": "user", "content": prompt}]
    elif has_messages:
        messages = _messages(path, line, row["messages"])
    else:
        raise line_error(path, line, "missing field 'prompt' (or 'messages')")
    meta = {key: value for key, value in row.items() if key not in KNOWN_FIELDS}
    return PromptRecord(
        external_id=external_id,
        messages=messages,
        category=_optional_text(path, line, row, "category"),
        reference=_optional_text(path, line, row, "reference"),
        meta=meta,
        line=line,
    )


def _csv_rows(path: Path, text: str):
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line where the record being read starts (a quoted value may span lines)
    try:
        header = reader.fieldnames
        if not header:
            raise line_error(path, 1, "empty CSV file: expected a header row with id and prompt")
        if "id" not in header or not ({"prompt", "messages"} & set(header)):
            raise line_error(path, 1, "CSV header must have the columns 'id' and 'prompt' (or 'messages')")
        repeated = [name for position, name in enumerate(header) if name in header[:position]]
        if repeated:  # DictReader would keep only the last column of that name
            raise line_error(path, 1, f"CSV header repeats the column {preview(repeated[0])}")
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                raise line_error(path, start, "more values than header columns")
            if any(value is None for value in row.values()):
                raise line_error(path, start, "fewer values than header columns")
            yield start, {key: (value if value != "" else None) for key, value in row.items()}
            start = reader.line_num + 1
    except csv.Error as exc:
        raise line_error(path, start, f"malformed CSV: {exc}") from None


def parse_prompt_file(path: Path) -> list[PromptRecord]:
    """Read and validate a whole prompt file; raise :class:`ReviewError` naming the line."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ReviewError(f"{path}: unknown format {path.suffix or '(no extension)'!r}: "
                          "expected a .jsonl or .csv file")
    text = read_utf8(path, expected="a .jsonl or .csv file")
    rows = jsonl_rows(path, text) if kind == "jsonl" else _csv_rows(path, text)
    records: list[PromptRecord] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        record = _record(path, line, row)
        if record.external_id in seen:
            raise line_error(path, line, f"duplicate id {record.external_id!r} (first on line {seen[record.external_id]})")
        seen[record.external_id] = line
        records.append(record)
    if not records:
        raise ReviewError(f"{path}: no prompts found")
    return records


def import_prompts(*, session: Session, set_name: str, records: list[PromptRecord],
                   source: str = "") -> ImportResult:
    """Add ``records`` to the prompt set ``set_name`` (created if needed).

    Prompts already in the set with the same id and content are left alone, so importing
    a file twice changes nothing. A prompt whose id exists with *different* content is an
    error and nothing is added. The caller owns the transaction.
    """
    set_name = set_name.strip()
    if not set_name or len(set_name) > NAME_LENGTH:
        raise ReviewError(f"prompt set name must be 1 to {NAME_LENGTH} characters")
    prompt_set = session.scalar(select(PromptSet).where(PromptSet.name == set_name))
    if prompt_set is None:
        prompt_set = PromptSet(name=set_name)
        session.add(prompt_set)
        session.flush()
    existing = {
        p.external_id: p.content_hash
        for p in session.scalars(select(Prompt).where(Prompt.prompt_set_id == prompt_set.id))
    }
    added = unchanged = 0
    for record in records:
        known = existing.get(record.external_id)
        if known == record.content_hash:
            unchanged += 1
            continue
        if known is not None:
            where = f"{source}:{record.line}: " if source else ""
            raise ReviewError(
                f"{where}prompt {record.external_id!r} is already in set {set_name!r} with different "
                "content; give it a new id or import into a new set"
            )
        session.add(Prompt(
            prompt_set_id=prompt_set.id,
            external_id=record.external_id,
            messages=record.messages,
            category=record.category,
            reference=record.reference,
            content_hash=record.content_hash,
            meta=record.meta,
        ))
        added += 1
    session.flush()
    return ImportResult(prompt_set=set_name, added=added, unchanged=unchanged)


def prompt_set_sizes(*, session: Session) -> list[dict[str, Any]]:
    """Every prompt set with its number of prompts, by name (``review prompts list``)."""
    rows = session.execute(
        select(PromptSet.name, func.count(Prompt.id))
        .outerjoin(Prompt, Prompt.prompt_set_id == PromptSet.id)
        .group_by(PromptSet.name).order_by(PromptSet.name)
    ).all()
    return [{"set": name, "prompts": count} for name, count in rows]
