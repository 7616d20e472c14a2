"""The one mapping from a reviewer's choice to outcomes.

A judgment says which *side* won (``left``, ``right``, ``tie`` or ``both_bad``) and which model
was shown on the left. Every metric in :mod:`review.stats` reads its outcomes from the columns
added here, never from ``choice`` directly, so the left/right swap is decoded in exactly one place.

Two codings are derived:

* **Pair coding** (for agreement and ratings): the item's two models in sorted order,
  ``model_a < model_b``, and ``code`` = :data:`A_WINS`, :data:`B_WINS`, :data:`TIE` or
  :data:`BOTH_BAD`. Two reviewers who preferred the same model agree whatever side it was shown on.
  ``ordinal`` is the 7-point version, ``+strength`` when ``model_a`` wins and ``-strength`` when
  ``model_b`` wins, ``0`` for tie and both_bad. A decisive vote without a strength counts as
  :data:`DEFAULT_STRENGTH` (2, "clearly better"), the middle of the scale, so that a missing
  strength neither inflates nor deflates the ordinal distance to other votes.
* **Candidate coding** (for win rates): ``outcome`` = ``candidate``, ``baseline``, ``tie`` or
  ``both_bad`` and ``score`` = 1, 0, 1/2, 1/2 (ties and both_bad count half a win).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from review.stats.choices import CHOICES, STRENGTHS


A_WINS, B_WINS, TIE, BOTH_BAD = 0, 1, 2, 3
PAIR_CODE_LABELS = ("model_a", "model_b", "tie", "both_bad")

CANDIDATE, BASELINE = "candidate", "baseline"
OUTCOMES = (CANDIDATE, BASELINE, "tie", "both_bad")

DEFAULT_STRENGTH = 2

REQUIRED_COLUMNS = ("item", "rater", "model_left", "model_right", "choice")
OPTIONAL_COLUMNS = (
    "prompt",
    "category",
    "strength",
    "seconds",
    "length_left",
    "length_right",
    "gold",
)

_ENCODED_MARKER = "code"


def encode(judgments: pd.DataFrame) -> pd.DataFrame:
    """Validate judgments and add the outcome columns every metric reads.

    Missing optional columns are added empty; ``prompt`` defaults to ``item``. Added columns:
    ``model_a``, ``model_b`` (the item's models, sorted), ``left_is_a`` (bool), ``code`` (int8,
    see :data:`PAIR_CODE_LABELS`), ``ordinal`` (int8, -3..3), ``left_won`` (1.0 left, 0.0 right,
    NaN for tie and both_bad), ``winner`` (the winning model's name; missing for tie and
    both_bad), ``is_gold`` (bool)
    and ``gold_correct`` (1.0 / 0.0 on gold items, NaN elsewhere). Calling it on an already
    encoded frame returns the frame unchanged.

    Raises ValueError on a missing column or value, an unknown choice, a strength outside 1..3,
    or an item whose judgments do not all compare the same two models.

    Example:
        >>> frame = pd.DataFrame({"item": ["i1"], "rater": ["ann"], "model_left": ["tuned"],
        ...                       "model_right": ["base"], "choice": ["left"]})
        >>> row = encode(frame).iloc[0]
        >>> (row.model_a, row.model_b, int(row.code), row.winner)
        ('base', 'tuned', 1, 'tuned')
    """
    if _ENCODED_MARKER in judgments.columns and "model_a" in judgments.columns:
        return judgments
    missing = [c for c in REQUIRED_COLUMNS if c not in judgments.columns]
    if missing:
        raise ValueError(f"judgments lack required column(s): {', '.join(missing)}")
    empty = [c for c in REQUIRED_COLUMNS if judgments[c].isna().any()]
    if empty:
        raise ValueError(f"judgments have missing values in: {', '.join(empty)}")
    frame = judgments.reset_index(drop=True).copy()
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = frame["item"] if column == "prompt" else None
    frame["prompt"] = frame["prompt"].where(frame["prompt"].notna(), frame["item"])
    # Categorical columns: every metric works on their integer codes, and selecting rows of a
    # million-judgment frame copies codes rather than strings.
    # Items and prompts keep the order in which they first appear, so that the bootstrap
    # draws the same resamples for the same judgments whatever ids the items carry (an
    # exported and re-imported study gets new ids but keeps its order).
    for column in ("item", "prompt"):
        frame[column] = _categorical(frame[column], ordered_by_appearance=True)
    for column in ("rater", "category"):
        frame[column] = _categorical(frame[column])

    chose = _choices(frame["choice"])
    strength_values = _strengths(frame["strength"])

    left_codes, left_names = pd.factorize(frame["model_left"].astype(str))
    right_codes, right_names = pd.factorize(frame["model_right"].astype(str))
    models = pd.Index(sorted(set(left_names) | set(right_names)))
    left = models.get_indexer(left_names)[left_codes]
    right = models.get_indexer(right_names)[right_codes]
    left_is_a = left <= right
    frame["model_left"] = pd.Categorical.from_codes(left, categories=models)
    frame["model_right"] = pd.Categorical.from_codes(right, categories=models)
    frame["model_a"] = pd.Categorical.from_codes(np.where(left_is_a, left, right), categories=models)
    frame["model_b"] = pd.Categorical.from_codes(np.where(left_is_a, right, left), categories=models)
    frame["left_is_a"] = left_is_a
    _check_items_have_one_pair(frame)

    is_left, is_right = chose["left"], chose["right"]
    decisive = is_left | is_right
    a_won = (is_left & left_is_a) | (is_right & ~left_is_a)
    code = np.select(
        [decisive & a_won, decisive & ~a_won, chose["tie"]],
        [A_WINS, B_WINS, TIE],
        default=BOTH_BAD,
    ).astype(np.int8)
    frame["code"] = code
    size = np.where(np.isnan(strength_values), DEFAULT_STRENGTH, strength_values).astype(np.int8)
    frame["ordinal"] = np.where(decisive, np.where(a_won, size, -size), 0).astype(np.int8)
    frame["left_won"] = np.where(is_left, 1.0, np.where(is_right, 0.0, np.nan))
    winner = np.where(is_left, left, np.where(is_right, right, -1))
    frame["winner"] = pd.Categorical.from_codes(winner, categories=models)

    gold_codes, gold_names = pd.factorize(frame["gold"])
    gold_names = np.asarray(gold_names, dtype=object).astype(str)
    is_gold = gold_codes >= 0
    frame["is_gold"] = is_gold
    # Index -1 (no gold answer) picks the element appended at the end of each lookup.
    gold_model = np.append(models.get_indexer(gold_names), -2)[gold_codes]
    gold_tie = np.append(gold_names == "tie", False)[gold_codes]
    gold_both_bad = np.append(gold_names == "both_bad", False)[gold_codes]
    correct = np.where(
        chose["tie"],
        gold_tie,
        np.where(chose["both_bad"], gold_both_bad, gold_model == winner),
    )
    frame["gold_correct"] = np.where(is_gold, correct.astype(float), np.nan)
    frame["seconds"] = pd.to_numeric(frame["seconds"], errors="coerce").astype(float)
    for column in ("length_left", "length_right"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _choices(choice: pd.Series) -> dict[str, np.ndarray]:
    """Per choice of :data:`CHOICES`, which rows made it (the column has no missing value)."""
    codes, found = pd.factorize(choice)
    names = [str(name) for name in found]
    unknown = sorted(set(names) - set(CHOICES))
    if unknown:
        raise ValueError(f"unknown choice(s) {unknown}; expected one of {list(CHOICES)}")
    return {name: codes == (names.index(name) if name in names else -1) for name in CHOICES}


def _strengths(strength: pd.Series) -> np.ndarray:
    """Each vote's strength as a float, NaN where there is none."""
    strength = pd.to_numeric(strength, errors="coerce").astype("Float64")
    values = strength.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isnan(values) & ~np.isin(values, list(STRENGTHS))
    if bad.any():
        raise ValueError(f"strength must be 1, 2 or 3; got {strength[bad].iloc[0]}")
    return values


def _categorical(values: pd.Series, *, ordered_by_appearance: bool = False) -> pd.Categorical:
    """Values as strings in a categorical (categories sorted, or in order of first
    appearance); missing stays missing."""
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype(object).astype(str).where(values.notna())
    codes, categories = pd.factorize(values, sort=not ordered_by_appearance)
    return pd.Categorical.from_codes(codes, categories=categories)


def candidate_outcomes(encoded: pd.DataFrame, candidate: str, baseline: str) -> pd.DataFrame:
    """The non-gold judgments of items comparing exactly ``candidate`` and ``baseline``.

    Adds ``outcome`` (one of :data:`OUTCOMES`), ``score`` (1, 0, 1/2, 1/2), ``candidate_left``
    (bool), ``length_candidate`` and ``length_baseline``.

    Example:
        >>> frame = encode(pd.DataFrame({"item": ["i1", "i1"], "rater": ["ann", "bob"],
        ...     "model_left": ["tuned", "base"], "model_right": ["base", "tuned"],
        ...     "choice": ["left", "right"]}))
        >>> candidate_outcomes(frame, "tuned", "base")["outcome"].tolist()
        ['candidate', 'candidate']
    """
    encoded = encode(encoded)
    low, high = sorted((str(candidate), str(baseline)))
    models = encoded["model_a"].cat.categories
    low_code, high_code = models.get_indexer([low, high])
    mask = (
        (encoded["model_a"].cat.codes.to_numpy() == low_code)
        & (encoded["model_b"].cat.codes.to_numpy() == high_code)
        & ~encoded["is_gold"].to_numpy()
        & (low != high)
        & (low_code >= 0)
        & (high_code >= 0)
    )
    subset = encoded.loc[mask].copy()
    candidate_is_a = str(candidate) == low
    code = subset["code"].to_numpy()
    won = code == (A_WINS if candidate_is_a else B_WINS)
    lost = code == (B_WINS if candidate_is_a else A_WINS)
    subset["outcome"] = np.select(
        [won, lost, code == TIE], [CANDIDATE, BASELINE, "tie"], default="both_bad"
    )
    subset["score"] = np.where(won, 1.0, np.where(lost, 0.0, 0.5))
    candidate_left = subset["left_is_a"].to_numpy() == candidate_is_a
    subset["candidate_left"] = candidate_left
    length_left = subset["length_left"].to_numpy()
    length_right = subset["length_right"].to_numpy()
    subset["length_candidate"] = np.where(candidate_left, length_left, length_right)
    subset["length_baseline"] = np.where(candidate_left, length_right, length_left)
    return subset


def side_chosen(choice: str, left, right):  # noqa: ANN001, ANN201 - any pair of values
    """What was shown on the side a vote chose: ``left`` or ``right``; None for tie and both_bad.

    The scalar form of the decoding above, for code that handles one vote at a time.

    Example:
        >>> side_chosen("right", "tuned", "base"), side_chosen("tie", "tuned", "base")
        ('base', None)
    """
    if choice not in CHOICES:
        raise ValueError(f"unknown choice {choice!r}; expected one of {list(CHOICES)}")
    return left if choice == "left" else right if choice == "right" else None


def _check_items_have_one_pair(frame: pd.DataFrame) -> None:
    n_models = len(frame["model_a"].cat.categories) + 1
    pair = frame["model_a"].cat.codes.to_numpy(np.int64) * n_models + frame["model_b"].cat.codes
    bounds = pd.Series(pair.to_numpy()).groupby(frame["item"].cat.codes.to_numpy()).agg(
        ["min", "max"]
    )
    mixed = bounds.index[bounds["min"].to_numpy() != bounds["max"].to_numpy()]
    if len(mixed):
        item = frame["item"].cat.categories[mixed[0]]
        raise ValueError(
            f"item {item!r} has judgments comparing different model pairs; "
            "an item compares exactly two models"
        )
