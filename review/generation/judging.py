"""A model as a pairwise judge of a study's items: both orders, MT-Bench's prompt and verdicts.

Every regular item (gold items are for people) is judged twice, with the item's first answer
shown as Assistant A (order ``ab``) and as Assistant B (order ``ba``), so that the judge's
preference for a position cancels out. The judge is asked, in MT-Bench's pairwise prompt
(Zheng et al. 2023, "Judging LLM-as-a-judge"), to end with ``[[A]]``, ``[[B]]`` or ``[[C]]``
(a tie). An output without such a verdict is stored as a failed verdict with its raw text and
is never a vote.

The verdicts belong to a rater of kind ``llm`` (``judge:<model>`` unless named otherwise),
linked to the judge model and its parameters (decoding parameters and the template's sha256).
A local judge (transformers) also states its confidence: the probabilities it gave ``A``,
``B`` and ``C`` where it wrote its verdict (:mod:`review.generation.choice_probabilities`),
stored with the verdict; an endpoint judge's score comes from its two orders alone. With
``verdict_only`` a local judge writes no explanation: its verdict is the most probable of
``A``, ``B`` and ``C`` right after the prompt and ``[[`` (one forward pass per order; what a
model too small to follow the format, like the demo's, can still do).
Each verdict is committed as its batch completes and is unique per (item, judge, order), so a
rerun, after success or ``kill -9``, judges only what is missing and never stores twice.

A custom template (``--template FILE``) is a text file with the placeholders ``{question}``,
``{answer_a}`` and ``{answer_b}``, and optionally ``{reference}`` (the prompt's reference
answer, empty when it has none); a line ``[system]`` ... ``[user]`` splits it into a system and
a user message, otherwise the whole file is the user message.

Example::

    summary = judge_study(engine=engine, study_name="sft-vs-base", judge_name="qwen-judge",
                          params=GenerationParams(max_new_tokens=512))
"""

from __future__ import annotations

import hashlib
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from review.core.db import insert_unless_present, session_scope
from review.core.errors import ReviewError
from review.core.lookup import get_model, get_study
from review.core.models import Comparison, JudgeVerdict, Model, Prompt, Reviewer
from review.core.queries import regular_item
from review.core.raters import existing_raters
from review.core.textfiles import read_utf8
from review.core.vocabulary import JUDGE_ORDERS, NAME_LENGTH, judge_left_right
from review.generation import GenerationParams, GenerationRequest
from review.generation.job import model_spec, progress_bar

# MT-Bench's "pair-v2" judge prompt (and "pair-v2-multi-turn"'s reference block).
DEFAULT_TEMPLATE = """[system]
Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the user question displayed below. You should choose the assistant that follows the user's instructions and answers the user's question better. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by comparing the two responses and provide a short explanation. Avoid any position biases and ensure that the order in which the responses were presented does not influence your decision. Do not allow the length of the responses to influence your evaluation. Do not favor certain names of the assistants. Be as objective as possible. After providing your explanation, output your final verdict by strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.
[user]
[User Question]
{question}
{reference}
[The Start of Assistant A's Answer]
{answer_a}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{answer_b}
[The End of Assistant B's Answer]"""

REQUIRED_FIELDS = ("question", "answer_a", "answer_b")
KNOWN_FIELDS = (*REQUIRED_FIELDS, "reference")
VERDICT = re.compile(r"\[\[([ABC])\]\]")
# A judge's letter -> the item's answer it names, per order (A is the left answer).
LETTERS = {order: {**dict(zip("AB", judge_left_right(order, "a", "b"))), "C": "tie"}
           for order in JUDGE_ORDERS}


def _last_verdict(text: str) -> re.Match | None:
    found = list(VERDICT.finditer(text or ""))
    return found[-1] if found else None


def parse_verdict(text: str) -> str | None:
    """The judge's final verdict letter (``A``, ``B`` or ``C``), or None when it gave none.

    The last ``[[X]]`` counts: judges often quote the format before deciding.

    Example:
        >>> parse_verdict("B is more accurate. [[B]]"), parse_verdict("Both fine [[C]]")
        ('B', 'C')
        >>> parse_verdict('Format: "[[A]]" or "[[B]]". Verdict: [[A]]'), parse_verdict("A wins")
        ('A', None)
    """
    match = _last_verdict(text)
    return match.group(1) if match else None


@dataclass(frozen=True)
class JudgeTemplate:
    """A judge prompt: a system message (may be empty) and a user message with placeholders."""

    system: str
    user: str

    @classmethod
    def parse(cls, text: str, source: str = "template") -> JudgeTemplate:
        """Split ``[system]`` / ``[user]`` sections and check the placeholders."""
        system, user = "", text
        match = re.match(r"\s*\[system\]\n(.*?)\n\[user\]\n(.*)\Z", text, re.S)
        if match:
            system, user = match.group(1).strip(), match.group(2)
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(system + user) if name is not None}
        except ValueError as exc:
            raise ReviewError(f"{source}: not a valid template ({exc}); write literal braces as {{{{ }}}}") from None
        unknown = sorted(fields - set(KNOWN_FIELDS))
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        if unknown or missing:
            problem = (f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}" if unknown
                       else f"missing placeholder(s) {', '.join('{' + m + '}' for m in missing)}")
            raise ReviewError(f"{source}: {problem}; a judge template uses "
                              f"{', '.join('{' + k + '}' for k in KNOWN_FIELDS)}")
        return cls(system=system, user=user)

    @classmethod
    def load(cls, path: Path | None) -> JudgeTemplate:
        if path is None:
            return cls.parse(DEFAULT_TEMPLATE)
        return cls.parse(read_utf8(Path(path)), source=str(path))

    def digest(self) -> str:
        return hashlib.sha256(f"{self.system}\x00{self.user}".encode()).hexdigest()

    def messages(self, *, question: str, answer_a: str, answer_b: str,
                 reference: str | None) -> list[dict]:
        block = (f"\n[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n"
                 if reference else "")
        values = {"question": question, "answer_a": answer_a, "answer_b": answer_b,
                  "reference": block}
        user = self.user.format(**values)
        system = self.system.format(**values)
        return ([{"role": "system", "content": system}] if system else []) + \
            [{"role": "user", "content": user}]


def question_text(messages: list[dict]) -> str:
    """The question a judge sees: the user's message, or the whole conversation when the
    prompt has earlier turns."""
    if len(messages) == 1:
        return messages[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


@dataclass(frozen=True)
class JudgeSummary:
    study: str
    judge: str
    model: str
    judged: int
    failed: int
    already_present: int
    seconds: float


def judge_rater(*, session: Session, name: str, model: Model, params: dict) -> Reviewer:
    """The llm rater ``name`` for this judge model and parameters, created on first use.

    Raises ReviewError when the name belongs to a person, or to a judge that ran with another
    model or other parameters (its verdicts would mix two judges)."""
    rater = existing_raters(session=session, names=[name], kind="llm",
                            remedy="give the judge another --name").get(name)
    if rater is None:
        rater = Reviewer(name=name, kind="llm", role="reviewer", password_hash=None,
                         judge_model_id=model.id, judge_params=params)
        session.add(rater)
        session.flush()
        return rater
    if rater.judge_model_id != model.id or (rater.judge_params or {}) != params:
        raise ReviewError(f"judge {name!r} already judged with another model or other parameters: "
                          "give this one another --name")
    return rater


def _missing(session: Session, study_id: int, rater_id: int) -> list[tuple[Comparison, str]]:
    done = set(session.execute(select(JudgeVerdict.comparison_id, JudgeVerdict.judge_order)
                               .where(JudgeVerdict.reviewer_id == rater_id)).all())
    items = session.scalars(select(Comparison).where(Comparison.study_id == study_id, regular_item())
                            .order_by(Comparison.id)).all()
    return [(item, order) for item in items for order in JUDGE_ORDERS if (item.id, order) not in done]


def _results(spec, requests, params, batch_size, verdict_only):  # noqa: ANN001, ANN202
    """The judge's outputs, and for a local model a function giving its probabilities of
    A, B and C where it wrote its verdict (None for an endpoint: its score then comes from
    its two orders). ``verdict_only``: no explanation is generated; the verdict is the most
    probable of A, B and C right after the prompt and ``[[``."""
    from review.generation import backend_for, generate

    if backend_for(spec) != "transformers":  # judge_study refused verdict_only for endpoints
        return generate(spec, requests, params, batch_size=batch_size), None
    from review.generation.choice_probabilities import option_probabilities
    from review.generation.transformers_backend import generate_loaded, load_model

    loaded = load_model(spec)
    known: dict[str, dict[str, float]] = {}

    def probabilities(request: GenerationRequest, prefix: str) -> dict[str, float]:
        if request.key in known:
            return known.pop(request.key)
        return option_probabilities(loaded, request, prefix, options=("A", "B", "C"), params=params)

    if not verdict_only:
        return generate_loaded(loaded, requests, params, batch_size=batch_size), probabilities

    def verdicts():  # noqa: ANN202 - Iterator[GenerationResult]
        from review.generation import GenerationResult

        for request in requests:
            started = time.perf_counter()
            known[request.key] = option_probabilities(loaded, request, "[[", options=("A", "B", "C"),
                                                      params=params)
            letter = max(known[request.key], key=known[request.key].get)
            yield GenerationResult(
                key=request.key, text=f"[[{letter}]]", token_count=1,
                latency_seconds=time.perf_counter() - started, chat_template=loaded.chat_template,
                backend="transformers", library_versions=dict(loaded.library_versions),
                device=loaded.device, dtype=loaded.dtype)

    return verdicts(), probabilities


def judge_study(*, engine: Engine, study_name: str, judge_name: str,
                params: GenerationParams, template_path: Path | None = None,
                rater_name: str | None = None, batch_size: int = 8,
                show_progress: bool = True, verdict_only: bool = False) -> JudgeSummary:
    """Judge every regular item of the study in both orders with the model ``judge_name``."""
    if batch_size < 1:
        raise ReviewError(f"--batch-size must be at least 1, got {batch_size}")
    template = JudgeTemplate.load(template_path)
    name = (rater_name or f"judge:{judge_name}").strip()
    if not name or len(name) > NAME_LENGTH:
        raise ReviewError(f"a judge's name must be 1 to {NAME_LENGTH} characters")
    judge_params = {**params.to_dict(), "template_sha256": template.digest(),
                    **({"verdict_only": True} if verdict_only else {})}
    with session_scope(engine, write=True) as session:
        study = get_study(session=session, name=study_name)
        model = get_model(session=session, name=judge_name)
        if verdict_only and model.kind == "endpoint":
            raise ReviewError("--verdict-only reads a local model's probabilities: it needs a "
                              "transformers model, not an endpoint")
        rater = judge_rater(session=session, name=name, model=model, params=judge_params)
        rater_id, spec = rater.id, model_spec(model)
        todo = _missing(session, study.id, rater.id)
        total = 2 * session.query(Comparison).filter(
            Comparison.study_id == study.id, regular_item()).count()
        requests = []
        for item, order in todo:
            prompt: Prompt = item.prompt
            a, b = judge_left_right(order, item.generation_a, item.generation_b)
            requests.append(GenerationRequest(key=f"{item.id}:{order}", messages=template.messages(
                question=question_text(prompt.messages), answer_a=a.output, answer_b=b.output,
                reference=prompt.reference)))
    started = time.perf_counter()
    failed = 0
    if requests:
        bar = progress_bar(len(requests), f"{name} on {study_name}", show_progress, unit="verdict")
        by_key = {request.key: request for request in requests}
        try:
            results, probabilities = _results(spec, requests, params, batch_size, verdict_only)
            for result in results:
                comparison_id, order = result.key.split(":")
                match = _last_verdict(result.text)
                letter = match.group(1) if match else None
                failed += letter is None
                meta = {"backend": result.backend, "latency_seconds": result.latency_seconds,
                        "token_count": result.token_count}
                confidence = None
                if letter and probabilities is not None:
                    meta["option_probabilities"] = probabilities(
                        by_key[result.key], result.text[:match.start() + 2])
                    confidence = meta["option_probabilities"][letter]
                with session_scope(engine, write=True) as session:
                    insert_unless_present(session, JudgeVerdict, dict(
                        comparison_id=int(comparison_id), reviewer_id=rater_id, judge_order=order,
                        choice=LETTERS[order][letter] if letter else None, confidence=confidence,
                        raw_output=result.text.replace("\x00", "\ufffd"), meta=meta),
                        unique=["comparison_id", "reviewer_id", "judge_order"])
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return JudgeSummary(study=study_name, judge=name, model=judge_name, judged=len(requests),
                        failed=failed, already_present=total - len(requests),
                        seconds=time.perf_counter() - started)
