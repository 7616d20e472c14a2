"""Studies and their comparison items.

A study compares a candidate with a baseline on a prompt set: one item per prompt that
both models answered under the study's decoding parameters. ``generation_a`` is always
the candidate's answer and ``generation_b`` the baseline's; which one a reviewer sees on
the left is drawn per assignment, not here.

:func:`pair_models` is the whole sequence every caller needs (``review pair``, the
checkpoint watcher, the demo): check the names, generate whatever answers of both models
are missing, then create or extend the study.

An external model (answers generated elsewhere, ``review answers import``) generates nothing:
its side of an item is the answer imported for the prompt, whatever file it came from (each
import has its own parameters hash). The import keeps one answer per model and prompt; were
there ever several, the earliest stored would be used. Prompts the external model did not
answer are left out and counted (``prompts_without_both_answers``); a local model on the other
side is generated for as usual. Two external models are paired on what was imported, and the
study then records no decoding parameters (``params_hash`` None).

Example::

    result = pair_models(engine=engine, study="ft-vs-base", candidate="ft", baseline="base",
                         set_name="demo", params=GenerationParams(max_new_tokens=128))
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine, Subquery, func, select
from sqlalchemy.orm import Session

from review.campaign.judgments import DEFAULT_MIN_SECONDS, MIN_SECONDS_KEY
from review.core.db import session_scope
from review.core.errors import ReviewError
from review.core.lookup import get_model, get_prompt_set
from review.core.models import DEFAULT_OVERLAP, NAME_LENGTH, Comparison, Generation, Model, Prompt, PromptSet, Study
from review.generation import GenerationParams
from review.generation.job import generate_answers

MAX_OVERLAP = 50


@dataclass(frozen=True)
class PairingResult:
    study: str
    created: bool
    items_added: int
    items_total: int
    prompts_without_both_answers: int
    answers_generated: int = 0


def _check_definition(study: Study, candidate: Model, baseline: Model, prompt_set: PromptSet,
                      params_hash: str | None) -> None:
    same = (study.candidate_model_id == candidate.id and study.baseline_model_id == baseline.id
            and study.prompt_set_id == prompt_set.id and study.params_hash == params_hash)
    if not same:
        raise ReviewError(f"study {study.name!r} already exists with other models, prompt set or "
                          "decoding parameters; choose another study name")


def _paired_answers(model: Model, params_hash: str | None) -> Subquery:
    """(prompt_id, generation_id): the answer of ``model`` each item of a study pairs on.

    A local model's answer under the study's decoding parameters (one per prompt: the database
    keeps them unique); an external model's imported answer, whatever its parameters hash,
    the earliest stored should there be several.
    """
    condition = Generation.model_id == model.id
    if model.kind != "external":
        condition = condition & (Generation.params_hash == params_hash)
    return (select(Generation.prompt_id, func.min(Generation.id).label("generation_id"))
            .where(condition).group_by(Generation.prompt_id).subquery())


def study_params_hash(candidate: Model, baseline: Model, params_hash: str) -> str | None:
    """The decoding parameters a study records: None when neither model generates (both external)."""
    if candidate.kind == "external" and baseline.kind == "external":
        return None
    return params_hash


def create_study(*, session: Session, name: str, candidate: Model, baseline: Model,
                 prompt_set: PromptSet, params_hash: str | None, overlap: int = DEFAULT_OVERLAP,
                 gold_rate: float = 0.0, guidelines: str = "", thresholds: dict | None = None,
                 meta: dict | None = None) -> PairingResult:
    """Create the study (or extend an identical one) with an item per prompt answered by both.

    Calling it again after more answers were generated adds only the new items.
    ``params_hash`` selects the answers of local models; an external model's are its imported
    ones (see :func:`_paired_answers`).
    """
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise ReviewError(f"study name must be 1 to {NAME_LENGTH} characters")
    if candidate.id == baseline.id:
        raise ReviewError("candidate and baseline must be different models")
    if not 1 <= overlap <= MAX_OVERLAP:
        raise ReviewError(f"--overlap must be between 1 and {MAX_OVERLAP}, got {overlap}")
    if not 0 <= gold_rate <= 1:
        raise ReviewError(f"gold rate must be between 0 and 1, got {gold_rate}")
    study = session.scalar(select(Study).where(Study.name == name))
    created = study is None
    if study is None:
        study = Study(name=name, candidate=candidate, baseline=baseline, prompt_set=prompt_set,
                      params_hash=params_hash, overlap=overlap, gold_rate=gold_rate,
                      guidelines=guidelines, thresholds=thresholds or {},
                      meta={MIN_SECONDS_KEY: DEFAULT_MIN_SECONDS, **(meta or {})})
        session.add(study)
        session.flush()
    else:
        _check_definition(study, candidate, baseline, prompt_set, params_hash)

    cand, base = _paired_answers(candidate, params_hash), _paired_answers(baseline, params_hash)
    rows = session.execute(
        select(Prompt.id, cand.c.generation_id, base.c.generation_id)
        .join(cand, cand.c.prompt_id == Prompt.id, isouter=True)
        .join(base, base.c.prompt_id == Prompt.id, isouter=True)
        .where(Prompt.prompt_set_id == prompt_set.id)
        .order_by(Prompt.id)
    ).all()
    existing = set(session.scalars(select(Comparison.prompt_id).where(Comparison.study_id == study.id)))
    added = missing = 0
    for prompt_id, candidate_generation, baseline_generation in rows:
        if candidate_generation is None or baseline_generation is None:
            missing += 1
            continue
        if prompt_id in existing:
            continue
        session.add(Comparison(study_id=study.id, prompt_id=prompt_id,
                               generation_a_id=candidate_generation,
                               generation_b_id=baseline_generation))
        added += 1
    session.flush()
    total = len(existing) + added
    if total == 0:
        remedy = ("import the external model's answers with `review answers import`"
                  if "external" in (candidate.kind, baseline.kind) else "run `review generate` first")
        raise ReviewError(f"no prompt of set {prompt_set.name!r} has answers from both "
                          f"{candidate.name!r} and {baseline.name!r}: {remedy}")
    return PairingResult(study=name, created=created, items_added=added, items_total=total,
                         prompts_without_both_answers=missing)


def pair_models(*, engine: Engine, study: str, candidate: str, baseline: str, set_name: str,
                params: GenerationParams, overlap: int = DEFAULT_OVERLAP, gold_rate: float = 0.0,
                guidelines: str = "", thresholds: dict | None = None, meta: dict | None = None,
                batch_size: int = 8, show_progress: bool = False) -> PairingResult:
    """Generate the missing answers of both models to the prompt set, then create the study.

    An external model generates nothing: the study pairs on its imported answers (two
    external models: nothing is generated at all). Unknown names are refused before anything
    is generated. Generation commits answer by answer (see
    :func:`review.generation.job.generate_answers`); the study and its items are created in
    one transaction at the end, so an interrupted call leaves no study and a rerun finishes
    the answers and creates it. Calling it again for an existing identical
    study only adds items for newly answered prompts.
    """
    with session_scope(engine) as session:
        external = {name for name in (candidate, baseline)
                    if get_model(session=session, name=name).kind == "external"}
        get_prompt_set(session=session, name=set_name)
    generated = 0
    for name in (baseline, candidate):
        if name in external:
            continue
        summary = generate_answers(engine=engine, model_name=name, set_name=set_name,
                                   params=params, batch_size=batch_size,
                                   show_progress=show_progress)
        generated += summary.generated
    with session_scope(engine, write=True) as session:
        candidate_model = get_model(session=session, name=candidate)
        baseline_model = get_model(session=session, name=baseline)
        result = create_study(
            session=session, name=study, candidate=candidate_model, baseline=baseline_model,
            prompt_set=get_prompt_set(session=session, name=set_name),
            params_hash=study_params_hash(candidate_model, baseline_model, params.params_hash()),
            overlap=overlap, gold_rate=gold_rate,
            guidelines=guidelines, thresholds=thresholds, meta=meta)
    return replace(result, answers_generated=generated)
