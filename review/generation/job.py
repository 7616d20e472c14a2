"""Generating and storing model answers for a prompt set, resumable and idempotent.

Each answer is committed as soon as its batch is done, and a generation is unique on
(model, prompt, parameters hash) in the database, so rerunning — after a success or a
``kill -9`` — only generates what is missing and never stores anything twice.

Example::

    summary = generate_answers(engine=engine, model_name="base", set_name="demo",
                               params=GenerationParams(max_new_tokens=128), batch_size=16)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from review.core.lookup import get_model, get_prompt_set
from review.core.db import insert_unless_present, session_scope
from review.core.errors import ReviewError
from review.generation import GenerationParams, GenerationRequest, GenerationResult, ModelSpec
from review.core.models import Generation, Model, Prompt, PromptSet


@dataclass(frozen=True)
class GenerateSummary:
    model: str
    prompt_set: str
    params_hash: str
    generated: int
    already_present: int
    tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def model_spec(model: Model) -> ModelSpec:
    """The backend-facing description of a registered model; an external model has none.

    Raises:
        ReviewError: ``model`` is external (its answers were imported; it cannot generate).
    """
    if model.kind == "external":
        raise ReviewError(f"model {model.name!r} is external: its answers are imported with "
                          "`review answers import`, it cannot generate")
    return ModelSpec(
        kind=model.kind,
        location=model.location,
        base_location=model.base_model.location if model.base_model is not None else None,
        name=model.name,
    )


def missing_prompts(*, session: Session, model: Model, prompt_set: PromptSet,
                    params_hash: str) -> list[Prompt]:
    """Prompts of the set that have no answer from ``model`` under these parameters."""
    done = select(Generation.prompt_id).where(Generation.model_id == model.id,
                                              Generation.params_hash == params_hash)
    return list(session.scalars(
        select(Prompt).where(Prompt.prompt_set_id == prompt_set.id, Prompt.id.not_in(done))
        .order_by(Prompt.id)))


def store_answer(*, session: Session, model: Model, prompt_id: int, params: GenerationParams,
                 result: GenerationResult) -> None:
    """Insert one answer; an answer already stored for the same key is left as it is.

    The generation's ``meta`` keeps the device and dtype it ran on and its ``finish_reason``
    (``"length"`` for an answer cut at ``max_new_tokens``, ``"stop"`` for one the model ended).
    """
    output = result.text
    meta = {k: v for k, v in (("device", result.device), ("dtype", result.dtype),
                              ("finish_reason", result.finish_reason)) if v}
    if "\x00" in output:
        # PostgreSQL text cannot hold NUL; a model can still emit it. Keep the rest visible.
        output = output.replace("\x00", "\ufffd")
        meta["nul_replaced"] = True
    values = dict(
        model_id=model.id, prompt_id=prompt_id, params_hash=params.params_hash(),
        params=params.to_dict(), output=output, token_count=result.token_count,
        latency_seconds=result.latency_seconds, backend=result.backend,
        chat_template=result.chat_template, model_hash=model.content_hash,
        library_versions=result.library_versions, meta=meta,
    )
    insert_unless_present(session, Generation, values, unique=["model_id", "prompt_id", "params_hash"])


def generate_answers(*, engine: Engine, model_name: str, set_name: str, params: GenerationParams,
                     batch_size: int = 8, show_progress: bool = True,
                     on_result: Callable[[GenerationResult], None] | None = None) -> GenerateSummary:
    """Generate every missing answer of ``model_name`` for the prompt set, committing as it goes."""
    from review.generation import generate

    if batch_size < 1:
        raise ReviewError(f"--batch-size must be at least 1, got {batch_size}")
    params_hash = params.params_hash()
    with session_scope(engine) as session:
        model = get_model(session=session, name=model_name)
        prompt_set = get_prompt_set(session=session, name=set_name)
        total = session.query(Prompt).filter(Prompt.prompt_set_id == prompt_set.id).count()
        todo = missing_prompts(session=session, model=model, prompt_set=prompt_set,
                               params_hash=params_hash)
        spec = model_spec(model)
        requests = [GenerationRequest(key=str(p.id), messages=p.messages) for p in todo]
    started = time.perf_counter()
    tokens = 0
    if requests:
        bar = progress_bar(len(requests), f"{model_name} on {set_name}", show_progress)
        try:
            for result in generate(spec, requests, params, batch_size=batch_size):
                with session_scope(engine) as session:
                    store_answer(session=session, model=model, prompt_id=int(result.key),
                                 params=params, result=result)
                tokens += result.token_count
                if on_result is not None:
                    on_result(result)
                if bar is not None:
                    elapsed = time.perf_counter() - started
                    bar.set_postfix_str(f"{tokens / elapsed:.1f} tok/s" if elapsed else "")
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return GenerateSummary(model=model_name, prompt_set=set_name, params_hash=params_hash,
                           generated=len(requests), already_present=total - len(requests),
                           tokens=tokens, seconds=time.perf_counter() - started)


def progress_bar(total: int, label: str, enabled: bool, unit: str = "prompt"):  # noqa: ANN202 - tqdm or None
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=unit, dynamic_ncols=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} " + unit + "s |{bar}| {elapsed}<{remaining} {postfix}")
