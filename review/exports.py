"""Exports of a study's judgments: flat tables, the MT-Bench exchange format and DPO pairs.

Formats (:data:`FORMATS`):

``jsonl`` / ``csv`` / ``parquet``
    One row per judgment, gold (attention-check) judgments included, in judgment order, with
    the columns of :data:`EXPORT_COLUMNS`:

    ========================  ===============================================================
    ``study``                 study name
    ``judgment_id``           the judgment's id in this database
    ``item``                  the comparison (item) id in this database
    ``prompt_id``             the prompt's id in its prompt set (``question_id`` on import)
    ``category``              prompt category, or null
    ``prompt``                text of the prompt's last user message
    ``messages``              the whole prompt as chat messages ``[{role, content}, ...]``
                              (a list in JSONL, JSON text in CSV and Parquet)
    ``model_left``            model whose answer was shown on the left
    ``model_right``           model whose answer was shown on the right
    ``answer_left``           the left answer's text
    ``answer_right``          the right answer's text
    ``reviewer``              reviewer name
    ``choice``                ``left`` | ``right`` | ``tie`` | ``both_bad``
    ``winner_model``          the preferred model's name; null for tie and both_bad
    ``strength``              1 slightly, 2 clearly, 3 much better; null when not given
    ``rationale``             the reviewer's free-text reason, or null
    ``seconds``               time spent on the judgment, or null
    ``created_at``            when the vote was cast, ISO 8601 UTC (a UTC timestamp in Parquet)
    ``gold``                  on attention-check items the expected answer (a model name,
                              ``tie`` or ``both_bad``); null on ordinary items
    ========================  ===============================================================

``mtbench``
    The judgment exchange format of ``review import-judgments`` (the public MT-Bench human
    judgments schema): ``question_id``, ``model_a`` (shown left), ``model_b``, ``winner``
    (``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)``), ``judge``, ``turn`` (the number
    of user messages in the prompt), ``conversation_a`` / ``conversation_b`` (the prompt's
    messages followed by the answer) and the extra keys ``category``, ``strength``,
    ``rationale``, ``seconds``, ``tstamp`` (Unix seconds) and ``study`` when known; extra keys a
    judgment carried from an earlier import are kept. Gold judgments are left out: their
    answers are planted, and the importer would take them for ordinary votes. Importing the
    file into a new study gives the same agreement, win-rate and bias figures.

``dpo``
    Preference pairs for DPO-style training, one JSON object per item, in the conversational
    format of TRL's ``DPOTrainer``: ``prompt`` (the chat messages), ``chosen`` and ``rejected``
    (each a one-message list ``[{"role": "assistant", "content": ...}]``), plus ``chosen_model``,
    ``rejected_model``, ``study``, ``item``, ``prompt_id``, ``category``, ``votes`` (for the
    chosen answer) and ``n_votes``. ``chosen`` is the answer that more than half of the item's
    votes preferred; items whose majority is tie or both_bad, items without such a majority
    and gold items are left out.

Example::

    with open("votes.parquet", "wb") as out:
        write_export(session=session, study=get_study(session=session, name="sft-v1"),
                     fmt="parquet", out=out)
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import IO, Any, BinaryIO

from sqlalchemy.orm import Session

from review.dataset import JudgmentJoin
from review.errors import ReviewError
from review.models import Comparison, Judgment, Prompt, Reviewer, Study

FORMATS = ("jsonl", "csv", "parquet", "mtbench", "dpo")
EXPORT_COLUMNS = [
    "study", "judgment_id", "item", "prompt_id", "category", "prompt", "messages",
    "model_left", "model_right", "answer_left", "answer_right", "reviewer", "choice",
    "winner_model", "strength", "rationale", "seconds", "created_at", "gold",
]
MTBENCH_WINNERS = {"left": "model_a", "right": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
# Keys the exporter writes itself, and bookkeeping of the importer that must not travel.
_MTBENCH_OWN_KEYS = {"question_id", "model_a", "model_b", "winner", "judge", "turn",
                     "conversation_a", "conversation_b", "category", "strength", "rationale",
                     "seconds", "study"}
_IMPORT_BOOKKEEPING = {"source_line"}


def judgment_records(*, session: Session, study: Study) -> list[dict[str, Any]]:
    """Every judgment of ``study`` as a dict with the keys of :data:`EXPORT_COLUMNS`.

    Also carries ``meta`` (the judgment's metadata) and ``turn`` for the MT-Bench export;
    ``messages`` is a list and ``created_at`` a timezone-aware datetime.
    """
    j = JudgmentJoin()
    rows = session.execute(j.select(
        study.id,
        Judgment.id, Comparison.id, Prompt.external_id, Prompt.category, Prompt.messages,
        Prompt.meta, Reviewer.name, Judgment.left_generation_id, Comparison.generation_a_id,
        j.model_a.name, j.model_b.name, j.gen_a.output, j.gen_b.output, Judgment.choice,
        Judgment.strength, Judgment.rationale, Judgment.seconds, Judgment.created_at,
        Judgment.meta, Comparison.gold_label,
    )).all()
    records = []
    for (judgment_id, item, prompt_id, category, messages, prompt_meta, reviewer, left_generation,
         generation_a, name_a, name_b, output_a, output_b, choice, strength, rationale, seconds,
         created_at, meta, gold_label) in rows:
        a_on_left = left_generation == generation_a
        model_left, model_right = (name_a, name_b) if a_on_left else (name_b, name_a)
        answer_left, answer_right = (output_a, output_b) if a_on_left else (output_b, output_a)
        messages = list(messages or [])
        records.append({
            "study": study.name,
            "judgment_id": judgment_id,
            "item": item,
            "prompt_id": prompt_id,
            "category": category,
            "prompt": prompt_text(messages),
            "messages": messages,
            "model_left": model_left,
            "model_right": model_right,
            "answer_left": answer_left,
            "answer_right": answer_right,
            "reviewer": reviewer,
            "choice": choice,
            "winner_model": {"left": model_left, "right": model_right}.get(choice),
            "strength": strength,
            "rationale": rationale,
            "seconds": seconds,
            "created_at": created_at,
            "gold": {"a": name_a, "b": name_b}.get(gold_label, gold_label),
            "meta": dict(meta or {}),
            "prompt_meta": dict(prompt_meta or {}),
        })
    return records


def prompt_text(messages: list[dict]) -> str:
    """The last user message of a chat (what a one-line listing shows)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return str(messages[-1].get("content", "")) if messages else ""


def judgment_frame(records: list[dict[str, Any]]):  # noqa: ANN201 - pandas.DataFrame
    """The records of :func:`judgment_records` as a DataFrame of :data:`EXPORT_COLUMNS`.

    ``messages`` becomes JSON text and the column types are fixed, so an empty study still
    gives a typed, well-formed table.
    """
    import pandas as pd

    frame = pd.DataFrame.from_records(
        [{column: record[column] for column in EXPORT_COLUMNS} for record in records],
        columns=EXPORT_COLUMNS,
    )
    frame["messages"] = [json.dumps(m, ensure_ascii=False) for m in frame["messages"]]
    for column in ("judgment_id", "item", "strength"):
        frame[column] = frame[column].astype("Int64")
    frame["seconds"] = frame["seconds"].astype("float64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    text_columns = [c for c in EXPORT_COLUMNS if c not in
                    ("judgment_id", "item", "strength", "seconds", "created_at")]
    for column in text_columns:
        frame[column] = frame[column].astype(object)
    return frame


def _iso(value) -> str | None:  # noqa: ANN001 - datetime or None
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _jsonl_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {column: record[column] for column in EXPORT_COLUMNS}
    row["created_at"] = _iso(record["created_at"])
    return row


def mtbench_rows(records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The non-gold judgments in the MT-Bench exchange format (see the module docstring)."""
    for record in records:
        if record["gold"] is not None:
            continue
        messages = record["messages"]
        turn = max(1, sum(1 for m in messages if m.get("role") == "user"))
        question_id: str | int = record["prompt_id"]
        suffix = f"/turn-{turn}"
        if turn > 1 and question_id.endswith(suffix):  # how the importer names later turns
            question_id = question_id[: -len(suffix)]
        if question_id.isdigit() and str(int(question_id)) == question_id:
            question_id = int(question_id)  # MT-Bench question ids are integers
        row: dict[str, Any] = {
            "question_id": question_id,
            "model_a": record["model_left"],
            "model_b": record["model_right"],
            "winner": MTBENCH_WINNERS[record["choice"]],
            "judge": record["reviewer"],
            "turn": turn,
            "conversation_a": [*messages, {"role": "assistant", "content": record["answer_left"]}],
            "conversation_b": [*messages, {"role": "assistant", "content": record["answer_right"]}],
        }
        for key in ("category", "strength", "rationale", "seconds"):
            if record[key] is not None:
                row[key] = record[key]
        row["study"] = record["study"]
        extra = {k: v for k, v in record["meta"].items()
                 if k not in _MTBENCH_OWN_KEYS and k not in _IMPORT_BOOKKEEPING}
        extra.setdefault("tstamp", record["created_at"].timestamp()
                         if record["created_at"] is not None else None)
        row.update(extra)
        yield row


def dpo_pairs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs from the majority vote of each non-gold item (see the module docstring)."""
    items: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        if record["gold"] is None:
            items.setdefault(record["item"], []).append(record)
    pairs = []
    for item, votes in items.items():
        # One vote per reviewer (the last one), as in the statistics.
        by_reviewer = {vote["reviewer"]: vote for vote in votes}
        preferred: dict[str, int] = {}
        for vote in by_reviewer.values():
            key = vote["winner_model"] or vote["choice"]
            preferred[key] = preferred.get(key, 0) + 1
        n_votes = len(by_reviewer)
        winner, count = max(preferred.items(), key=lambda kv: kv[1])
        if 2 * count <= n_votes or winner in ("tie", "both_bad"):
            continue
        first = votes[0]
        answers = {first["model_left"]: first["answer_left"], first["model_right"]: first["answer_right"]}
        loser = first["model_right"] if winner == first["model_left"] else first["model_left"]
        pairs.append({
            "prompt": first["messages"],
            "chosen": [{"role": "assistant", "content": answers[winner]}],
            "rejected": [{"role": "assistant", "content": answers[loser]}],
            "chosen_model": winner,
            "rejected_model": loser,
            "study": first["study"],
            "item": item,
            "prompt_id": first["prompt_id"],
            "category": first["category"],
            "votes": count,
            "n_votes": n_votes,
        })
    return pairs


def _write_jsonl(rows, out: BinaryIO) -> int:  # noqa: ANN001 - iterable of dicts
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        out.write(b"\n")
        count += 1
    return count


def write_export(*, session: Session, study: Study, fmt: str, out: BinaryIO) -> int:
    """Write ``study``'s judgments in format ``fmt`` (one of :data:`FORMATS`) to ``out``.

    Returns the number of rows written (judgments; pairs for ``dpo``).

    Example::

        with open("pairs.jsonl", "wb") as out:
            write_export(session=session, study=study, fmt="dpo", out=out)
    """
    if fmt not in FORMATS:
        raise ReviewError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    records = judgment_records(session=session, study=study)
    if fmt == "jsonl":
        return _write_jsonl((_jsonl_row(r) for r in records), out)
    if fmt == "mtbench":
        return _write_jsonl(mtbench_rows(records), out)
    if fmt == "dpo":
        return _write_jsonl(dpo_pairs(records), out)
    frame = judgment_frame(records)
    if fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        try:
            frame.assign(created_at=[_iso(r["created_at"]) for r in records]).to_csv(text, index=False)
        finally:
            text.flush()
            text.detach()
        return len(frame)
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("study", pa.string()), ("judgment_id", pa.int64()), ("item", pa.int64()),
        ("prompt_id", pa.string()), ("category", pa.string()), ("prompt", pa.string()),
        ("messages", pa.string()), ("model_left", pa.string()), ("model_right", pa.string()),
        ("answer_left", pa.string()), ("answer_right", pa.string()), ("reviewer", pa.string()),
        ("choice", pa.string()), ("winner_model", pa.string()), ("strength", pa.int64()),
        ("rationale", pa.string()), ("seconds", pa.float64()),
        ("created_at", pa.timestamp("us", tz="UTC")), ("gold", pa.string()),
    ])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    pq.write_table(table, out)
    return len(frame)


def safe_file_name(name: str, *, prefix: str = "", suffix: str = "") -> str:
    """A file name made from user text: letters, digits, ``.``, ``_`` and ``-`` only.

    Example:
        >>> safe_file_name("../sft v1/ü", prefix="report-", suffix=".html")
        'report-sft-v1.html'
    """
    import re

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
