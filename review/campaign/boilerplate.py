"""Boilerplate stripped from one model's answers before reviewers see them.

A fine-tune that opens (or closes) nearly every answer with the same sentence gives itself
away, and the study is no longer blind (:mod:`review.stats.identifiability` flags it and names
the sentence). An admin can set a fixed opening and/or closing text per model of a study; it is
stored in ``Study.meta["boilerplate"]`` as ``{model name: {"model_id", "opening", "closing"}}``
and applied wherever a reviewer gets an answer (:mod:`review.campaign.screen`) and to the
answers the identifiability check reads. The stored generations never change: exports and
the report's items keep the models' own words.

Only an exact match at the very start (or end) of the answer is removed, then the white space
after (or before) it; an answer that would be left empty is shown whole.

Example::

    set_boilerplate(session=session, study="sft-v1", model="sft",
                    opening="Hi, thanks for contacting Lumora Support!")
    study_answers(session=session, study=study)   # the answers as reviewers see them
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.lookup import get_study
from review.core.models import Comparison, Model, Prompt, Study
from review.core.queries import PairedItems, regular_item

BOILERPLATE_KEY = "boilerplate"
SIDES = ("opening", "closing")
MAX_BOILERPLATE_CHARS = 1000


class InvalidBoilerplate(ReviewError):
    """Boilerplate that cannot be set (unknown model, bad text); nothing was changed."""


@dataclass(frozen=True)
class Boilerplate:
    """What is stripped from one model's answers in a study, and how many answers it changes."""

    model: str
    opening: str | None
    closing: str | None
    answers: int = 0   # the model's answers in the study
    changed: int = 0   # of them, those that lose text

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "opening": self.opening, "closing": self.closing,
                "answers": self.answers, "changed": self.changed}


def strip_boilerplate(text: str, opening: str | None = None, closing: str | None = None) -> str:
    """``text`` without an exact leading ``opening`` and trailing ``closing``.

    White space around the match goes with it; when nothing would be left, ``text`` is
    returned whole (an empty answer would look broken and give the model away as well).

    Example:
        >>> strip_boilerplate("Hi there! Press the ring. Anything else?", "Hi there!", "Anything else?")
        'Press the ring.'
        >>> strip_boilerplate("Hi there, press the ring.", "Hi there!")
        'Hi there, press the ring.'
    """
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if opening and stripped.startswith(opening):
        stripped = stripped[len(opening):].lstrip()
    if closing and stripped.endswith(closing):
        stripped = stripped[:len(stripped) - len(closing)].rstrip()
    return stripped if stripped and stripped != text.strip() else text


def boilerplate_of(study: Study) -> dict[int, tuple[str | None, str | None]]:
    """The study's boilerplate by model id: ``{model_id: (opening, closing)}`` (may be empty)."""
    stored = (study.meta or {}).get(BOILERPLATE_KEY) or {}
    return {int(entry["model_id"]): (entry.get("opening") or None, entry.get("closing") or None)
            for entry in stored.values() if isinstance(entry, Mapping) and "model_id" in entry}


def strip_for_model(study: Study, model_id: int, text: str) -> str:
    """One answer of model ``model_id`` as the study's reviewers see it."""
    opening, closing = boilerplate_of(study).get(model_id, (None, None))
    return strip_boilerplate(text, opening, closing) if opening or closing else text


def stripped_boilerplate(study: Study) -> list[dict[str, str | None]]:
    """``[{"model", "opening", "closing"}]``: what the study strips, for reports and screens."""
    stored = (study.meta or {}).get(BOILERPLATE_KEY) or {}
    return [{"model": name, "opening": entry.get("opening") or None,
             "closing": entry.get("closing") or None}
            for name, entry in sorted(stored.items()) if isinstance(entry, Mapping)
            and (entry.get("opening") or entry.get("closing"))]


def study_answers(*, session: Session, study: Study, stripped: bool = True) -> pd.DataFrame:
    """Both answers of every regular item of the study's candidate and baseline: ``prompt``,
    ``model``, ``text`` (empty without a candidate and baseline); ``stripped``: as reviewers
    see them."""
    columns = ["prompt", "model", "text"]
    if study.candidate_model_id is None or study.baseline_model_id is None:
        return pd.DataFrame(columns=columns)
    pair = (study.candidate_model_id, study.baseline_model_id)
    items = PairedItems()
    rows = session.execute(
        items.select_items(Prompt.external_id, items.model_a.id, items.model_a.name, items.gen_a.output,
                           items.model_b.id, items.model_b.name, items.gen_b.output)
        .where(Comparison.study_id == study.id, regular_item(),
               items.gen_a.model_id.in_(pair), items.gen_b.model_id.in_(pair))).all()
    records = [(prompt, name, strip_for_model(study, model_id, text) if stripped else text)
               for prompt, id_a, name_a, text_a, id_b, name_b, text_b in rows
               for model_id, name, text in ((id_a, name_a, text_a), (id_b, name_b, text_b))]
    return pd.DataFrame.from_records(records, columns=columns)


def _text(value: Any, side: str) -> str | None:
    """A side's text as given: None keeps it, "" clears it, otherwise it is checked."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidBoilerplate(f"the {side} must be text")
    text = value.replace("\x00", "").strip()
    if len(text) > MAX_BOILERPLATE_CHARS:
        raise InvalidBoilerplate(f"the {side} must be at most {MAX_BOILERPLATE_CHARS} characters")
    return text


def _study_model(study: Study, model: str) -> Model:
    models = {m.name: m for m in (study.candidate, study.baseline) if m is not None}
    if model not in models:
        names = " and ".join(sorted(models)) or "none"
        raise InvalidBoilerplate(f"study {study.name!r} compares {names}, not {model!r}")
    return models[model]


def _summary(session: Session, study: Study, model: Model) -> Boilerplate:
    entry = ((study.meta or {}).get(BOILERPLATE_KEY) or {}).get(model.name) or {}
    opening, closing = entry.get("opening") or None, entry.get("closing") or None
    texts = study_answers(session=session, study=study, stripped=False)
    mine = texts.loc[texts["model"] == model.name, "text"].dropna().astype(str)
    changed = sum(strip_boilerplate(t, opening, closing) != t for t in mine)
    return Boilerplate(model=model.name, opening=opening, closing=closing, answers=len(mine),
                       changed=int(changed))


def set_boilerplate(*, session: Session, study: str, model: str, opening: str | None = None,
                    closing: str | None = None) -> Boilerplate:
    """Strip ``opening`` and/or ``closing`` from ``model``'s answers in ``study`` from now on.

    A side left None keeps its text; an empty text stops stripping that side. The model must
    be the study's candidate or baseline.

    Raises:
        NotFound: no such study.
        InvalidBoilerplate: the model is not in the study, nothing was given, or a text is too long.
    """
    row = get_study(session=session, name=study)
    target = _study_model(row, model)
    given = {side: _text(value, side) for side, value in zip(SIDES, (opening, closing), strict=True)}
    if all(value is None for value in given.values()):
        raise InvalidBoilerplate("give an opening or a closing text to strip (an empty text stops it)")
    stored = dict((row.meta or {}).get(BOILERPLATE_KEY) or {})
    entry = {side: (stored.get(target.name) or {}).get(side) for side in SIDES}
    entry.update({side: value or None for side, value in given.items() if value is not None})
    if entry["opening"] or entry["closing"]:
        stored[target.name] = {"model_id": target.id, **entry}
    else:
        stored.pop(target.name, None)
    _store(row, stored)
    session.flush()
    return _summary(session, row, target)


def clear_boilerplate(*, session: Session, study: str, model: str) -> Boilerplate:
    """Stop stripping anything from ``model``'s answers in ``study``."""
    row = get_study(session=session, name=study)
    target = _study_model(row, model)
    stored = dict((row.meta or {}).get(BOILERPLATE_KEY) or {})
    stored.pop(target.name, None)
    _store(row, stored)
    session.flush()
    return _summary(session, row, target)


def _store(study: Study, stored: dict[str, Any]) -> None:
    # A new dict, so that the JSON column sees the change.
    meta = {key: value for key, value in (study.meta or {}).items() if key != BOILERPLATE_KEY}
    study.meta = {**meta, BOILERPLATE_KEY: stored} if stored else meta


def suggested_boilerplate(*, session: Session, study: str) -> list[dict[str, Any]]:
    """The sentences worth stripping, from the study's answers as the models wrote them
    (:func:`review.stats.identifiability.shared_sentences`)."""
    from review.stats.identifiability import shared_sentences

    row = get_study(session=session, name=study)
    return shared_sentences(study_answers(session=session, study=row, stripped=False))
