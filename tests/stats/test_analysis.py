"""The whole analysis: the ``review analyze --json`` contract and what it must hold."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from review.stats import AnalysisOptions, DecisionThresholds, analyze, decide_study

from .simulation import simulate_study

CONTRACT_KEYS = {
    "study", "candidate", "baseline", "n_items", "n_judgments", "n_reviewers", "counts",
    "win_rate", "decisive_win_rate", "agreement", "position_bias", "by_category", "ratings",
    "decision",
}
AGREEMENT_KEYS = {
    "krippendorff_alpha_nominal", "krippendorff_alpha_ordinal", "fleiss_kappa", "cohen_kappa",
    "percent_agreement_with_ties", "percent_agreement_without_ties",
}


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    frame = simulate_study(np.random.default_rng(1), win_rate=0.62, n_prompts=150, raters_per_prompt=3)
    rng = np.random.default_rng(2)
    frame["category"] = np.where(frame["prompt"].str[1:].astype(int) % 2 == 0, "code", "chat")
    frame["strength"] = pd.array(
        np.where(frame["choice"].isin(["left", "right"]), rng.integers(1, 4, len(frame)), 0), dtype="Int64"
    )
    frame.loc[~frame["choice"].isin(["left", "right"]), "strength"] = pd.NA
    frame["length_left"] = pd.array(rng.integers(100, 2000, len(frame)), dtype="Int64")
    frame["length_right"] = pd.array(rng.integers(100, 2000, len(frame)), dtype="Int64")
    # A third model judged against the baseline on other items, and two gold items.
    extra = frame.iloc[:30].copy()
    extra["item"] = "o" + extra["item"]
    extra["model_left"] = extra["model_left"].replace({"tuned": "other"})
    extra["model_right"] = extra["model_right"].replace({"tuned": "other"})
    gold = frame.iloc[:6].copy()
    gold["item"] = "g" + gold["item"]
    gold["gold"] = "tuned"
    return pd.concat([frame, extra, gold], ignore_index=True)


@pytest.fixture(scope="module")
def result(study) -> dict:
    return analyze(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200, seed=0,
                                          study="sft-v1"))


def test_contract_keys_and_json(result):
    assert CONTRACT_KEYS <= set(result)
    assert AGREEMENT_KEYS <= set(result["agreement"])
    assert set(result["counts"]) == {"candidate", "baseline", "tie", "both_bad"}
    assert {"estimate", "ci_low", "ci_high", "method"} <= set(result["win_rate"])
    assert {"estimate", "ci_low", "ci_high", "p_value"} <= set(result["decisive_win_rate"])
    assert {"left_rate", "p_value"} <= set(result["position_bias"])
    assert set(result["decision"]) == {"verdict", "reasons", "additional_judgments_needed",
                                       "method", "settled", "checks"}
    assert result["decision"]["method"] == "anytime" and isinstance(result["decision"]["settled"], bool)
    for check in result["decision"]["checks"]:
        assert set(check) == {"rule", "status", "value", "threshold"}
        assert check["status"] in ("pass", "fail", "not_yet")
    assert [c["rule"] for c in result["decision"]["checks"]] == [
        "min_judgments", "reviewer_reliability", "win_rate_above_half", "margin", "both_bad_rate"]
    for row in result["ratings"]:
        assert {"model", "score", "ci_low", "ci_high"} <= set(row)
    for row in result["by_category"]:
        assert {"category", "n", "win_rate", "ci_low", "ci_high"} <= set(row)
    for row in result["agreement"]["cohen_kappa"]:
        assert {"rater_a", "rater_b", "kappa", "n"} <= set(row)
    text = json.dumps(result, allow_nan=False)  # plain types only, never NaN
    assert json.loads(text) == result


def test_plain_python_types_only(result):
    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            assert value is None or type(value) in (str, int, float, bool), type(value)

    walk(result)


def test_figures_are_consistent(study, result):
    pair = study[study["gold"].isna() & ~study["item"].str.startswith("o")]
    assert result["n_judgments"] == len(study)
    assert result["n_gold_judgments"] == 6
    assert sum(result["counts"].values()) == len(pair) == result["win_rate"]["n"]
    counts = result["counts"]
    expected = (counts["candidate"] + (counts["tie"] + counts["both_bad"]) / 2) / len(pair)
    assert result["win_rate"]["estimate"] == pytest.approx(expected)
    # The anytime verdict's interval: the confidence sequence over prompts with all their votes.
    assert result["win_rate"]["method"] == "anytime_betting_cs_prompt"
    assert result["win_rate"]["n_prompts_complete"] == len(pair) // result["win_rate"]["overlap"]
    assert result["both_bad_rate"] == pytest.approx(counts["both_bad"] / len(pair))
    assert [row["category"] for row in result["by_category"]] == ["chat", "code"]
    assert sum(row["n"] for row in result["by_category"]) == len(pair)
    assert {row["model"] for row in result["ratings"]} == {"tuned", "base", "other"}
    baseline = next(row for row in result["ratings"] if row["model"] == "base")
    assert baseline["score"] == 1000.0
    assert result["ratings"] == sorted(result["ratings"], key=lambda row: -row["score"])
    agreement = result["agreement"]
    low, high = agreement["krippendorff_alpha_nominal_ci"]
    assert low <= agreement["krippendorff_alpha_nominal"] <= high
    low, high = agreement["krippendorff_alpha_ordinal_ci"]
    assert low <= agreement["krippendorff_alpha_ordinal"] <= high
    assert result["length_bias"]["length_controlled_win_rate"]["n"] == len(pair)
    assert len(result["items_disagreement"]) == 20


def test_reviewer_summary_counts_gold_only_for_gold_accuracy(result):
    reviewers = {row["reviewer"]: row for row in result["reviewers"]}
    assert sum(row["n"] for row in reviewers.values()) == result["n_judgments"]
    assert sum(row["n_gold"] for row in reviewers.values()) == 6
    for row in reviewers.values():
        if row["n_gold"]:
            assert 0.0 <= row["gold_accuracy"] <= 1.0
        else:
            assert row["gold_accuracy"] is None
        assert 0.0 <= row["loo_majority_agreement"] <= 1.0
        assert row["median_seconds"] == 30.0


def test_same_seed_same_document(study, result):
    again = analyze(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200, seed=0,
                                           study="sft-v1"))
    assert again == result
    other = analyze(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200, seed=1,
                                           study="sft-v1"))
    # The bootstrap intervals move with the seed; the confidence sequence has no randomness.
    assert other["agreement"]["krippendorff_alpha_nominal_ci"] != result["agreement"]["krippendorff_alpha_nominal_ci"]
    sequence = ("estimate", "ci_low", "ci_high", "method", "n_prompts_complete")
    assert [other["win_rate"][k] for k in sequence] == [result["win_rate"][k] for k in sequence]


def test_decide_study_gives_the_verdict_of_analyze(study, result):
    decision = decide_study(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200, seed=0))
    assert decision.to_dict() == result["decision"]


def test_thresholds_as_a_dict_and_guardrails(study):
    result = analyze(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=100,
                                            thresholds={"guardrail_categories": ["math"]}))
    assert result["thresholds"]["guardrail_categories"] == ["math"]
    assert result["decision"]["verdict"] == "inconclusive"
    math = next(c for c in result["decision"]["checks"] if c["rule"] == "guardrail:math")
    assert math["status"] == "not_yet" and math["value"] is None and math["threshold"] == 0.45
    assert any("'math' has 0 judged prompts" in r for r in result["decision"]["reasons"])


def test_several_model_pairs_without_candidate(study):
    result = analyze(study, AnalysisOptions(candidate=None, baseline=None, n_bootstrap=100))
    assert result["counts"] is None and result["win_rate"] is None
    assert result["decisive_win_rate"] is None and result["by_category"] == []
    assert result["decision"]["verdict"] is None
    assert result["agreement"]["krippendorff_alpha_nominal"] is not None
    assert result["position_bias"]["left_rate"] is not None
    assert len(result["ratings"]) == 3
    assert sum(row["score"] for row in result["ratings"]) / 3 == pytest.approx(1000.0)
    json.dumps(result, allow_nan=False)


def test_imported_data_without_lengths_strength_or_overlap(make_judgments):
    frame = make_judgments([
        ("q1", "j1", "gpt-4", "llama", "left"),
        ("q2", "j1", "llama", "gpt-4", "tie"),
        ("q3", "j2", "vicuna", "gpt-4", "both_bad"),
    ])
    result = analyze(frame, AnalysisOptions(candidate=None, baseline=None, n_bootstrap=50))
    assert result["length_bias"] is None
    assert result["agreement"]["krippendorff_alpha_nominal"] is None
    assert result["agreement"]["fleiss_kappa"] is None
    assert result["agreement"]["cohen_kappa"] == []
    assert result["agreement"]["percent_agreement_with_ties"] is None
    assert result["items_disagreement"] == []
    json.dumps(result, allow_nan=False)


def test_candidate_without_judgments_is_inconclusive(make_judgments):
    frame = make_judgments([("q1", "j1", "x", "y", "left"), ("q1", "j2", "y", "x", "left")])
    result = analyze(frame, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=50))
    assert result["counts"] == {"candidate": 0, "baseline": 0, "tie": 0, "both_bad": 0}
    assert result["win_rate"]["estimate"] is None
    assert result["decisive_win_rate"]["p_value"] is None
    assert result["decision"]["verdict"] == "inconclusive"
    assert result["decision"]["additional_judgments_needed"] == 100  # min_judgments
    json.dumps(result, allow_nan=False)


def test_empty_study():
    frame = pd.DataFrame(columns=["item", "rater", "model_left", "model_right", "choice"])
    result = analyze(frame, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=50))
    assert (result["n_items"], result["n_judgments"], result["n_reviewers"]) == (0, 0, 0)
    assert result["ratings"] == [] and result["reviewers"] == []
    assert result["decision"]["verdict"] == "inconclusive"
    json.dumps(result, allow_nan=False)


def test_repeated_votes_count_once_for_agreement(make_judgments):
    frame = make_judgments([
        ("i1", "ann", "x", "y", "left"),
        ("i1", "ann", "x", "y", "right"),
        ("i1", "bob", "y", "x", "left"),
    ])
    result = analyze(frame, AnalysisOptions(candidate="x", baseline="y", n_bootstrap=20))
    # ann's last vote (y) and bob's (y) agree.
    assert result["agreement"]["n_duplicate_votes_ignored"] == 1
    assert result["agreement"]["percent_agreement_with_ties"] == 1.0
    assert result["counts"] == {"candidate": 1, "baseline": 2, "tie": 0, "both_bad": 0}


def test_thresholds_object_and_confidence_level(study):
    narrow = analyze(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200,
                                            thresholds=DecisionThresholds(confidence=0.5)))
    wide = analyze(study, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200))
    assert narrow["win_rate"]["ci_high"] - narrow["win_rate"]["ci_low"] < (
        wide["win_rate"]["ci_high"] - wide["win_rate"]["ci_low"]
    )


def test_renaming_a_model_changes_no_figure(study, result):
    # "other" sorts after "base"; "aardvark" before it: the pair's coding flips for those items
    # only, which moved alpha when agreement depended on the sorted order.
    renamed = study.copy()
    for column in ("model_left", "model_right"):
        renamed[column] = renamed[column].replace({"other": "aardvark"})
    again = analyze(renamed, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=200, seed=0,
                                             study="sft-v1"))
    assert again["agreement"] == result["agreement"]
    for key in ("win_rate", "decisive_win_rate", "counts", "position_bias", "decision", "by_category"):
        assert again[key] == result[key], key
    scores = {row["model"].replace("aardvark", "other"): row["score"] for row in again["ratings"]}
    assert scores == pytest.approx({row["model"]: row["score"] for row in result["ratings"]})


def test_reviewers_are_flagged_with_the_rule_they_break():
    from review.stats import analyze

    rows = []
    for i in range(30):
        for rater, choice, seconds in (("careful", "left" if i % 2 else "right", 25.0),
                                       ("hasty", "left", 0.6)):
            rows.append({"item": f"i{i}", "prompt": f"p{i}", "rater": rater, "model_left": "ft",
                         "model_right": "base", "choice": choice, "seconds": seconds})
    result = analyze(pd.DataFrame(rows), AnalysisOptions(candidate="ft", baseline="base", n_bootstrap=50))
    flags = {row["reviewer"]: row["flags"] for row in result["reviewers"]}
    assert flags["careful"] == []
    assert flags["hasty"] == [
        "median 0.6 s per judgment: under the 3 s it takes to read two answers",
        "picks the left (A) answer in 100% of 30 decisive votes (chance: 50%, p < 0.001)"]
