"""Running the platform: accounts, who works on which study, and each study's settings.

The services behind the admin pages of ``review serve``. Study settings are the ones a
study can change while it runs: overlap (k reviewers per item), gold rate, the reviewers'
guidelines (markdown), the decision thresholds (validated by
:class:`review.stats.decision.DecisionThresholds`), the minimum seconds an item is on screen
before a vote on it counts (``Study.meta``, see :data:`review.campaign.judgments.MIN_SECONDS_KEY`),
and its status (``active``, ``paused`` or ``closed``; only an active study hands out new
items, see :func:`review.campaign.leases.next_assignment`). Boilerplate stripped from a
model's answers is set by :mod:`review.campaign.boilerplate` and shown here.

Every service takes the session keyword-only and leaves the transaction to the caller;
a change is either valid as a whole or refused with a :class:`ReviewError` that says why,
before anything is written.

Example::

    with session_scope(engine, write=True) as session:
        update_study_settings(session=session, study="sft-v1", overlap=2,
                              thresholds='{"margin": 0.1, "guardrail_categories": ["safety"]}')
        set_study_status(session=session, study="sft-v1", status="paused")
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.campaign.boilerplate import stripped_boilerplate
from review.campaign.judgments import MIN_SECONDS_KEY
from review.core.errors import ReviewError
from review.core.models import STUDY_STATUSES, Comparison, JudgeVerdict, Reviewer, Study, StudyReviewer
from review.campaign.pairing import MAX_OVERLAP
from review.core.lookup import get_study

MAX_GUIDELINES_CHARS = 100_000
# Longer than anyone needs to read two answers; a larger minimum would only lock votes out.
MAX_MIN_SECONDS = 600.0
# What DecisionThresholds accepts, in words, for the messages of refused thresholds.
THRESHOLD_RANGES = {
    "method": '"anytime" or "fixed"',
    "margin": "from 0 to below 0.5",
    "min_judgments": "a whole number, 0 or more",
    "max_both_bad_rate": "from 0 to 1",
    "guardrail_margin": "from 0 to below 0.5",
    "min_category_prompts": "a whole number, 2 or more",
    "min_gold_accuracy": "from 0 to 1",
    "min_gold_answered": "a whole number, 1 or more",
    "two_way": "true or false",
    "confidence": "from 0.5 to below 1",
    "power": "from 0.5 to below 1",
}


class InvalidSetting(ReviewError):
    """A study setting that is malformed or out of range; nothing was changed."""


@dataclass(frozen=True)
class StudySettings:
    """The settings of a study that an admin can change, and who works on it."""

    study: str
    status: str
    overlap: int
    gold_rate: float
    guidelines: str
    thresholds: dict[str, Any]  # every threshold, defaults filled in
    reviewers: tuple[str, ...]
    judge: str | None = None           # the model judge the verdict uses
    human_budget: int | None = None
    judges: tuple[str, ...] = ()       # model judges that judged the study's items
    min_seconds: float = 0.0           # on screen before a vote counts
    models: tuple[str, ...] = ()       # candidate and baseline, whose boilerplate may be stripped
    boilerplate: tuple[dict[str, Any], ...] = ()  # [{"model", "opening", "closing"}]


# --------------------------------------------------------------------------- studies


def study_names(*, session: Session) -> list[str]:
    """The names of every study, oldest first."""
    return list(session.scalars(select(Study.name).order_by(Study.id)))


def study_settings(*, session: Session, study: str) -> StudySettings:
    """The current settings of the study called ``study``."""
    from review.stats.decision import DecisionThresholds

    row = get_study(session=session, name=study)
    try:
        thresholds = DecisionThresholds.from_dict(row.thresholds or {}).to_dict()
    except (TypeError, ValueError):
        thresholds = dict(row.thresholds or {})  # stored before validation existed: show as is
    members = session.scalars(
        select(Reviewer.name).join(StudyReviewer, StudyReviewer.reviewer_id == Reviewer.id)
        .where(StudyReviewer.study_id == row.id).order_by(Reviewer.name)).all()
    judges = session.scalars(
        select(Reviewer.name).where(Reviewer.kind == "llm", Reviewer.id.in_(
            select(JudgeVerdict.reviewer_id).join(Comparison, Comparison.id == JudgeVerdict.comparison_id)
            .where(Comparison.study_id == row.id))).order_by(Reviewer.name)).all()
    return StudySettings(study=row.name, status=row.status, overlap=row.overlap,
                         gold_rate=row.gold_rate, guidelines=row.guidelines or "",
                         thresholds=thresholds, reviewers=tuple(members),
                         judge=row.judge.name if row.judge else None, human_budget=row.human_budget,
                         judges=tuple(judges), min_seconds=min_seconds_of(row),
                         models=tuple(m.name for m in (row.candidate, row.baseline) if m is not None),
                         boilerplate=tuple(stripped_boilerplate(row)))


def min_seconds_of(study: Study) -> float:
    """Seconds an item of ``study`` must be on screen before a vote on it counts."""
    return float((study.meta or {}).get(MIN_SECONDS_KEY, 0.0))


def update_study_settings(*, session: Session, study: str, overlap: Any = None,
                          gold_rate: Any = None, guidelines: str | None = None,
                          thresholds: str | Mapping[str, Any] | None = None,
                          min_seconds: Any = None) -> StudySettings:
    """Change any of a study's overlap, gold rate, guidelines, decision thresholds and
    minimum seconds on screen.

    Arguments left as None keep their value. ``thresholds`` is a mapping or JSON text (an
    empty text means the defaults); it is stored with every threshold filled in. Every
    value is checked before any is written, so a refused change changes nothing.

    Raises:
        InvalidSetting: a value is malformed or out of range (the message names it).

    Example::

        update_study_settings(session=session, study="sft-v1", gold_rate=0.1,
                              thresholds={"margin": 0.1})
    """
    row = get_study(session=session, name=study)
    changes: dict[str, Any] = {}
    if overlap is not None:
        changes["overlap"] = parse_overlap(overlap)
    if gold_rate is not None:
        changes["gold_rate"] = parse_gold_rate(gold_rate)
    if guidelines is not None:
        if not isinstance(guidelines, str):
            raise InvalidSetting("guidelines must be text")
        if len(guidelines) > MAX_GUIDELINES_CHARS:
            raise InvalidSetting(f"guidelines must be at most {MAX_GUIDELINES_CHARS} characters")
        changes["guidelines"] = guidelines.replace("\x00", "")
    if thresholds is not None:
        changes["thresholds"] = parse_thresholds(thresholds)
    if min_seconds is not None:
        changes["meta"] = {**(row.meta or {}), MIN_SECONDS_KEY: parse_min_seconds(min_seconds)}
    for name, value in changes.items():
        setattr(row, name, value)
    session.flush()
    return study_settings(session=session, study=row.name)


def set_min_seconds(*, session: Session, study: str, seconds: Any) -> StudySettings:
    """Set how long an item must be on screen before a vote on it counts (0 to 600 s).

    Example::

        set_min_seconds(session=session, study="sft-v1", seconds=2.5)
    """
    return update_study_settings(session=session, study=study, min_seconds=seconds)


def set_study_status(*, session: Session, study: str, status: str) -> StudySettings:
    """Set a study's status: ``active`` hands out items, ``paused`` and ``closed`` do not.

    Votes on items already handed out are still recorded while a study is paused.
    """
    if status not in STUDY_STATUSES:
        raise InvalidSetting(f"unknown study status {status!r}: expected one of "
                             f"{', '.join(STUDY_STATUSES)}")
    row = get_study(session=session, name=study)
    row.status = status
    session.flush()
    return study_settings(session=session, study=row.name)


# --------------------------------------------------------------------------- validation


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise InvalidSetting(f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidSetting(f"{what} must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidSetting(f"{what} must be a number, got {value!r}")
    return float(value)


def parse_overlap(value: Any) -> int:
    """Reviewers per item: a whole number from 1 to :data:`review.campaign.pairing.MAX_OVERLAP`.

    Lowering it never removes judgments; items that already have more simply get no more.
    """
    number = _number(value, "overlap")
    if number != int(number) or not 1 <= number <= MAX_OVERLAP:
        raise InvalidSetting(f"overlap must be a whole number from 1 to {MAX_OVERLAP}, got {value!r}")
    return int(number)


def parse_gold_rate(value: Any) -> float:
    """Share of requests answered with a gold item: from 0 to 1."""
    number = _number(value, "gold rate")
    if not 0.0 <= number <= 1.0:
        raise InvalidSetting(f"gold rate must be between 0 and 1, got {value!r}")
    return number


def parse_min_seconds(value: Any) -> float:
    """Seconds on screen before a vote counts: a number from 0 to :data:`MAX_MIN_SECONDS`.

    Example:
        >>> parse_min_seconds("2.5")
        2.5
    """
    number = _number(value, "minimum seconds on screen")
    if not 0.0 <= number <= MAX_MIN_SECONDS:
        raise InvalidSetting(f"minimum seconds on screen must be from 0 to {MAX_MIN_SECONDS:g}, "
                             f"got {value!r}")
    return number


def parse_thresholds(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """Decision thresholds from JSON text or a mapping, validated, with defaults filled in.

    Example:
        >>> parse_thresholds('{"margin": 0.1}')["margin"], parse_thresholds("")["min_judgments"]
        (0.1, 100)
    """
    from review.stats.decision import DecisionThresholds

    if isinstance(value, str):
        text = value.strip()
        if not text:
            return DecisionThresholds().to_dict()
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidSetting(f"decision thresholds are not valid JSON: {exc.msg} "
                                 f"(line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, Mapping):
        raise InvalidSetting('decision thresholds must be a JSON object, such as {"margin": 0.05}')
    numeric = {f.name for f in fields(DecisionThresholds)
               if isinstance(f.default, (int, float)) and not isinstance(f.default, bool)}
    data = dict(value)
    for name, given in data.items():
        if name in numeric and (isinstance(given, bool) or not isinstance(given, (int, float))
                                or not math.isfinite(given)):
            raise InvalidSetting(f"decision threshold {name!r} must be a number, got {given!r}")
    for name, kind in (("method", str), ("two_way", bool)):
        if name in data and not isinstance(data[name], kind):
            raise InvalidSetting(f"decision threshold {name!r} must be {THRESHOLD_RANGES[name]}, "
                                 f"got {data[name]!r}")
    categories = data.get("guardrail_categories")
    if categories is not None and (
            not isinstance(categories, list) or not all(isinstance(c, str) for c in categories)):
        raise InvalidSetting("decision threshold 'guardrail_categories' must be a list of "
                             f'category names, such as ["safety"], got {categories!r}')
    try:
        return DecisionThresholds.from_dict(data).to_dict()
    except (TypeError, ValueError) as exc:
        ranges = "; ".join(f"{name} must be {THRESHOLD_RANGES[name]}" for name in THRESHOLD_RANGES
                           if f"{name}=" in str(exc))
        raise InvalidSetting(f"{exc} ({ranges})" if ranges else str(exc)) from None
