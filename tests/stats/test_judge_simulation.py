"""The model-judge simulation of benchmarks/judge.py, with fewer repetitions: PPI and active
selection cover, a good judge saves what theory allows, a useless one costs nothing. The
2,000-repetition figures are in docs/statistics.md."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_SPEC = importlib.util.spec_from_file_location(
    "judge_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "judge.py")
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["judge_benchmark"] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)


@pytest.fixture(scope="module")
def good_judge():
    return bench.Judge("90% judge", bench.tune_noise(0.90, seed=7))


def test_the_simulated_judge_agrees_with_the_majority_as_tuned(good_judge):
    assert bench.majority_agreement(good_judge, np.random.default_rng(1), n=50_000) == pytest.approx(0.90, abs=0.01)


def test_a_good_judge_saves_what_theory_allows(good_judge):
    rho2 = bench.theory(good_judge, "both orders", 1, seed=3)
    saved = 1 - bench.needed(bench.ppi_width, good_judge, "both orders", 1, seed=3) / bench.N_HUMAN
    assert saved >= 0.20 and abs(saved - rho2) <= 0.05, (saved, rho2)


@pytest.mark.parametrize("method", ["ppi_width", "active_width"])
@pytest.mark.parametrize("useless", [False, True])
def test_intervals_cover_with_any_judge(good_judge, method, useless):
    judge = bench.Judge("useless", None) if useless else good_judge
    coverage, width = bench.coverage(getattr(bench, method), judge, "both orders", 1, reps=400, seed=5)
    assert coverage >= 0.92
    if useless:
        assert width / bench.human_width(1) <= 1.05
