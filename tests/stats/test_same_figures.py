"""The faster code of review.stats gives every figure of the straightforward code it replaced,
to the last bit: the whole ``analyze`` document of a seeded study of 20,040 judgments, and each
replaced function on its own (the references are in tests/stats/reference.py).

Both sides run here, on the same machine: BLAS and numpy's vectorised math may round
differently on another processor or with another number of threads, so a document stored once
would not be a fair reference everywhere.
"""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

import review.stats.sequential
from review.stats import AnalysisOptions, analyze
from review.stats.bootstrap import distinct_rows, resample_patterns
from review.stats.coincidences import CHUNK_UNITS, package_alpha
from review.stats.reviewers import loo_majority_agreement
from review.stats.sequential import completed_prompts, confidence_sequence

from . import reference


def medium_study(n_items: int = 2_000, per_item: int = 10, n_reviewers: int = 12,
                 n_models: int = 4, seed: int = 7) -> pd.DataFrame:
    """Models of increasing strength on prompts of five items, 2% gold items, strengths (some
    missing), lengths, four categories, judgments arriving in a shuffled order, and 40 repeated
    votes."""
    rng = np.random.default_rng(seed)
    models = np.array([f"model-{m}" for m in range(n_models)], dtype=object)
    strength = np.linspace(0.0, 0.8, n_models)
    first = rng.integers(0, n_models, n_items)
    second = (first + rng.integers(1, n_models, n_items)) % n_models
    duel = rng.random(n_items) < 0.3
    first[duel], second[duel] = 1, 0
    prompt = np.arange(n_items) // 5
    row_item = np.repeat(np.arange(n_items), per_item)
    edge = (strength[first] - strength[second] + rng.normal(0, 0.8, prompt.max() + 1)[prompt]
            + rng.normal(0, 1.0, n_items))[row_item] + rng.normal(0, 0.3, len(row_item))
    gold_item = rng.random(n_items) < 0.02
    p_first = np.where(gold_item[row_item], 0.95, 1 / (1 + np.exp(-edge)))
    u = rng.random(len(row_item))
    outcome = np.where(u < 0.08, 2, np.where(u < 0.12, 3, np.where(rng.random(len(u)) < p_first, 0, 1)))
    first_left = rng.random(len(row_item)) < 0.5
    winner_left = np.where(outcome == 0, first_left, ~first_left)
    choice = np.where(outcome == 2, "tie", np.where(outcome == 3, "both_bad",
                                                    np.where(winner_left, "left", "right")))
    votes = pd.array(np.where(outcome < 2, rng.integers(1, 4, len(u)), 0), dtype="Int64")
    votes[(outcome >= 2) | (rng.random(len(u)) < 0.05)] = pd.NA
    a, b = models[first[row_item]], models[second[row_item]]
    length_a = rng.integers(200, 2500, n_items)[row_item]
    length_b = rng.integers(200, 2500, n_items)[row_item]
    raters = np.argsort(rng.random((n_items, n_reviewers)), axis=1)[:, :per_item].ravel()
    categories = np.array(["writing", "math", "coding", "safety"], dtype=object)
    frame = pd.DataFrame({
        "item": [f"item-{i:05d}" for i in row_item],
        "prompt": [f"prompt-{p:04d}" for p in prompt[row_item]],
        "category": categories[prompt[row_item] % len(categories)],
        "rater": [f"reviewer-{r:02d}" for r in raters],
        "model_left": np.where(first_left, a, b),
        "model_right": np.where(first_left, b, a),
        "choice": choice,
        "strength": votes,
        "seconds": rng.lognormal(3.0, 0.8, len(u)),
        "length_left": pd.array(np.where(first_left, length_a, length_b), dtype="Int64"),
        "length_right": pd.array(np.where(first_left, length_b, length_a), dtype="Int64"),
        "gold": np.where(gold_item, models[first], None)[row_item],
    })
    order = np.argsort(np.arange(len(frame)) // 500 + rng.random(len(frame)) * 3, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    repeat = frame.iloc[:40].copy()
    repeat["choice"] = "tie"
    repeat["strength"] = pd.NA
    return pd.concat([frame, repeat], ignore_index=True)


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return medium_study()


OPTIONS = {
    "anytime, guardrails, planned": dict(
        candidate="model-1", baseline="model-0", n_bootstrap=300, seed=3, overlap=10, planned_items=3000,
        thresholds={"guardrail_categories": ["math", "safety"], "margin": 0.02}),
    "fixed, guardrails": dict(candidate="model-1", baseline="model-0", n_bootstrap=300, seed=3,
                              thresholds={"method": "fixed", "guardrail_categories": ["math", "safety"]}),
    "two-way, other pair": dict(candidate="model-0", baseline="model-2", n_bootstrap=200, seed=1,
                                thresholds={"method": "fixed", "two_way": True}),
    "no candidate": dict(candidate=None, baseline=None, n_bootstrap=200, seed=5),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_analyze_gives_the_same_document_to_the_last_bit(study, monkeypatch, name):
    options = AnalysisOptions(**OPTIONS[name])
    faster = json.dumps(analyze(study, options), sort_keys=True)
    with monkeypatch.context() as patch:
        reference.use_references(patch)
        straightforward = json.dumps(analyze(study, options), sort_keys=True)
    assert faster == straightforward
    assert json.loads(faster)["n_judgments"] == 20_040


@pytest.mark.parametrize("rows", [
    np.array([[3, 1], [0, 2], [3, 1], [-2, 5]]),
    np.random.default_rng(0).integers(0, 4, size=(5_000, 8)),
    np.random.default_rng(1).integers(0, 3, size=(300, 5)).astype(np.uint8),
    np.random.default_rng(2).integers(-2**40, 2**40, size=(200, 3)),  # too wide: numpy itself
    np.random.default_rng(3).random((50, 2)).round(1),  # floats: numpy itself
])
def test_distinct_rows_are_numpy_unique_rows(rows):
    patterns, inverse, frequency = distinct_rows(rows)
    expected = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    assert patterns.dtype == expected[0].dtype
    np.testing.assert_array_equal(patterns, expected[0])
    np.testing.assert_array_equal(inverse, expected[1].reshape(-1))
    np.testing.assert_array_equal(frequency, expected[2])


@pytest.mark.parametrize(("n", "values"), [(2_000, 3), (2_000, 40), (30_000, 200), (7, 2)])
def test_resampled_patterns_are_the_same(n, values):
    # Few patterns: one multinomial draw per round; many: one draw per cluster and round.
    summaries = np.random.default_rng(n).integers(0, values, size=(n, 2))
    ours = resample_patterns(summaries, 257, np.random.default_rng(9))
    theirs = reference.resample_patterns(summaries, 257, np.random.default_rng(9))
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("units", [50, CHUNK_UNITS + 1, 3 * CHUNK_UNITS + 17])
def test_chunked_alpha_is_the_package_alpha(level, order, units):
    counts = np.random.default_rng(units).integers(0, 4, size=(units, 5))
    counts = np.asarray(counts[counts.sum(axis=1) >= 2], order=order)
    domain = np.array([1, 2, 4, 7, 11])
    expected = krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level)
    assert package_alpha(counts, domain, level) == expected


@pytest.mark.parametrize("chunk_cells", [review.stats.sequential.CHUNK_CELLS, 5_000])
@pytest.mark.parametrize(("mean", "alpha"), [(0.7, 0.05), (0.5, 0.05), (0.3, 0.01), (0.55, 0.1)])
def test_confidence_sequence_is_the_same(monkeypatch, chunk_cells, mean, alpha):
    monkeypatch.setattr(review.stats.sequential, "CHUNK_CELLS", chunk_cells)
    x = np.clip(np.random.default_rng(int(mean * 100)).normal(mean, 0.25, 3_000), 0, 1)
    ours = confidence_sequence(x, alpha)
    theirs = reference.confidence_sequence(x, alpha)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_leave_one_out_majority_and_completed_prompts_are_the_same():
    rng = np.random.default_rng(4)
    item, code = rng.integers(0, 500, 4_000), rng.integers(0, 4, 4_000)
    np.testing.assert_array_equal(loo_majority_agreement(item, code),
                                  reference.loo_majority_agreement(item, code))
    scores = rng.choice([0.0, 0.5, 1.0], 4_000)
    prompts = np.array([f"p{p}" for p in rng.integers(0, 700, 4_000)], dtype=object)
    need = rng.integers(1, 6, 4_000)
    for k in (3, need):
        ours, theirs = completed_prompts(scores, prompts, k), reference.completed_prompts(scores, prompts, k)
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])
