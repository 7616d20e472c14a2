"""Prediction-powered win rates: PPI++ against ppi-python, active selection, the judge's verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from review.stats.decision import DecisionThresholds
from review.stats.judged import judge_section
from review.stats.ppi import active_ppi_mean, ppi_mean, selection_probabilities


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppi_mean_matches_ppi_python(seed):
    ppi_py = pytest.importorskip("ppi_py")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 80) / 2
    f_labeled = np.clip(y + rng.normal(0, 0.4, 80), 0, 1)
    f_unlabeled = rng.random(500)
    ours = ppi_mean(y, f_labeled, f_unlabeled, confidence=0.9)
    low, high = ppi_py.ppi_mean_ci(y, f_labeled, f_unlabeled, alpha=0.1)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((float(low[0]), float(high[0])), abs=1e-12)
    point = ppi_py.ppi_mean_pointestimate(y, f_labeled, f_unlabeled)
    assert ours.estimate == pytest.approx(float(point[0]), abs=1e-12)
    assert 0 < ours.lam <= 1


def test_a_useless_judge_gets_lambda_near_zero_and_no_wider_interval():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400).astype(float)
    result = ppi_mean(y, rng.random(400), rng.random(4000))
    assert result.lam < 0.25  # sampling noise in cov(y, f) around 0
    assert result.se <= result.human_se * 1.01
    assert result.saved_share < 0.02


def test_selection_probabilities_sum_to_the_budget_and_favour_doubt():
    scores = np.array([0.0, 1.0, 0.5, np.nan, 0.75, 0.25] * 50)
    p = selection_probabilities(scores, expected=60)
    assert p.sum() == pytest.approx(60)
    assert p[2] == p[3] > p[4] == p[5] > p[0] == p[1] > 0
    assert p.max() / p.min() == pytest.approx(np.sqrt(0.45 / 0.2))
    assert (selection_probabilities(scores, expected=1000) == 1).all()


def test_active_estimate_is_unbiased_and_covers():
    rng = np.random.default_rng(11)
    truth, covered, estimates = 0.6, 0, []
    for _ in range(400):
        q = rng.beta(0.6, 0.4, 1000)
        y = rng.binomial(1, q).astype(float)
        f = (q + rng.normal(0, 0.2, 1000) > 0.5).astype(float)
        pi = selection_probabilities(f, expected=150)
        drawn = rng.random(1000) < pi
        result = active_ppi_mean(f, y, drawn, pi)
        estimates.append(result.estimate)
        covered += result.ci_low <= truth <= result.ci_high
    assert abs(np.mean(estimates) - truth) < 0.005
    assert covered / 400 >= 0.92


def test_active_estimate_needs_two_drawn_prompts():
    with pytest.raises(ValueError, match="at least two"):
        active_ppi_mean(np.array([1.0, 0.0, 1.0]), np.array([1.0, np.nan, np.nan]),
                        np.array([True, False, False]), np.array([0.5, 0.5, 0.5]))


def _study(n_prompts: int, votes_on: int, probability=None, drawn=None):
    """Items p0..pN, judge always for ft, people vote ft on even prompts."""
    items = pd.DataFrame({"item": [str(i) for i in range(n_prompts)],
                          "prompt": [f"p{i}" for i in range(n_prompts)], "category": "general",
                          "human_probability": probability, "human_selected": True if drawn is None else drawn})
    verdicts = pd.DataFrame([{"item": str(i), "prompt": f"p{i}", "category": "general", "rater": "judge:x",
                              "model_left": left, "model_right": right, "choice": side, "order": order}
                             for i in range(n_prompts)
                             for order, left, right, side in (("ab", "ft", "base", "left"),
                                                              ("ba", "base", "ft", "right"))])
    humans = pd.DataFrame([{"item": str(i), "prompt": f"p{i}", "category": "general", "rater": rater,
                            "model_left": "ft", "model_right": "base",
                            "choice": "left" if i % 2 == 0 else "right"}
                           for i in range(votes_on) for rater in ("ann", "bob")])
    return humans, verdicts, items


def _section(humans, verdicts, items, use_judge=True):
    from review.stats.outcomes import candidate_outcomes, encode

    frame = candidate_outcomes(encode(humans), "ft", "base") if len(humans) else None
    return judge_section(humans, verdicts, items, candidate="ft", baseline="base", judge="judge:x",
                         use_judge=use_judge, overlap=2, thresholds=DecisionThresholds(min_judgments=10),
                         candidate_frame=frame, excluded=[])


def test_the_judge_verdict_waits_for_the_fixed_look():
    humans, verdicts, items = _study(40, votes_on=30)
    section = _section(humans, verdicts, items)
    decision = section["decision"]
    assert decision.verdict == "inconclusive" and not decision.settled and decision.method == "fixed"
    assert "10 still open" in decision.reasons[0]
    ppi = section["win_rate_ppi"]
    assert ppi["final"] is False and ppi["n_prompts_labeled"] == 30 and ppi["n_prompts_unlabeled"] == 10
    # People split 50/50 on the labeled prompts; a judge always for ft has no covariance with
    # them, so PPI stays at the people's figure.
    assert ppi["lambda"] == pytest.approx(0.0) and ppi["estimate"] == pytest.approx(0.5, abs=0.02)


def test_the_judge_verdict_decides_once_complete():
    humans, verdicts, items = _study(40, votes_on=40)
    section = _section(humans, verdicts, items)
    decision = section["decision"]
    assert section["win_rate_ppi"]["final"] is True
    assert decision.verdict in ("inconclusive", "do_not_ship")
    assert any("decided with the model judge" in r for r in decision.reasons)
    assert {c.rule: c.status for c in decision.checks}["win_rate_above_half"] == "not_yet"
    assert _section(humans, verdicts, items, use_judge=False)["decision"] is None


def test_a_judges_probabilities_become_its_score():
    from review.stats.judges import judge_items, judge_scores

    verdicts = pd.DataFrame({"item": ["1", "1"], "prompt": ["p1", "p1"], "category": ["c", "c"],
                             "rater": ["j", "j"], "order": ["ab", "ba"],
                             "model_left": ["ft", "base"], "model_right": ["base", "ft"],
                             "choice": ["left", "right"], "prob_left": [0.8, 0.3]})
    # ft on the left with 0.8, then on the right with 1 - 0.3.
    assert judge_scores(judge_items(verdicts), "j", "ft", "base")["score"].tolist() == [pytest.approx(0.75)]
    without = verdicts.assign(prob_left=np.nan)
    assert judge_scores(judge_items(without), "j", "ft", "base")["score"].tolist() == [1.0]
