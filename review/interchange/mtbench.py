"""Exchange formats: judgments in the MT-Bench human-judgment schema.

Export (:func:`mtbench_rows`) writes the same schema, so a study exported and imported again
gives the same figures.

One JSON object per line: ``question_id``, ``model_a``, ``model_b``, ``winner``
(``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)``), ``judge``, ``turn`` (optional,
default 1) and optionally ``conversation_a`` / ``conversation_b`` (chat messages). ``model_a``
is the answer that was shown first (left). Unknown keys are kept as the judgment's metadata.

Import is all or nothing: a malformed line is reported with its line number and nothing
is stored.

Example::

    rows = parse_mtbench_file(Path("judgments.jsonl"))
    import_mtbench(session=session, study_name="mt-bench-human", rows=rows)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.raters import existing_raters
from review.core.textfiles import jsonl_rows, line_error, preview, read_utf8
from review.stats.choices import STRENGTHS, takes_strength
from review.campaign.prompts import prompt_content_hash
from review.core.models import (
    NAME_LENGTH,
    Comparison,
    Generation,
    Judgment,
    Model,
    Prompt,
    PromptSet,
    Reviewer,
    Study,
)

# The MT-Bench ``winner`` of each choice (model_a is the answer shown on the left), and back.
MTBENCH_WINNERS = {"left": "model_a", "right": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
WINNERS = {winner: choice for choice, winner in MTBENCH_WINNERS.items()}
KNOWN_KEYS = {"question_id", "model_a", "model_b", "winner", "judge", "turn", "conversation_a",
              "conversation_b", "category", "strength", "rationale", "seconds"}
IMPORTED_PARAMS_HASH = "imported"
IMPORTED_SET_SUFFIX = " (imported)"


@dataclass(frozen=True)
class MTBenchRow:
    line: int
    question_id: str
    turn: int
    model_a: str
    model_b: str
    choice: str           # left | right | tie | both_bad, with model_a shown on the left
    judge: str
    conversation_a: list[dict] | None
    conversation_b: list[dict] | None
    category: str | None = None
    strength: int | None = None
    rationale: str | None = None
    seconds: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _text(path: Path, line: int, row: dict, key: str) -> str:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise line_error(path, line, f"field '{key}' must be a non-empty string")
    text = str(value).strip()
    if len(text) > NAME_LENGTH:
        raise line_error(path, line, f"field '{key}' must be at most {NAME_LENGTH} characters")
    return text


def _conversation(path: Path, line: int, row: dict, key: str) -> list[dict] | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value):
        raise line_error(path, line, f"field '{key}' must be a list of {{role, content}} messages")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _parse_row(path: Path, line: int, row: Any) -> MTBenchRow:
    if not isinstance(row, dict):
        raise line_error(path, line, f"expected a JSON object, got {type(row).__name__}")
    for key in ("question_id", "model_a", "model_b", "winner", "judge"):
        if key not in row:
            raise line_error(path, line, f"missing field '{key}'")
    winner = row["winner"]
    if winner not in WINNERS:
        raise line_error(path, line, f"unknown winner {preview(winner)}: expected one of {', '.join(map(repr, WINNERS))}")
    turn = row.get("turn", 1)
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        raise line_error(path, line, "field 'turn' must be a positive integer")
    model_a, model_b = _text(path, line, row, "model_a"), _text(path, line, row, "model_b")
    if model_a == model_b:
        raise line_error(path, line, f"model_a and model_b are the same model {model_a!r}")
    strength = row.get("strength")
    if strength is not None and (isinstance(strength, bool) or strength not in STRENGTHS):
        *first, last = STRENGTHS
        raise line_error(path, line, f"field 'strength' must be {', '.join(map(str, first))} or {last}")
    seconds = row.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not 0 <= seconds < 10**7):
        raise line_error(path, line, "field 'seconds' must be a non-negative number")
    category = row.get("category")
    rationale = row.get("rationale")
    for key, value in (("category", category), ("rationale", rationale)):
        if value is not None and not isinstance(value, str):
            raise line_error(path, line, f"field '{key}' must be a string")
    if category is not None and len(category) > NAME_LENGTH:
        raise line_error(path, line, f"field 'category' must be at most {NAME_LENGTH} characters")
    question_id = _text(path, line, row, "question_id")
    if len(prompt_external_id(question_id, turn)) > NAME_LENGTH:
        raise line_error(path, line, f"question_id and turn make a prompt id longer than "
                                     f"{NAME_LENGTH} characters")
    return MTBenchRow(
        line=line, question_id=question_id, turn=turn,
        model_a=model_a, model_b=model_b, choice=WINNERS[winner],
        judge=_text(path, line, row, "judge"),
        conversation_a=_conversation(path, line, row, "conversation_a"),
        conversation_b=_conversation(path, line, row, "conversation_b"),
        category=category, strength=strength if takes_strength(WINNERS[winner]) else None,
        rationale=rationale, seconds=float(seconds) if seconds is not None else None,
        meta={k: v for k, v in row.items() if k not in KNOWN_KEYS},
    )


def prompt_external_id(question_id: str, turn: int) -> str:
    """The id of the prompt of one question and turn in the imported prompt set."""
    return question_id if turn == 1 else f"{question_id}/turn-{turn}"


def parse_mtbench_file(path: Path, *, both_orders: bool = False) -> list[MTBenchRow]:
    """Read and validate the whole file; raise :class:`ReviewError` naming the first bad line.

    A judge judges a pair of answers once; with ``both_orders`` (model judges) once per order
    in which the answers were shown."""
    path = Path(path)
    text = read_utf8(path)
    rows: list[MTBenchRow] = []
    seen: dict[tuple, int] = {}
    for number, data in jsonl_rows(path, text):
        row = _parse_row(path, number, data)
        pair = (row.model_a, row.model_b) if both_orders else sorted((row.model_a, row.model_b))
        key = (row.question_id, row.turn, *pair, row.judge)
        if key in seen:
            raise line_error(path, number, f"judge {row.judge!r} already judged this pair of answers "
                                      f"{'in this order ' if both_orders else ''}on line {seen[key]}")
        seen[key] = number
        rows.append(row)
    if not rows:
        raise ReviewError(f"{path}: no judgments found")
    return rows


def _prompt_messages(row: MTBenchRow) -> list[dict]:
    conversation = row.conversation_a or row.conversation_b
    if not conversation:
        return [{"role": "user", "content": f"(question {row.question_id}, turn {row.turn})"}]
    # The prompt of turn t: the conversation up to and including the t-th user message.
    messages, users = [], 0
    for message in conversation:
        messages.append(message)
        if message["role"] == "user":
            users += 1
            if users == row.turn:
                break
    return messages


def _answer(conversation: list[dict] | None, turn: int) -> str:
    if not conversation:
        return ""
    answers = [m["content"] for m in conversation if m["role"] == "assistant"]
    return answers[turn - 1] if len(answers) >= turn else ""


@dataclass(frozen=True)
class ImportSummary:
    study: str
    judgments: int
    items: int
    models: list[str]
    judges: int


def import_mtbench(*, session: Session, study_name: str, rows: list[MTBenchRow],
                   candidate: str | None = None, baseline: str | None = None) -> ImportSummary:
    """Create a study holding these judgments and every model, prompt and item they need.

    ``candidate``/``baseline`` (optional) name the pair the study's verdict is about; both
    must occur in the file. The caller owns the transaction: on any error nothing is stored.
    """
    study_name = study_name.strip()
    longest = NAME_LENGTH - len(IMPORTED_SET_SUFFIX)  # its prompt set is "<study> (imported)"
    if not study_name or len(study_name) > longest:
        raise ReviewError(f"study name must be 1 to {longest} characters")
    if session.scalar(select(Study.id).where(Study.name == study_name)) is not None:
        raise ReviewError(f"study {study_name!r} already exists: import into a new study")
    names = sorted({r.model_a for r in rows} | {r.model_b for r in rows})
    for label, name in (("candidate", candidate), ("baseline", baseline)):
        if name is not None and name not in names:
            raise ReviewError(f"--{label} {name!r} does not occur in the file "
                              f"(models: {', '.join(preview(n, 40) for n in names[:10])}"
                              f"{', …' if len(names) > 10 else ''})")
    if (candidate is None) != (baseline is None):
        raise ReviewError("give both --candidate and --baseline, or neither")

    models = {m.name: m for m in session.scalars(select(Model).where(Model.name.in_(names)))}
    for name in names:
        if name not in models:
            models[name] = Model(name=name, kind="base", location=f"imported:{name}",
                                 meta={"source": "import-judgments"})
            session.add(models[name])
    prompt_set = PromptSet(name=f"{study_name}{IMPORTED_SET_SUFFIX}")
    if session.scalar(select(PromptSet.id).where(PromptSet.name == prompt_set.name)) is not None:
        raise ReviewError(f"prompt set {prompt_set.name!r} already exists")
    session.add(prompt_set)
    study = Study(name=study_name, candidate=models.get(candidate) if candidate else None,
                  baseline=models.get(baseline) if baseline else None, prompt_set=prompt_set,
                  params_hash=IMPORTED_PARAMS_HASH, overlap=1,
                  meta={"source": "import-judgments"})
    session.add(study)
    session.flush()

    judges = existing_raters(session=session, names={row.judge for row in rows}, kind="human",
                             remedy="import its verdicts with --rater-kind llm")
    prompts: dict[tuple[str, int], Prompt] = {}
    generations: dict[tuple[str, tuple[str, int]], Generation] = {}
    items: dict[tuple, Comparison] = {}
    judgments = []
    max_overlap = 1
    per_item: dict[tuple, int] = {}
    for row in rows:
        prompt_key = (row.question_id, row.turn)
        if prompt_key not in prompts:
            messages = _prompt_messages(row)
            external_id = prompt_external_id(row.question_id, row.turn)
            digest = prompt_content_hash(messages, category=row.category, reference=None)
            prompts[prompt_key] = Prompt(prompt_set_id=prompt_set.id, external_id=external_id,
                                         messages=messages, category=row.category,
                                         content_hash=digest, meta={"turn": row.turn})
            session.add(prompts[prompt_key])
        for model_name, conversation in ((row.model_a, row.conversation_a), (row.model_b, row.conversation_b)):
            key = (model_name, prompt_key)
            if key not in generations:
                generations[key] = Generation(
                    model=models[model_name], prompt=prompts[prompt_key],
                    params_hash=IMPORTED_PARAMS_HASH, params={"source": "import-judgments"},
                    output=_answer(conversation, row.turn), backend="import")
                session.add(generations[key])
        first, second = sorted((row.model_a, row.model_b))
        item_key = (prompt_key, first, second)
        if item_key not in items:
            items[item_key] = Comparison(study=study, prompt=prompts[prompt_key],
                                         generation_a=generations[(first, prompt_key)],
                                         generation_b=generations[(second, prompt_key)])
            session.add(items[item_key])
        per_item[item_key] = per_item.get(item_key, 0) + 1
        max_overlap = max(max_overlap, per_item[item_key])
        if row.judge not in judges:
            judges[row.judge] = Reviewer(name=row.judge, role="reviewer", password_hash=None,
                                         active=False)
            session.add(judges[row.judge])
        judgments.append((row, items[item_key], generations[(row.model_a, prompt_key)]))
    session.flush()
    for row, item, left in judgments:
        meta = dict(row.meta)
        meta["source_line"] = row.line
        session.add(Judgment(comparison_id=item.id, reviewer_id=judges[row.judge].id,
                             left_generation_id=left.id, choice=row.choice,
                             strength=row.strength, rationale=row.rationale,
                             seconds=row.seconds, meta=meta))
    study.overlap = max_overlap
    session.flush()
    return ImportSummary(study=study_name, judgments=len(judgments), items=len(items),
                         models=names, judges=len({r.judge for r in rows}))


# Keys the exporter writes itself, and bookkeeping of the importer that must not travel.
_MTBENCH_OWN_KEYS = {"question_id", "model_a", "model_b", "winner", "judge", "turn",
                     "conversation_a", "conversation_b", "category", "strength", "rationale",
                     "seconds", "study"}
_IMPORT_BOOKKEEPING = {"source_line"}


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
