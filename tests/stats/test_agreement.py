"""Agreement coefficients against published worked examples and hand counts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from review.stats import (
    fleiss_kappa,
    krippendorff_alpha,
    krippendorff_alpha_interval,
    pairwise_cohen_kappa,
    percent_agreement,
)
from review.stats.agreement import _pairable, alpha_of_resamples, ratings_from_long

NAN = np.nan

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. University of
# Pennsylvania, Annenberg School for Communication, Departmental Papers 43: the example with
# 4 observers (rows), 12 units (columns) and missing values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
# Bulletin 76(5), as reproduced on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters,
# 5 categories; each row counts the raters who chose each category. kappa = 0.210.
FLEISS_1971 = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def long_from_matrix(matrix) -> pd.DataFrame:
    rows = [
        (unit, f"observer-{observer}", value)
        for observer, values in enumerate(matrix)
        for unit, value in enumerate(values)
        if not np.isnan(value)
    ]
    return pd.DataFrame(rows, columns=["item", "rater", "value"])


def long_from_counts(counts) -> pd.DataFrame:
    rows = []
    for subject, row in enumerate(counts):
        raters = itertools.count()
        for category, count in enumerate(row):
            rows += [(subject, f"r{next(raters)}", category) for _ in range(count)]
    return pd.DataFrame(rows, columns=["item", "rater", "value"])


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_worked_example(level, expected):
    # Published to three decimals.
    assert krippendorff_alpha(long_from_matrix(KRIPPENDORFF_2011), level) == pytest.approx(
        expected, abs=5e-4
    )


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_vectorised_bootstrap_formula_equals_the_package_on_the_sample(level):
    # The interval's closed form, evaluated at the original sample (every item once), must be
    # the package's alpha.
    long = long_from_matrix(KRIPPENDORFF_2011)
    counts, domain = _pairable(ratings_from_long(long), level)
    patterns, frequency = np.unique(counts, axis=0, return_counts=True)
    value = alpha_of_resamples(patterns, frequency, domain, level)[0]
    assert value == pytest.approx(krippendorff_alpha(long, level), abs=1e-12)


def test_krippendorff_interval_is_seeded_and_brackets_the_estimate():
    long = long_from_matrix(KRIPPENDORFF_2011)
    first = krippendorff_alpha_interval(long, "nominal", n_bootstrap=500, seed=1)
    assert first == krippendorff_alpha_interval(long, "nominal", n_bootstrap=500, seed=1)
    assert first[0] < 0.743 < first[1]


def test_fleiss_1971_example():
    # P-bar = 0.378, P_e = 0.213, kappa = (0.378 - 0.213) / (1 - 0.213) = 0.210
    assert fleiss_kappa(long_from_counts(FLEISS_1971)) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_with_unequal_numbers_of_ratings():
    # i1: a a b -> P = (2*1 + 0) / (3*2) = 1/3; i2: a a -> P = 1; i3: one rating, left out.
    # P-bar = 2/3; shares over the 5 ratings of i1, i2: a 4/5, b 1/5 -> P_e = 17/25.
    # kappa = (2/3 - 17/25) / (1 - 17/25) = -1/24
    long = pd.DataFrame(
        {"item": [1, 1, 1, 2, 2, 3], "rater": ["x", "y", "z", "x", "y", "x"],
         "value": ["a", "a", "b", "a", "a", "b"]}
    )
    assert fleiss_kappa(long) == pytest.approx(-1 / 24, abs=1e-12)


def test_cohen_kappa_wikipedia_example():
    # Wikipedia, "Cohen's kappa": 50 grant proposals, both yes 20, A yes B no 5, A no B yes 10,
    # both no 15. p_o = 35/50 = 0.7; p_e = (25*30 + 25*20) / 50^2 = 0.5; kappa = 0.4.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    rows = [(i, "A", a) for i, (a, _) in enumerate(pairs)] + [(i, "B", b) for i, (_, b) in enumerate(pairs)]
    table = pairwise_cohen_kappa(pd.DataFrame(rows, columns=["item", "rater", "value"]))
    assert table.to_dict("records") == [{"rater_a": "A", "rater_b": "B", "kappa": pytest.approx(0.4), "n": 50}]


def test_pairwise_cohen_kappa_equals_scikit_learn_for_every_pair():
    rng = np.random.default_rng(5)
    rows = []
    for item in range(120):
        truth = rng.integers(0, 4)
        for rater in rng.choice(6, size=rng.integers(1, 5), replace=False):
            value = truth if rng.random() < 0.6 else rng.integers(0, 4)
            rows.append((item, f"r{rater}", ["a", "b", "tie", "both_bad"][value]))
    long = pd.DataFrame(rows, columns=["item", "rater", "value"])
    table = pairwise_cohen_kappa(long)
    wide = long.pivot(index="item", columns="rater", values="value")
    assert len(table) == 15
    for row in table.itertuples():
        both = wide[[row.rater_a, row.rater_b]].dropna()
        assert row.n == len(both)
        expected = cohen_kappa_score(both[row.rater_a], both[row.rater_b])
        assert row.kappa == pytest.approx(expected, abs=1e-12)


def test_percent_agreement_by_hand():
    # i1: a a b -> 3 pairs, 1 agrees; i2: a tie -> 1 pair, disagrees; i3: tie tie -> agrees.
    # With ties: (1 + 0 + 1) / (3 + 1 + 1) = 0.4. Without ties, i2's and i3's pairs are
    # dropped: 1 / 3.
    long = pd.DataFrame(
        {"item": [1, 1, 1, 2, 2, 3, 3], "rater": ["x", "y", "z", "x", "y", "x", "y"],
         "value": ["a", "a", "b", "a", "tie", "tie", "tie"]}
    )
    assert percent_agreement(long) == pytest.approx(0.4)
    assert percent_agreement(long, ignore={"tie"}) == pytest.approx(1 / 3)


def test_undefined_agreement_is_none():
    single = pd.DataFrame({"item": [1, 2], "rater": ["x", "x"], "value": ["a", "b"]})
    assert krippendorff_alpha(single) is None
    assert fleiss_kappa(single) is None
    assert percent_agreement(single) is None
    assert pairwise_cohen_kappa(single).empty
    unanimous = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["x", "y"] * 2, "value": ["a"] * 4})
    assert krippendorff_alpha(unanimous) is None
    assert fleiss_kappa(unanimous) is None
    assert pairwise_cohen_kappa(unanimous)["kappa"].tolist() == [None]
    assert percent_agreement(unanimous) == 1.0


def test_missing_values_are_not_ratings():
    long = pd.DataFrame({"item": [1, 1, 1], "rater": ["x", "y", "z"], "value": ["a", "a", None]})
    assert percent_agreement(long) == 1.0


def test_repeated_ratings_are_rejected():
    long = pd.DataFrame({"item": [1, 1], "rater": ["x", "x"], "value": ["a", "b"]})
    with pytest.raises(ValueError, match="more than once"):
        krippendorff_alpha(long)


def test_ordered_levels_need_numbers():
    long = pd.DataFrame({"item": [1, 1], "rater": ["x", "y"], "value": ["a", "b"]})
    with pytest.raises(ValueError, match="numeric"):
        krippendorff_alpha(long, "ordinal")
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(long, "cardinal")
