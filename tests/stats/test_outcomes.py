"""The one mapping from choices to outcomes: left/right swaps never change who won."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from review.stats import candidate_outcomes, encode
from review.stats.outcomes import A_WINS, B_WINS, BOTH_BAD, TIE


def test_swapping_sides_and_choice_gives_the_same_pair_code(make_judgments):
    # "tuned" preferred, once shown left and once shown right: the same vote for the pair
    # (base, tuned) in sorted order, i.e. model_b ("tuned") wins both times.
    frame = encode(make_judgments([
        ("i1", "ann", "tuned", "base", "left"),
        ("i1", "bob", "base", "tuned", "right"),
    ]))
    assert frame["model_a"].tolist() == ["base", "base"]
    assert frame["model_b"].tolist() == ["tuned", "tuned"]
    assert frame["code"].tolist() == [B_WINS, B_WINS]
    assert frame["winner"].tolist() == ["tuned", "tuned"]
    assert frame["left_won"].tolist() == [1.0, 0.0]


def test_every_choice_maps_to_its_code_and_ordinal(make_judgments):
    frame = encode(make_judgments(
        [
            ("i1", "a", "x", "y", "left"),      # x = model_a wins, strength 3 -> +3
            ("i1", "b", "y", "x", "left"),      # y = model_b wins, strength 1 -> -1
            ("i1", "c", "y", "x", "right"),     # x wins, no strength -> +2 (default)
            ("i1", "d", "x", "y", "tie"),       # 0
            ("i1", "e", "x", "y", "both_bad"),  # 0
        ],
        strength=pd.array([3, 1, pd.NA, pd.NA, pd.NA], dtype="Int64"),
    ))
    assert frame["code"].tolist() == [A_WINS, B_WINS, A_WINS, TIE, BOTH_BAD]
    assert frame["ordinal"].tolist() == [3, -1, 2, 0, 0]


def test_candidate_outcomes_are_relative_to_the_candidate_whatever_the_side(make_judgments):
    frame = make_judgments([
        ("i1", "ann", "tuned", "base", "left"),     # candidate
        ("i1", "bob", "base", "tuned", "left"),     # baseline
        ("i2", "ann", "base", "tuned", "right"),    # candidate
        ("i2", "bob", "tuned", "base", "tie"),
        ("i3", "ann", "base", "tuned", "both_bad"),
        ("i4", "ann", "tuned", "other", "left"),    # another pair: left out
    ])
    outcomes = candidate_outcomes(frame, "tuned", "base")
    assert outcomes["outcome"].tolist() == ["candidate", "baseline", "candidate", "tie", "both_bad"]
    assert outcomes["score"].tolist() == [1.0, 0.0, 1.0, 0.5, 0.5]
    assert outcomes["candidate_left"].tolist() == [True, False, False, True, False]
    # The same judgments seen from the other model are the mirror image.
    mirrored = candidate_outcomes(frame, "base", "tuned")
    assert mirrored["score"].tolist() == [0.0, 1.0, 0.0, 0.5, 0.5]


def test_gold_correctness(make_judgments):
    frame = encode(make_judgments(
        [
            ("g1", "ann", "good", "bad", "left"),    # expected "good": right
            ("g1", "bob", "bad", "good", "left"),    # picked "bad": wrong
            ("g2", "ann", "good", "bad", "tie"),     # expected tie: right
            ("g3", "ann", "good", "bad", "tie"),     # expected both_bad: wrong
            ("i1", "ann", "good", "bad", "left"),    # not gold
        ],
        gold=["good", "good", "tie", "both_bad", None],
    ))
    assert frame["is_gold"].tolist() == [True, True, True, True, False]
    assert frame["gold_correct"].tolist()[:4] == [1.0, 0.0, 1.0, 0.0]
    assert np.isnan(frame["gold_correct"].iloc[4])


def test_missing_optional_columns_are_filled(make_judgments):
    frame = encode(make_judgments([("i1", "ann", "x", "y", "left")]))
    assert frame["prompt"].tolist() == ["i1"]
    assert np.isnan(frame["length_left"].iloc[0])
    assert not frame["is_gold"].iloc[0]


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ([("i1", "ann", "x", "y", "maybe")], {}, "unknown choice"),
        ([("i1", "ann", "x", "y", "left")], {"strength": [5]}, "strength"),
        ([("i1", "ann", "x", "y", "left"), ("i1", "bob", "x", "z", "left")], {}, "different model pairs"),
    ],
)
def test_invalid_judgments_are_rejected(make_judgments, rows, extra, message):
    with pytest.raises(ValueError, match=message):
        encode(make_judgments(rows, **extra))


def test_missing_model_name_is_rejected(make_judgments):
    with pytest.raises(ValueError, match="model_right"):
        encode(make_judgments([("i1", "ann", "x", None, "left")]))


def test_missing_required_column_is_rejected():
    with pytest.raises(ValueError, match="choice"):
        encode(pd.DataFrame({"item": ["i1"], "rater": ["a"], "model_left": ["x"], "model_right": ["y"]}))
