"""Exports of a study's judgments: flat tables, the MT-Bench exchange format and DPO pairs.

Formats (:data:`FORMATS`):

``jsonl`` / ``csv`` / ``parquet``
    (In CSV a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading ``'``, so that no spreadsheet runs it as a formula: :func:`neutralise_cell`.)
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
from datetime import UTC
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.files import safe_file_name
from review.core.models import Comparison, Judgment, Prompt, Reviewer, Study
from review.interchange.mtbench import mtbench_rows
from review.reporting.dataset import JudgmentJoin
from review.stats.outcomes import side_chosen

FORMATS = ("jsonl", "csv", "parquet", "mtbench", "dpo")
# What a file of each format is called after its study (see export_file_name).
FILE_SUFFIXES = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet",
                 "mtbench": "-mtbench.jsonl", "dpo": "-dpo.jsonl"}
EXPORT_COLUMNS = [
    "study", "judgment_id", "item", "prompt_id", "category", "prompt", "messages",
    "model_left", "model_right", "answer_left", "answer_right", "reviewer", "choice",
    "winner_model", "strength", "rationale", "seconds", "created_at", "gold",
]


def judgment_records(*, session: Session, study: Study) -> list[dict[str, Any]]:
    """Every judgment of ``study`` as a dict with the keys of :data:`EXPORT_COLUMNS`.

    Also carries ``meta`` (the judgment's metadata) and ``turn`` for the MT-Bench export;
    ``messages`` is a list and ``created_at`` a timezone-aware datetime.
    """
    j = JudgmentJoin()
    rows = session.execute(j.select(
        study.id,
        Judgment.id, Comparison.id, Prompt.external_id, Prompt.category, Prompt.messages,
        Prompt.meta, Reviewer.name, j.model_left, j.model_right, j.answer_left, j.answer_right,
        Judgment.choice, Judgment.strength, Judgment.rationale, Judgment.seconds,
        Judgment.created_at, Judgment.meta, j.gold,
    )).all()
    records = []
    for (judgment_id, item, prompt_id, category, messages, prompt_meta, reviewer, model_left,
         model_right, answer_left, answer_right, choice, strength, rationale, seconds,
         created_at, meta, gold) in rows:
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
            "winner_model": side_chosen(choice, model_left, model_right),
            "strength": strength,
            "rationale": rationale,
            "seconds": seconds,
            "created_at": created_at,
            "gold": gold,
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


def dpo_pairs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs from the majority vote of each non-gold item (see the module docstring).

    The majority is :func:`review.stats.items.item_majority` (one vote per reviewer).
    """
    import pandas as pd

    from review.stats.items import item_majority

    votes = [r for r in records if r["gold"] is None]
    if not votes:
        return []
    first: dict[str, dict[str, Any]] = {}
    for record in votes:
        first.setdefault(str(record["item"]), record)
    frame = pd.DataFrame({"item": [str(r["item"]) for r in votes],
                          "rater": [r["reviewer"] for r in votes],
                          "model_left": [r["model_left"] for r in votes],
                          "model_right": [r["model_right"] for r in votes],
                          "choice": [r["choice"] for r in votes]})
    pairs = []
    for row in item_majority(frame).itertuples(index=False):
        record = first[row.item]
        answers = {record["model_left"]: record["answer_left"],
                   record["model_right"]: record["answer_right"]}
        pairs.append({
            "prompt": record["messages"],
            "chosen": [{"role": "assistant", "content": answers[row.winner]}],
            "rejected": [{"role": "assistant", "content": answers[row.loser]}],
            "chosen_model": row.winner,
            "rejected_model": row.loser,
            "study": record["study"],
            "item": record["item"],
            "prompt_id": record["prompt_id"],
            "category": record["category"],
            "votes": int(row.votes),
            "n_votes": int(row.n_votes),
        })
    return pairs


def _write_jsonl(rows, out: BinaryIO) -> int:  # noqa: ANN001 - iterable of dicts
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        out.write(b"\n")
        count += 1
    return count


# A cell a spreadsheet would read as a formula starts with one of these (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made inert by a leading ``'``
    (OWASP's CSV injection rule); anything else unchanged. CSV only: JSONL and Parquet keep
    the exact text.

    Example:
        >>> neutralise_cell("=HYPERLINK(A1)"), neutralise_cell("fine"), neutralise_cell(None)
        ("'=HYPERLINK(A1)", 'fine', None)
        >>> neutralise_cell("-1 point"), neutralise_cell("@SUM(A1)")
        ("'-1 point", "'@SUM(A1)")
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS`; a clear error otherwise."""
    if fmt not in FORMATS:
        raise ReviewError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def export_file_name(study: str, fmt: str) -> str:
    """The file name of a study's export, safe to use on any file system.

    Example:
        >>> export_file_name("sft v1", "dpo")
        'sft-v1-dpo.jsonl'
    """
    return safe_file_name(study, suffix=FILE_SUFFIXES[check_format(fmt)])


def write_export(*, session: Session, study: Study, fmt: str, out: BinaryIO) -> int:
    """Write ``study``'s judgments in format ``fmt`` (one of :data:`FORMATS`) to ``out``.

    Returns the number of rows written (judgments; pairs for ``dpo``).

    Example::

        with open("pairs.jsonl", "wb") as out:
            write_export(session=session, study=study, fmt="dpo", out=out)
    """
    check_format(fmt)
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
            table = frame.assign(created_at=[_iso(r["created_at"]) for r in records])
            for column in table.columns:
                if table[column].dtype == object:
                    table[column] = table[column].map(neutralise_cell)
            table.to_csv(text, index=False)
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
