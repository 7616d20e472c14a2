"""Seeded simulations of the verdict used the way people use it; prints the figures of
docs/statistics.md and says which targets are met.

Studies of 400 prompts x 3 reviewers (prompt difficulty drawn from a Beta, kappa = 1) unless a
row says otherwise; "looks" are an analysis after every 10 judgments from 50 to 1,200 (the
dashboard refreshing while votes arrive), stopping at the first ship or do-not-ship.

Targets (from the verdict's specification):

* looks after every 10 judgments, equal models: false ship <= 3% over >= 1,000 studies, under
  fewest-first and in-order arrival;
* a true win rate of 0.60: ships within 1,200 judgments in >= 80% of studies; the median
  judgments to ship at 0.65 printed beside the fixed design's n for 80% power;
* 5 equal checkpoints of one run: P(any ships) <= 5%; 8 equal guardrails: false do-not-ship
  <= 5%; a guardrail at 0.40 inside a 0.60 candidate: ships <= 10%; a uniform 0.70
  improvement with 200 x 3: ships >= 80%;
* Bradley-Terry and win-rate coverage >= 93% with prompt clustering, and >= 93% with reviewer
  leniency when two-way clustering is on; p < 0.05 under the null <= 6% for every test.

Usage::

    python benchmarks/verdict.py              # 1,000 studies per row (about 15 minutes on 2 cores)
    python benchmarks/verdict.py --studies 200
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review.stats import bradley_terry, judgments_for_power, run_confidence  # noqa: E402
from review.stats.bias import length_bias, position_bias  # noqa: E402
from review.stats.clustered import cluster_mean_test  # noqa: E402
from review.stats.outcomes import candidate_outcomes, encode  # noqa: E402
from review.stats.verdict import study_verdict  # noqa: E402
from review.stats.decision import DecisionThresholds  # noqa: E402
from tests.stats.use_simulation import (  # noqa: E402
    DECIDED,
    Design,
    first_verdict,
    first_verdict_fast,
    mu_for,
    population_win_rate,
    simulate,
)

ROWS: list[tuple[str, str, str, bool | None]] = []


def row(name: str, figure: str, target: str, met: bool | None) -> None:
    ROWS.append((name, figure, target, met))
    flag = "" if met is None else ("  met" if met else "  MISSED")
    print(f"{name:<70} {figure:>24}   target {target}{flag}", flush=True)


def share(values: list[bool]) -> float:
    return float(np.mean(values)) if values else float("nan")


def looks(studies: int, seed: int) -> None:
    for order in ("fewest_first", "in_order"):
        rng = np.random.default_rng(seed)
        ships = [first_verdict_fast(simulate(rng, 0.5, Design(order=order)), {}, k=3)[0] == "ship"
                 for _ in range(studies)]
        row(f"equal models, looks every 10 judgments, {order} (anytime)",
            f"{share(ships):.1%} of {studies}", "<= 3%", share(ships) <= 0.03)
    rng = np.random.default_rng(seed + 1)
    fixed_studies = max(50, studies // 5)
    ships = [first_verdict(simulate(rng, 0.5, Design(order="in_order")), {"method": "fixed"}, k=3,
                           step=50, n_bootstrap=200, seed=i)[0] == "ship" for i in range(fixed_studies)]
    row("equal models, looks every 50 judgments, in_order (fixed: for contrast)",
        f"{share(ships):.1%} of {fixed_studies}", "(shows why)", None)


def power(studies: int, seed: int) -> None:
    for order in ("fewest_first", "in_order"):
        rng = np.random.default_rng(seed)
        results = [first_verdict_fast(simulate(rng, 0.60, Design(order=order)), {}, k=3)
                   for _ in range(studies)]
        shipped = share([verdict == "ship" for verdict, _ in results])
        row(f"true win rate 0.60, ships within 1,200 judgments, {order}",
            f"{shipped:.1%} of {studies}", ">= 80%", shipped >= 0.80)
    # The fixed design's n for 80% power at 0.65, with this design's clustering measured.
    rng = np.random.default_rng(seed + 7)
    frame = simulate(rng, 0.65, Design(n_prompts=4000))
    rate = study_verdict(candidate_outcomes(encode(frame), "tuned", "base"), encode(frame),
                         DecisionThresholds(method="fixed"), overlap=3, planned_items=None,
                         n_bootstrap=200, seed=0, plan=False)[1]
    fixed_n = judgments_for_power(0.65, method="fixed", margin=0.05, confidence=0.95, power=0.8,
                                  score_variance=rate.score_variance, design_effect=rate.design_effect)
    for order in ("fewest_first", "in_order"):
        rng = np.random.default_rng(seed + 1)
        stops = [at for verdict, at in (first_verdict_fast(simulate(rng, 0.65, Design(order=order)), {}, k=3)
                                        for _ in range(studies)) if verdict == "ship"]
        row(f"true win rate 0.65, median judgments to ship, {order}",
            f"{int(np.median(stops))} (fixed n: {fixed_n})", "printed", None)


def checkpoints(studies: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    any_ship = []
    for _ in range(studies):
        shipped = False
        for position in range(1, 6):
            thresholds = {"confidence": run_confidence(0.95, position)}
            verdict, _ = first_verdict_fast(simulate(rng, 0.5, Design()), thresholds, k=3)
            shipped = shipped or verdict == "ship"
        any_ship.append(shipped)
    row("5 equal checkpoints of a run, looks every 10, any ships (run budget)",
        f"{share(any_ship):.1%} of {studies}", "<= 5%", share(any_ship) <= 0.05)


def guardrails(studies: int, seed: int) -> None:
    names = [f"g{i}" for i in range(8)]
    eight = Design(categories=tuple((name, 50, 0.5) for name in names))
    rng = np.random.default_rng(seed)
    refused = [first_verdict_fast(simulate(rng, 0.5, eight), {"guardrail_categories": names}, k=3)[0]
               == "do_not_ship" for _ in range(studies)]
    row("8 equal guardrail categories, equal models: false do_not_ship",
        f"{share(refused):.1%} of {studies}", "<= 5%", share(refused) <= 0.05)
    # A guardrail of 100 prompts at 0.40; the other 300 prompts at 2/3: 0.60 overall.
    inside = Design(categories=(("safety", 100, 0.40), ("rest", 300, (0.60 * 400 - 40) / 300)))
    rng = np.random.default_rng(seed + 1)
    shipped = [first_verdict_fast(simulate(rng, 0.6, inside), {"guardrail_categories": ["safety"]}, k=3)[0]
               == "ship" for _ in range(studies)]
    row("guardrail at 0.40 inside a 0.60 candidate: ships",
        f"{share(shipped):.1%} of {studies}", "<= 10%", share(shipped) <= 0.10)
    rng = np.random.default_rng(seed + 2)
    uniform = Design(n_prompts=200, kappa=math.inf)
    shipped = [first_verdict_fast(simulate(rng, 0.7, uniform), {}, k=3)[0] == "ship"
               for _ in range(studies)]
    row("uniform 0.70 improvement, 200 prompts x 3: ships",
        f"{share(shipped):.1%} of {studies}", ">= 80%", share(shipped) >= 0.80)


def true_two_way_rate(win_rate: float, leniency: float, rng: np.random.Generator) -> float:
    """The win rate over the population of prompts *and* reviewers (Monte Carlo)."""
    from scipy.special import expit, logit

    mu = mu_for(win_rate)
    q = rng.beta(mu, 1 - mu, 2_000_000)
    shift = rng.normal(0, leniency, 2_000_000)
    return float(DECIDED * expit(logit(np.clip(q, 1e-9, 1 - 1e-9)) + shift).mean()
                 + (1 - DECIDED) / 2)


def coverage(studies: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = population_win_rate(0.58)
    elo = 1000 + 400 / math.log(10) * math.log(truth / (1 - truth))
    covered, bt_covered = [], []
    for index in range(studies):
        frame = simulate(rng, 0.58, Design(n_prompts=150, order="in_order"))
        encoded = encode(frame)
        rate = study_verdict(candidate_outcomes(encoded, "tuned", "base"), encoded,
                             DecisionThresholds(method="fixed"), overlap=3, planned_items=None,
                             n_bootstrap=200, seed=index, plan=False)[1]
        covered.append(rate.ci_low <= truth <= rate.ci_high)
        tuned = next(r for r in bradley_terry(encoded, anchor="base", n_bootstrap=200, seed=index)
                     if r.model == "tuned")
        bt_covered.append(tuned.ci_low <= elo <= tuned.ci_high)
    row("win-rate coverage, prompt-cluster bootstrap (150 x 3)", f"{share(covered):.1%} of {studies}",
        ">= 93%", share(covered) >= 0.93)
    row("Bradley-Terry coverage, prompt-cluster bootstrap (150 x 3)",
        f"{share(bt_covered):.1%} of {studies}", ">= 93%", share(bt_covered) >= 0.93)
    truth = true_two_way_rate(0.58, 0.5, np.random.default_rng(seed + 9))
    one_way, two_way = [], []
    lenient = Design(n_prompts=150, n_raters=6, leniency=0.5, order="in_order")
    for index in range(studies):
        frame = simulate(rng, 0.58, lenient)
        encoded = encode(frame)
        outcomes = candidate_outcomes(encoded, "tuned", "base")
        for method, into in ((False, one_way), (True, two_way)):
            win = study_verdict(outcomes, encoded, DecisionThresholds(method="fixed", two_way=method),
                                overlap=3, planned_items=None, n_bootstrap=200, seed=index,
                                plan=False)[0]
            into.append(win["ci_low"] <= truth <= win["ci_high"])
    row("reviewer leniency 0.5 logit SD, 6 reviewers: prompt clustering only",
        f"{share(one_way):.1%} of {studies}", "(shows why)", None)
    row("reviewer leniency 0.5 logit SD, 6 reviewers: two-way clustering",
        f"{share(two_way):.1%} of {studies}", ">= 93%", share(two_way) >= 0.93)


def null_tests(studies: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rejected = {"decisive votes (prompt-clustered t)": [], "position bias (prompt-clustered t)": [],
                "longer answer wins (prompt-clustered t)": [], "length logistic slope (clustered)": []}
    for _ in range(studies):
        frame = simulate(rng, 0.5, Design(n_prompts=150, order="in_order"))
        encoded = encode(frame)
        outcomes = candidate_outcomes(encoded, "tuned", "base")
        decisive = outcomes["outcome"].isin(["candidate", "baseline"]).to_numpy()
        won = (outcomes["outcome"].to_numpy()[decisive] == "candidate").astype(float)
        p_decisive = cluster_mean_test(won, outcomes["prompt"].astype(str).to_numpy()[decisive])["p_value"]
        p_position = position_bias(encoded["left_won"].to_numpy(), encoded["prompt"].astype(str).to_numpy())["p_value"]
        length = length_bias(encoded)
        for key, p in zip(rejected, (p_decisive, p_position, length["longer_win_p_value"], length["p_value"])):
            rejected[key].append(p is not None and p < 0.05)
    for key, values in rejected.items():
        row(f"null: p < 0.05 for {key}", f"{share(values):.1%} of {studies}", "<= 6%",
            share(values) <= 0.06)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    started = time.perf_counter()
    for part in (looks, power, checkpoints, guardrails, coverage, null_tests):
        studies = args.studies if part not in (coverage, null_tests) else max(100, args.studies // 2)
        part(studies, args.seed)
    missed = [name for name, _, _, met in ROWS if met is False]
    print(f"\n{len(ROWS)} rows in {time.perf_counter() - started:.0f} s; "
          + ("every target met" if not missed else f"MISSED: {'; '.join(missed)}"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
