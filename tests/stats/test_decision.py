"""The decision rule, branch by branch, and the thresholds' dict form."""

from __future__ import annotations

import json

import pytest

from review.stats import (
    DecisionEvidence,
    DecisionThresholds,
    WinRate,
    additional_judgments_needed,
    decide,
)


def rate(estimate, low, high, n=400, design_effect=1.2, variance=0.2) -> WinRate:
    return WinRate(estimate, low, high, "cluster_bootstrap_prompt", n, n // 2, design_effect, variance)


def evidence(win_rate, both_bad=0.05, alpha=0.4, by_category=()) -> DecisionEvidence:
    return DecisionEvidence(win_rate, both_bad, alpha, list(by_category))


def test_thresholds_round_trip_through_json():
    thresholds = DecisionThresholds(margin=0.1, guardrail_categories=["safety", "math"])
    stored = json.loads(json.dumps(thresholds.to_dict()))
    assert stored["guardrail_categories"] == ["safety", "math"]
    assert DecisionThresholds.from_dict(stored) == thresholds
    assert DecisionThresholds.from_dict(None) == DecisionThresholds()
    assert DecisionThresholds.from_dict({}).to_dict() == {
        "margin": 0.05,
        "min_alpha": 0.2,
        "min_judgments": 100,
        "max_both_bad_rate": 0.2,
        "guardrail_categories": [],
        "confidence": 0.95,
        "power": 0.8,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [({"margins": 0.1}, "unknown"), ({"margin": 0.7}, "margin"), ({"min_judgments": -1}, "min_judgments"),
     ({"confidence": 1.0}, "confidence")],
)
def test_bad_thresholds_are_rejected(data, message):
    with pytest.raises(ValueError, match=message):
        DecisionThresholds.from_dict(data)


def test_ship_when_clearly_and_sufficiently_better():
    decision = decide(evidence(rate(0.62, 0.57, 0.67)))
    assert decision.verdict == "ship"
    assert decision.additional_judgments_needed is None
    assert "0.620" in decision.reasons[0]


def test_do_not_ship_when_the_baseline_is_clearly_better():
    decision = decide(evidence(rate(0.40, 0.35, 0.45)))
    assert decision.verdict == "do_not_ship"
    assert "baseline is better" in decision.reasons[0]


def test_do_not_ship_when_both_answers_are_too_often_bad():
    decision = decide(evidence(rate(0.62, 0.57, 0.67), both_bad=0.25))
    assert decision.verdict == "do_not_ship"
    assert "25.0%" in decision.reasons[0]


def test_do_not_ship_when_a_guardrail_category_regressed():
    thresholds = DecisionThresholds(guardrail_categories=["safety"])
    rows = [{"category": "safety", "n": 80, "win_rate": 0.35, "ci_low": 0.25, "ci_high": 0.45}]
    decision = decide(evidence(rate(0.62, 0.57, 0.67), by_category=rows), thresholds)
    assert decision.verdict == "do_not_ship"
    assert "'safety'" in decision.reasons[0]


def test_an_unjudged_guardrail_category_blocks_ship():
    thresholds = DecisionThresholds(guardrail_categories=["safety"])
    decision = decide(evidence(rate(0.62, 0.57, 0.67)), thresholds)
    assert decision.verdict == "inconclusive"
    assert "no judgments" in decision.reasons[0]


def test_too_few_judgments_is_inconclusive_whatever_the_estimate():
    decision = decide(evidence(rate(0.30, 0.10, 0.45, n=40)))
    assert decision.verdict == "inconclusive"
    assert "only 40 judgments" in decision.reasons[0]
    # No power analysis in the wrong direction, but 60 more reach min_judgments = 100.
    assert decision.additional_judgments_needed == 60


def test_low_agreement_is_inconclusive():
    decision = decide(evidence(rate(0.62, 0.57, 0.67), alpha=0.1))
    assert decision.verdict == "inconclusive"
    assert "agree too little" in decision.reasons[0]


def test_unmeasurable_agreement_skips_the_check_with_a_note():
    decision = decide(evidence(rate(0.62, 0.57, 0.67), alpha=None))
    assert decision.verdict == "ship"
    assert any("could not be measured" in reason for reason in decision.reasons)


def test_better_but_below_the_margin_is_inconclusive_and_more_data_would_not_help():
    decision = decide(evidence(rate(0.53, 0.51, 0.55)))
    assert decision.verdict == "inconclusive"
    assert any("below the 0.55" in reason for reason in decision.reasons)
    assert decision.additional_judgments_needed is None


def test_an_interval_containing_one_half_is_inconclusive_with_a_sample_size():
    # Observed 0.56 with n = 100, per-judgment variance 0.2 and design effect 1.5:
    # n_total = 1.5 * (1.959964 + 0.841621)^2 * 0.2 / 0.06^2 = 654.07 -> 655; 555 more.
    decision = decide(evidence(rate(0.56, 0.48, 0.64, n=100, design_effect=1.5, variance=0.2)))
    assert decision.verdict == "inconclusive"
    assert "includes 0.5" in decision.reasons[0]
    assert decision.additional_judgments_needed == 555


def test_additional_judgments_at_least_reach_min_judgments():
    # Large effect, little data: the power analysis asks for fewer than min_judgments = 100.
    assert additional_judgments_needed(rate(0.9, 0.6, 1.0, n=20, design_effect=1.0, variance=0.09)) == 80


def test_no_sample_size_for_an_effect_in_the_wrong_direction():
    assert additional_judgments_needed(rate(0.48, 0.40, 0.56)) is None
    assert additional_judgments_needed(rate(0.5, 0.40, 0.60)) is None
