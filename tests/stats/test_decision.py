"""The decision rule as a checklist, branch by branch, and the thresholds' dict form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from review.stats import DecisionEvidence, DecisionThresholds, decide, run_confidence
from review.stats.decision import Check
from review.stats.guardrails import guardrail_checks
from review.stats.planning import judgments_for_power


def evidence(estimate=0.62, low=0.57, high=0.67, *, n=400, method="anytime", both_bad=0.05,
             guardrails=(), excluded=(), reviewers=3, gold=True, planned=None, needed=None):
    return DecisionEvidence(estimate, low, high, n, method, both_bad_rate=both_bad,
                            guardrails=list(guardrails), excluded_reviewers=list(excluded),
                            n_reviewers=reviewers, has_gold=gold, planned_judgments=planned,
                            additional_needed=needed)


def statuses(decision) -> dict[str, str]:
    return {check.rule: check.status for check in decision.checks}


def test_thresholds_round_trip_through_json():
    thresholds = DecisionThresholds(margin=0.1, guardrail_categories=["safety", "math"])
    stored = json.loads(json.dumps(thresholds.to_dict()))
    assert stored["guardrail_categories"] == ["safety", "math"]
    assert DecisionThresholds.from_dict(stored) == thresholds
    assert DecisionThresholds.from_dict(None) == DecisionThresholds()
    assert DecisionThresholds.from_dict({}).to_dict() == {
        "method": "anytime", "margin": 0.05, "min_judgments": 100, "max_both_bad_rate": 0.2,
        "guardrail_categories": [], "guardrail_margin": 0.05, "min_category_prompts": 10,
        "min_gold_accuracy": 0.7, "min_gold_answered": 3, "two_way": False,
        "confidence": 0.95, "power": 0.8,
    }
    # Thresholds stored before the alpha gate was retired still load.
    assert DecisionThresholds.from_dict({"min_alpha": 0.2, "margin": 0.1}).margin == 0.1


@pytest.mark.parametrize(
    ("data", "message"),
    [({"margins": 0.1}, "unknown"), ({"margin": 0.7}, "margin"), ({"min_judgments": -1}, "min_judgments"),
     ({"confidence": 1.0}, "confidence"), ({"method": "bayes"}, "method"),
     ({"min_category_prompts": 1}, "min_category_prompts"), ({"two_way": "yes"}, "two_way")],
)
def test_bad_thresholds_are_rejected(data, message):
    with pytest.raises(ValueError, match=message):
        DecisionThresholds.from_dict(data)


def test_ship_when_every_check_passes_and_the_anytime_verdict_is_settled():
    decision = decide(evidence(planned=1200))
    assert decision.verdict == "ship" and decision.settled and decision.method == "anytime"
    assert statuses(decision) == {"min_judgments": "pass", "reviewer_reliability": "pass",
                                  "win_rate_above_half": "pass", "margin": "pass",
                                  "both_bad_rate": "pass"}
    # The stop saves the judgments not collected yet: 1200 planned, 400 collected.
    assert decision.judgments_saved == 800 and decision.additional_judgments_needed is None
    check = decision.to_dict()["checks"][2]
    assert check == {"rule": "win_rate_above_half", "status": "pass", "value": 0.57, "threshold": 0.5}


def test_a_fixed_look_is_never_called_settled():
    decision = decide(evidence(method="fixed"), DecisionThresholds(method="fixed"))
    assert decision.verdict == "ship" and not decision.settled and decision.judgments_saved is None


def test_do_not_ship_when_the_baseline_is_clearly_better():
    decision = decide(evidence(0.40, 0.35, 0.45))
    assert decision.verdict == "do_not_ship" and decision.settled
    assert statuses(decision)["win_rate_above_half"] == "fail"
    assert "the baseline is better" in decision.reasons[0]


def test_do_not_ship_when_both_answers_are_too_often_bad():
    decision = decide(evidence(both_bad=0.3))
    assert decision.verdict == "do_not_ship" and statuses(decision)["both_bad_rate"] == "fail"


def test_a_failed_guardrail_blocks_and_a_pending_one_keeps_it_inconclusive():
    failed = Check("guardrail:math", "fail", 0.3, 0.45, "guardrail category 'math' regressed")
    pending = Check("guardrail:math", "not_yet", 0.5, 0.45, "not yet shown")
    assert decide(evidence(guardrails=[failed])).verdict == "do_not_ship"
    decision = decide(evidence(guardrails=[pending]))
    assert decision.verdict == "inconclusive" and not decision.settled
    assert statuses(decision)["guardrail:math"] == "not_yet"


def test_too_few_judgments_is_inconclusive_and_says_how_many_are_missing():
    decision = decide(evidence(n=40, low=0.6))
    assert decision.verdict == "inconclusive" and statuses(decision)["min_judgments"] == "not_yet"
    assert decision.additional_judgments_needed == 60


def test_better_but_below_the_margin_is_settled_when_the_sequence_rules_the_margin_out():
    decision = decide(evidence(0.52, 0.505, 0.54))
    assert decision.verdict == "inconclusive" and decision.settled
    assert statuses(decision)["margin"] == "fail"
    assert any("more judgments will not change that" in r for r in decision.reasons)


def test_no_clear_winner_yet_is_inconclusive_with_the_judgments_still_needed():
    decision = decide(evidence(0.56, 0.48, 0.64, needed=350))
    assert decision.verdict == "inconclusive" and not decision.settled
    assert decision.additional_judgments_needed == 350
    assert statuses(decision)["win_rate_above_half"] == "not_yet"


def test_unreliable_reviewers_are_named_and_nobody_left_is_inconclusive():
    kept = decide(evidence(excluded=["zed"]))
    assert kept.verdict == "ship" and any("zed" in r for r in kept.reasons)
    nobody = decide(evidence(excluded=["a", "b", "c"], reviewers=3))
    assert nobody.verdict == "inconclusive" and statuses(nobody)["reviewer_reliability"] == "fail"
    no_gold = decide(evidence(gold=False))
    assert any("reliability was not checked" in r for r in no_gold.reasons)


def test_run_budget_sums_to_alpha():
    # Sum over j of 6 / (pi^2 j^2) is 1: the whole run spends at most alpha.
    spent = sum(1 - run_confidence(0.95, j) for j in range(1, 100_000))
    assert spent == pytest.approx(0.05, abs=1e-5)
    assert run_confidence(0.95, 1) == pytest.approx(1 - 0.05 * 6 / np.pi ** 2)


def test_power_includes_the_margin():
    # Fixed look, s^2 = 0.2, deff 1: z-terms (1.96 + 0.84)^2 = 7.85 against 0.1^2 at w = 0.6,
    # and 0.8416^2 / 0.05^2 = 283 for the margin: the margin term decides (0.2 * 283 = 57 < 157).
    n = judgments_for_power(0.6, method="fixed", margin=0.05, confidence=0.95, power=0.8,
                            score_variance=0.2, design_effect=1.0)
    assert n == 157  # 0.2 * 7.849 / 0.01 = 156.98
    # At w = 0.56 the margin term dominates: 0.2 * 0.7083 / 0.01^2 = 1417.
    assert judgments_for_power(0.56, method="fixed", margin=0.05, confidence=0.95, power=0.8,
                               score_variance=0.2, design_effect=1.0) == 1417
    assert judgments_for_power(0.55, method="fixed", margin=0.05, confidence=0.95, power=0.8) is None


def test_guardrails_need_enough_prompts_and_are_corrected_across_categories():
    rng = np.random.default_rng(3)
    rows = []
    for category, rate_, n_prompts in (("safety", 0.5, 60), ("math", 0.2, 60), ("tiny", 0.5, 6)):
        for prompt in range(n_prompts):
            for _ in range(3):
                rows.append((category, f"{category}{prompt}", float(rng.random() < rate_)))
    frame = pd.DataFrame(rows, columns=["category", "prompt", "score"])
    for method in ("anytime", "fixed"):
        checks = {c.rule: c.status for c in guardrail_checks(
            frame, ["safety", "math", "tiny"], k=3, method=method, margin=0.05, min_prompts=10,
            confidence=0.95)}
        assert checks["guardrail:math"] == "fail", method      # clearly below 0.45
        assert checks["guardrail:tiny"] == "not_yet", method   # 6 prompts: cannot decide
        assert checks["guardrail:safety"] != "fail", method


def test_a_reviewer_who_agrees_with_nobody_is_flagged_not_excluded():
    from review.stats.outcomes import encode
    from review.stats.verdict import inconsistent_reviewers

    rows = []
    for item in range(30):  # ann and bob prefer the candidate, zed always the baseline
        for rater, choice in (("ann", "left"), ("bob", "left"), ("zed", "right")):
            rows.append({"item": f"i{item}", "rater": rater, "model_left": "tuned",
                         "model_right": "base", "choice": choice})
    flagged = inconsistent_reviewers(encode(pd.DataFrame(rows)))
    # zed never matches the others' majority: 0% against 56% by chance ((2/3)^2 + (1/3)^2).
    assert flagged == ["zed (0% vs 56% by chance)"]
    decision = decide(DecisionEvidence(0.62, 0.57, 0.67, 400, "anytime", 0.05, n_reviewers=3,
                                       has_gold=True, flagged_reviewers=flagged))
    assert decision.verdict == "ship" and any("zed (0%" in r for r in decision.reasons)


def test_a_study_too_small_to_settle_says_so():
    decision = decide(evidence(0.56, 0.48, 0.64, n=126, planned=126, needed=796))
    assert decision.additional_judgments_needed == 796
    assert decision.reasons[-1] == ("that is more than the 126 judgments the items of this study "
                                    "can take: add prompts to settle it")
