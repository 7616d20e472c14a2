"""Answers generated elsewhere, imported as the answers of an ``external`` model
(``review answers import FILE --model NAME --set NAME``, and the admin page's upload).

Two file shapes, told apart by their first character:

- AlpacaEval's ``model_outputs.json``: a JSON list of ``{"instruction", "output",
  "generator"}``. Each entry is matched to the prompt of the set whose single user message is
  exactly ``instruction`` (no trimming, no case folding). A chat prompt of several messages
  cannot be matched by instruction: answer it in the JSONL shape. Entries are counted from 1.
- JSON lines ``{"prompt_id", "output"}`` (``generator`` optional): ``prompt_id`` is the
  prompt's id in the set, as imported with ``review prompts import``.

Other keys of an entry are kept in the answer's metadata. All or nothing: an entry that
matches no prompt, a prompt answered twice in the file, an output that is empty or not text,
invalid JSON or a missing field stops the import with one line naming the file and the entry
(or line); nothing is stored and no model is registered.

The model is registered as kind ``external`` (no weights; location: the file's name; metadata:
the generators and the sha256 of each file imported) on its first import; a model of another
kind is refused. Answers are evidence: importing the same answers again changes nothing
("unchanged"), and a different answer to a prompt the model already answered is refused,
never replaced. Each answer is a :class:`~review.core.models.Generation` with backend
``import``, parameters ``{"source": "import", "file": name, "sha256": hex}`` and a parameters
hash shared by every answer of one file. Token counts and latencies are unknown (null).
``review pair`` pairs an external model on the answers it has, whatever file they came from
(:mod:`review.campaign.pairing`).

Example::

    result = import_answers(session=session, source=Path("model_outputs.json").read_bytes(),
                            file_name="model_outputs.json", model="vendor-a", prompt_set="demo")
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.lookup import get_prompt_set
from review.core.models import NAME_LENGTH, Generation, Model, Prompt, PromptSet
from review.core.textfiles import jsonl_rows, line_error, loads_strict, unstorable_text

EXTERNAL = "external"
BACKEND = "import"
ALPACA_EVAL_FIELDS = ("instruction", "output", "generator")
JSONL_FIELDS = ("prompt_id", "output", "generator")


@dataclass(frozen=True)
class AnswersImport:
    """What an import did: ``imported`` answers stored, ``unchanged`` ones already there."""

    model: str
    created_model: bool
    imported: int
    unchanged: int
    prompt_set: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class _Answer:
    where: str          # "answers.json: entry 3" or "answers.jsonl:3", to start an error line
    label: str          # "entry 3" or "line 3"
    prompt: Prompt
    output: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def generator(self) -> str | None:
        return self.meta.get("generator")


_JSON_TYPES = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
               str: "text", list: "a list", dict: "an object"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _quote(text: str, limit: int = 60) -> str:
    """``text`` in double quotes on one line, cut to ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit - 1] + "…"
    return json.dumps(cut, ensure_ascii=False)


def _entry(where: str, entry: Any, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ReviewError(f"{where}: expected a JSON object, got {_json_type(entry)}")
    for key in required:
        if key not in entry:
            raise ReviewError(f"{where}: missing field '{key}'")
    problem = unstorable_text(entry)
    if problem:
        raise ReviewError(f"{where}: {problem}")
    return entry


def _answer(where: str, label: str, prompt: Prompt, entry: dict[str, Any], fields: tuple[str, ...],
            position: dict[str, int], *, generator_required: bool) -> _Answer:
    """The answer of one entry: its output, generator and other keys (kept as metadata)."""
    output = entry["output"]
    if not isinstance(output, str):
        raise ReviewError(f"{where}: field 'output' must be text, got {_json_type(output)}")
    if not output.strip():
        raise ReviewError(f"{where}: field 'output' is empty")
    meta = {key: value for key, value in entry.items() if key not in fields}
    generator = entry.get("generator")
    if generator is not None or generator_required:
        if not isinstance(generator, str) or not generator.strip():
            raise ReviewError(f"{where}: field 'generator' must be a non-empty string")
        meta["generator"] = generator.strip()
    return _Answer(where=where, label=label, prompt=prompt, output=output, meta={**meta, **position})


def _alpaca_eval_answers(file_name: str, text: str, prompts: list[Prompt],
                         set_name: str) -> list[_Answer]:
    try:
        entries = loads_strict(text)
    except json.JSONDecodeError as exc:
        raise line_error(Path(file_name), exc.lineno, f"malformed JSON: {exc.msg}") from None
    except ValueError as exc:
        raise ReviewError(f"{file_name}: {exc}") from None
    by_text: dict[str, list[Prompt]] = {}
    chats: dict[str, Prompt] = {}
    for prompt in prompts:
        if len(prompt.messages) == 1:
            by_text.setdefault(prompt.messages[0]["content"], []).append(prompt)
        else:
            chats.setdefault(prompt.text, prompt)
    answers = []
    for number, raw in enumerate(entries, 1):
        label = f"entry {number}"
        where = f"{file_name}: {label}"
        entry = _entry(where, raw, ALPACA_EVAL_FIELDS)
        instruction = entry["instruction"]
        if not isinstance(instruction, str):
            raise ReviewError(f"{where}: field 'instruction' must be text, got {_json_type(instruction)}")
        matches = by_text.get(instruction, [])
        if len(matches) > 1:
            ids = ", ".join(repr(p.external_id) for p in matches[:5])
            raise ReviewError(f"{where}: {len(matches)} prompts in set {set_name!r} have this exact "
                              f"text ({ids}): answer them by prompt_id in JSON lines")
        if not matches:
            chat = chats.get(instruction)
            if chat is not None:
                raise ReviewError(f"{where}: prompt {chat.external_id!r} of set {set_name!r} is a chat "
                                  "of several messages and cannot be matched by instruction: answer "
                                  "it by prompt_id in JSON lines")
            raise ReviewError(f"{where}: no prompt in set {set_name!r} has this exact text: "
                              f"{_quote(instruction)}")
        answers.append(_answer(where, label, matches[0], entry, ALPACA_EVAL_FIELDS,
                               {"source_entry": number}, generator_required=True))
    return answers


def _jsonl_answers(file_name: str, text: str, prompts: list[Prompt], set_name: str) -> list[_Answer]:
    by_id = {prompt.external_id: prompt for prompt in prompts}
    answers = []
    for number, raw in jsonl_rows(Path(file_name), text):
        where = f"{file_name}:{number}"
        entry = _entry(where, raw, ("prompt_id", "output"))
        raw_id = entry["prompt_id"]
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
            raise ReviewError(f"{where}: field 'prompt_id' must be a non-empty string or an integer")
        prompt = by_id.get(str(raw_id).strip())
        if prompt is None:
            raise ReviewError(f"{where}: no prompt with id {_quote(str(raw_id))} in set {set_name!r}")
        answers.append(_answer(where, f"line {number}", prompt, entry, JSONL_FIELDS,
                               {"source_line": number}, generator_required=False))
    return answers


def _one_json_value(text: str) -> bool:
    """Whether the whole text is one JSON value (a pretty-printed object is not JSON lines)."""
    try:
        loads_strict(text)
    except ValueError:
        return False
    return True


def _parse_answers(*, source: bytes, file_name: str, prompt_set: PromptSet,
                  prompts: list[Prompt]) -> list[_Answer]:
    """Every answer of the file matched to its prompt; :class:`ReviewError` names the first
    entry (or line) that is wrong, including a prompt answered twice."""
    try:
        text = source.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = source.count(b"\n", 0, exc.start) + 1
        raise line_error(Path(file_name), line,
                         f"invalid UTF-8 (byte 0x{source[exc.start]:02x})") from None
    if text.lstrip().startswith("["):
        answers = _alpaca_eval_answers(file_name, text, prompts, prompt_set.name)
    else:
        if "\n" in text.strip() and _one_json_value(text):
            raise ReviewError(f"{file_name}: expected a JSON list of {{instruction, output, generator}} "
                              "or one {prompt_id, output} object per line")
        answers = _jsonl_answers(file_name, text, prompts, prompt_set.name)
    if not answers:
        raise ReviewError(f"{file_name}: no answers found")
    first: dict[int, str] = {}
    for answer in answers:
        earlier = first.setdefault(answer.prompt.id, answer.label)
        if earlier != answer.label:
            raise ReviewError(f"{answer.where}: prompt {answer.prompt.external_id!r} is already "
                              f"answered by {earlier}")
    return answers


def _external_model(session: Session, name: str) -> Model | None:
    """The model called ``name`` when it is external (locked for this import), None when there
    is none; a model of another kind is refused."""
    model = session.scalar(select(Model).where(Model.name == name).with_for_update())
    if model is not None and model.kind != EXTERNAL:
        raise ReviewError(f"model {name!r} is a {model.kind} model, not an external one: import "
                          "these answers under another model name")
    return model


def _params(file_name: str, digest: str) -> tuple[dict[str, str], str]:
    params = {"source": BACKEND, "file": file_name, "sha256": digest}
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return params, hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def import_answers(*, session: Session, source: bytes, file_name: str, model: str,
                   prompt_set: str) -> AnswersImport:
    """Store the answers of ``source`` (the bytes of the file called ``file_name``) as the
    answers of the external model ``model`` to the prompts of ``prompt_set``.

    Registers the model on its first import. The caller owns the transaction; on any error
    nothing has been added to the session.

    Raises:
        ReviewError: one line naming the file and the entry or line at fault, an unknown
            prompt set, a model of another kind, or an answer that differs from one stored.

    Example::

        import_answers(session=session, source=b'{"prompt_id": "p1", "output": "Hi!"}\\n',
                       file_name="answers.jsonl", model="vendor-a", prompt_set="demo")
    """
    name = model.strip()
    if not name or len(name) > NAME_LENGTH:
        raise ReviewError(f"model name must be 1 to {NAME_LENGTH} characters")
    file_name = Path(file_name).name or "answers"
    the_set = get_prompt_set(session=session, name=prompt_set)
    prompts = list(session.scalars(select(Prompt).where(Prompt.prompt_set_id == the_set.id)
                                   .order_by(Prompt.id)))
    answers = _parse_answers(source=source, file_name=file_name, prompt_set=the_set, prompts=prompts)
    digest = hashlib.sha256(source).hexdigest()
    external = _external_model(session, name)

    stored: dict[int, str] = {}
    if external is not None:
        in_set = select(Prompt.id).where(Prompt.prompt_set_id == the_set.id)
        rows = session.execute(select(Generation.prompt_id, Generation.output)
                               .where(Generation.model_id == external.id,
                                      Generation.prompt_id.in_(in_set))
                               .order_by(Generation.id))
        for prompt_id, output in rows:
            stored.setdefault(prompt_id, output)  # the earliest, as pairing uses it
    new = []
    for answer in answers:
        previous = stored.get(answer.prompt.id)
        if previous is None:
            new.append(answer)
        elif previous != answer.output:
            raise ReviewError(f"{answer.where}: model {name!r} already has a different "
                              f"answer to prompt {answer.prompt.external_id!r}; imported answers are "
                              "never replaced: import this file under another model name")
    created = external is None
    if new:
        generators = sorted({a.generator for a in answers if a.generator})
        if external is None:
            external = Model(name=name, kind=EXTERNAL, location=file_name, meta={})
            session.add(external)
        meta = dict(external.meta or {})
        meta["generators"] = sorted(set(meta.get("generators", [])) | set(generators))
        meta["files"] = [*meta.get("files", []),
                         {"file": file_name, "sha256": digest, "answers": len(new)}]
        external.meta = meta
        session.flush()
        params, params_hash = _params(file_name, digest)
        session.add_all(
            Generation(model_id=external.id, prompt_id=answer.prompt.id, params_hash=params_hash,
                       params=params, output=answer.output, token_count=None,
                       latency_seconds=None, backend=BACKEND, chat_template=None, model_hash=None,
                       library_versions={}, meta=answer.meta)
            for answer in new)
        session.flush()
    return AnswersImport(model=name, created_model=created, imported=len(new),
                         unchanged=len(answers) - len(new), prompt_set=the_set.name, sha256=digest)
