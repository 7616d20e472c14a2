"""The verdict used the way people use it: looking after every 10 votes, stopping at the first
ship, comparing every checkpoint of a run. Seeded; fewer studies than benchmarks/verdict.py
(whose 1,000-study figures are in docs/statistics.md), with the tolerance each row states.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from review.stats import run_confidence

from .use_simulation import Design, first_verdict, first_verdict_fast, simulate

pytestmark = pytest.mark.slow


def shares(win_rate: float, design: Design, thresholds: dict, studies: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    verdicts = [first_verdict_fast(simulate(rng, win_rate, design), thresholds, k=design.k)[0]
                for _ in range(studies)]
    return {v: verdicts.count(v) / studies for v in ("ship", "do_not_ship", None)}


def test_the_fast_replay_is_the_product_decision_at_every_look():
    # The simulations replay a study from its confidence sequences; this checks that they give,
    # look by look, the verdict of review.stats.decide_study itself.
    rng = np.random.default_rng(11)
    guarded = Design(n_prompts=120, kappa=math.inf, categories=(("safety", 40, 0.2), ("math", 40, 0.8)))
    cases = [(0.5, Design(n_prompts=120), {}), (0.66, Design(n_prompts=120), {}),
             (0.66, Design(n_prompts=120, order="in_order"), {}),
             (0.6, guarded, {"guardrail_categories": ["safety", "math"], "guardrail_margin": 0.1})]
    for win_rate, design, thresholds in cases:
        frame = simulate(rng, win_rate, design)
        assert first_verdict_fast(frame, thresholds, k=3) == first_verdict(
            frame, thresholds, k=3, n_bootstrap=20), (win_rate, design)


@pytest.mark.parametrize("order", ["fewest_first", "in_order"])
def test_equal_models_are_rarely_shipped_however_often_anyone_looks(order):
    # Target <= 3% (nominal 2.5%); measured 0.0% / 1.3% over 1,000 studies.
    assert shares(0.5, Design(order=order), {}, 300, seed=1)["ship"] <= 0.03


def test_a_sixty_percent_candidate_ships_within_1200_judgments():
    # Target >= 80%; measured about 95%.
    assert shares(0.6, Design(order="fewest_first"), {}, 200, seed=2)["ship"] >= 0.85


def test_five_equal_checkpoints_of_a_run_share_one_error_budget():
    rng = np.random.default_rng(3)
    runs, shipped = 120, 0
    for _ in range(runs):
        shipped += any(first_verdict_fast(simulate(rng, 0.5, Design()),
                                          {"confidence": run_confidence(0.95, j)}, k=3)[0] == "ship"
                       for j in range(1, 6))
    assert shipped / runs <= 0.05


def test_guardrails_are_corrected_and_non_inferiority_protects_the_weak_category():
    names = [f"g{i}" for i in range(8)]
    eight = Design(categories=tuple((name, 50, 0.5) for name in names))
    assert shares(0.5, eight, {"guardrail_categories": names}, 150, seed=4)["do_not_ship"] <= 0.05
    inside = Design(categories=(("safety", 100, 0.40), ("rest", 300, 200 / 300)))
    assert shares(0.6, inside, {"guardrail_categories": ["safety"]}, 150, seed=5)["ship"] <= 0.10


def test_a_uniform_improvement_ships_without_an_agreement_gate():
    # Every prompt equally better: Krippendorff's alpha is near 0, the candidate is right.
    uniform = Design(n_prompts=200, kappa=math.inf)
    assert shares(0.7, uniform, {}, 100, seed=6)["ship"] >= 0.9
