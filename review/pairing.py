"""Studies and their comparison items.

A study compares a candidate with a baseline on a prompt set: one item per prompt that
both models answered under the study's decoding parameters. ``generation_a`` is always
the candidate's answer and ``generation_b`` the baseline's; which one a reviewer sees on
the left is drawn per assignment, not here.

Example::

    study = create_study(session=session, name="ft-vs-base", candidate=ft, baseline=base,
                         prompt_set=demo, params_hash=params.params_hash(), overlap=3)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from review.errors import ReviewError
from review.models import Comparison, Generation, Model, Prompt, PromptSet, Study

MAX_OVERLAP = 50


@dataclass(frozen=True)
class PairingResult:
    study: str
    created: bool
    items_added: int
    items_total: int
    prompts_without_both_answers: int


def get_study(*, session: Session, name: str) -> Study:
    study = session.scalar(select(Study).where(Study.name == name))
    if study is None:
        raise ReviewError(f"no study named {name!r} (see `review studies list`)")
    return study


def _check_definition(study: Study, candidate: Model, baseline: Model, prompt_set: PromptSet,
                      params_hash: str) -> None:
    same = (study.candidate_model_id == candidate.id and study.baseline_model_id == baseline.id
            and study.prompt_set_id == prompt_set.id and study.params_hash == params_hash)
    if not same:
        raise ReviewError(f"study {study.name!r} already exists with other models, prompt set or "
                          "decoding parameters; choose another study name")


def create_study(*, session: Session, name: str, candidate: Model, baseline: Model,
                 prompt_set: PromptSet, params_hash: str, overlap: int = 3,
                 gold_rate: float = 0.0, guidelines: str = "", thresholds: dict | None = None,
                 meta: dict | None = None) -> PairingResult:
    """Create the study (or extend an identical one) with an item per prompt answered by both.

    Calling it again after more answers were generated adds only the new items.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise ReviewError("study name must be 1 to 200 characters")
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
                      guidelines=guidelines, thresholds=thresholds or {}, meta=meta or {})
        session.add(study)
        session.flush()
    else:
        _check_definition(study, candidate, baseline, prompt_set, params_hash)

    cand, base = aliased(Generation), aliased(Generation)
    rows = session.execute(
        select(Prompt.id, cand.id, base.id)
        .join(cand, (cand.prompt_id == Prompt.id) & (cand.model_id == candidate.id)
              & (cand.params_hash == params_hash), isouter=True)
        .join(base, (base.prompt_id == Prompt.id) & (base.model_id == baseline.id)
              & (base.params_hash == params_hash), isouter=True)
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
        raise ReviewError(f"no prompt of set {prompt_set.name!r} has answers from both "
                          f"{candidate.name!r} and {baseline.name!r}: run `review generate` first")
    return PairingResult(study=name, created=created, items_added=added, items_total=total,
                         prompts_without_both_answers=missing)
