"""Gold items (attention checks): comparisons whose better answer is known in advance.

A gold item compares two planted answers to one of the study's prompts, one correct and one
clearly wrong, written by whoever runs the study (``sample_data/gold.jsonl`` for the demo).
They are served like any other item at the study's gold rate and scored per reviewer; the
verdict leaves out reviewers whose gold accuracy is too low (:mod:`review.stats.verdict`).
The planted answers belong to two planted models, ``gold-correct`` and ``gold-wrong``, so that
every figure can tell them from the study's models (the statistics use only non-gold items).

Example::

    add_gold_items(session=session, study=study, items=[GoldItem("math-01", "102", "112")])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.models import Comparison, Generation, Model, Prompt, Study

CORRECT_MODEL, WRONG_MODEL = "gold-correct", "gold-wrong"
PLANTED = "planted"


@dataclass(frozen=True)
class GoldItem:
    prompt_id: str   # the prompt's id in the study's prompt set
    correct: str
    wrong: str


def _planted_model(session: Session, name: str) -> Model:
    model = session.scalar(select(Model).where(Model.name == name))
    if model is None:
        model = Model(name=name, kind="base", location=f"{PLANTED}:{name}",
                      meta={"source": "gold items"})
        session.add(model)
        session.flush()
    return model


def _planted_answer(session: Session, model: Model, prompt: Prompt, text: str) -> Generation:
    generation = session.scalar(select(Generation).where(
        Generation.model_id == model.id, Generation.prompt_id == prompt.id,
        Generation.params_hash == PLANTED))
    if generation is None:
        generation = Generation(model_id=model.id, prompt_id=prompt.id, params_hash=PLANTED,
                                params={"source": "gold items"}, output=text, backend=PLANTED)
        session.add(generation)
        session.flush()
    elif generation.output != text:
        raise ReviewError(f"a different planted answer for prompt {prompt.external_id!r} exists")
    return generation


def add_gold_items(*, session: Session, study: Study, items: Sequence[GoldItem]) -> int:
    """Add gold items to ``study`` (idempotent); returns how many are new."""
    if study.prompt_set_id is None:
        raise ReviewError(f"study {study.name!r} has no prompt set for gold items")
    correct_model = _planted_model(session, CORRECT_MODEL)
    wrong_model = _planted_model(session, WRONG_MODEL)
    added = 0
    for item in items:
        prompt = session.scalar(select(Prompt).where(Prompt.prompt_set_id == study.prompt_set_id,
                                                     Prompt.external_id == item.prompt_id))
        if prompt is None:
            raise ReviewError(f"gold item: no prompt {item.prompt_id!r} in the study's prompt set")
        correct = _planted_answer(session, correct_model, prompt, item.correct)
        wrong = _planted_answer(session, wrong_model, prompt, item.wrong)
        exists = session.scalar(select(Comparison.id).where(
            Comparison.study_id == study.id, Comparison.generation_a_id == correct.id,
            Comparison.generation_b_id == wrong.id))
        if exists is None:
            session.add(Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=correct.id,
                                   generation_b_id=wrong.id, gold_label="a"))
            added += 1
    session.flush()
    return added
