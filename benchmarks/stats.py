"""Benchmark of the statistics layer: a full ``review.stats.analyze`` on a large synthetic study,
and the same bootstrap computations done the straightforward way.

Targets (two-core machine): the full analysis of 1,000,000 judgments (100,000 items, 50
reviewers, 10 models) with 1,000 bootstrap rounds in at most 5 s and under 2 GiB, and at least
10x faster than the straightforward way over the same number of bootstrap rounds.

The straightforward way, per bootstrap round: resample the candidate-vs-baseline judgments by
prompt with pandas and recompute the win rate (and the same per category); resample the items
and call ``krippendorff.alpha`` for the nominal and ordinal alpha; resample the judgments and
refit Bradley-Terry with scikit-learn's ``LogisticRegression`` on one row per judgment, as
Chatbot Arena's notebook did before it aggregated battles. It takes seconds per round, so both
ways run with the same smaller number of rounds (``--rounds``) for the ratio.

Usage::

    python benchmarks/stats.py                 # 1,000,000 judgments
    python benchmarks/stats.py --items 10000   # a quick run
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from review.stats import AnalysisOptions, analyze  # noqa: E402
from review.stats.defaults import DEFAULT_BOOTSTRAP  # noqa: E402
from review.stats.outcomes import A_WINS, candidate_outcomes, encode  # noqa: E402

CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")


def synthetic_judgments(
    n_items: int = 100_000,
    judgments_per_item: int = 10,
    n_reviewers: int = 50,
    n_models: int = 10,
    items_per_prompt: int = 5,
    gold_share: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """A seeded synthetic study: models of increasing strength, prompts of varying difficulty."""
    rng = np.random.default_rng(seed)
    models = np.array([f"model-{m}" for m in range(n_models)], dtype=object)
    strength = np.linspace(0.0, 1.2, n_models)
    first = rng.integers(0, n_models, n_items)
    second = (first + rng.integers(1, n_models, n_items)) % n_models
    # Make sure the candidate (model-1) and baseline (model-0) meet often enough.
    duel = rng.random(n_items) < 0.05
    first[duel], second[duel] = 1, 0
    prompt = np.arange(n_items) // items_per_prompt
    prompt_effect = rng.normal(0.0, 0.8, prompt.max() + 1)[prompt]
    item_effect = rng.normal(0.0, 1.2, n_items)
    length_first = rng.integers(200, 2500, n_items)
    length_second = rng.integers(200, 2500, n_items)

    k = judgments_per_item
    raters = np.argsort(rng.random((n_items, n_reviewers)), axis=1)[:, :k].ravel()
    row_item = np.repeat(np.arange(n_items), k)
    edge = (strength[first] - strength[second] + prompt_effect + item_effect)[row_item]
    edge = edge + rng.normal(0.0, 0.3, len(row_item))
    p_first = 1.0 / (1.0 + np.exp(-edge))
    gold_item = rng.random(n_items) < gold_share
    # Gold items have a known better answer (the first model's), which attentive reviewers pick.
    p_first = np.where(gold_item[row_item], 0.95, p_first)
    u = rng.random(len(row_item))
    outcome = np.where(u < 0.08, 2, np.where(u < 0.12, 3, np.where(rng.random(len(u)) < p_first, 0, 1)))
    first_left = rng.random(len(row_item)) < 0.5
    winner_is_left = np.where(outcome == 0, first_left, ~first_left)
    choice = np.where(outcome == 2, "tie", np.where(outcome == 3, "both_bad", np.where(winner_is_left, "left", "right")))
    strength_vote = pd.array(np.where(outcome < 2, rng.integers(1, 4, len(u)), 0), dtype="Int64")
    strength_vote[outcome >= 2] = pd.NA
    left_model = np.where(first_left, models[first[row_item]], models[second[row_item]])
    right_model = np.where(first_left, models[second[row_item]], models[first[row_item]])
    length_left = np.where(first_left, length_first[row_item], length_second[row_item])
    length_right = np.where(first_left, length_second[row_item], length_first[row_item])
    gold = np.where(gold_item, models[first], None)[row_item]
    item_ids = pd.Series(np.arange(n_items)).map("item-{:06d}".format).to_numpy(dtype=object)
    prompt_ids = pd.Series(np.arange(prompt.max() + 1)).map("prompt-{:05d}".format).to_numpy(dtype=object)
    reviewer_ids = np.array([f"reviewer-{r:02d}" for r in range(n_reviewers)], dtype=object)
    category = np.array(CATEGORIES, dtype=object)[prompt % len(CATEGORIES)]
    return pd.DataFrame(
        {
            "item": item_ids[row_item],
            "prompt": prompt_ids[prompt[row_item]],
            "category": category[row_item],
            "rater": reviewer_ids[raters],
            "model_left": left_model,
            "model_right": right_model,
            "choice": choice,
            "strength": strength_vote,
            "seconds": rng.lognormal(3.5, 0.6, len(u)),
            "length_left": pd.array(length_left, dtype="Int64"),
            "length_right": pd.array(length_right, dtype="Int64"),
            "gold": gold,
        }
    )


def straightforward_bootstrap(judgments: pd.DataFrame, candidate: str, baseline: str, rounds: int, seed: int) -> None:
    """The bootstrap parts of the analysis, one Python iteration per round."""
    import krippendorff
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    encoded = encode(judgments)
    normal = encoded[~encoded["is_gold"]]
    pair = candidate_outcomes(encoded, candidate, baseline)
    by_prompt = {prompt: group for prompt, group in pair.groupby("prompt")}
    prompts = np.array(list(by_prompt))
    voted = normal.drop_duplicates(["item", "rater"], keep="last")
    nominal = pd.crosstab(voted["item"], voted["code"]).to_numpy()
    ordinal = pd.crosstab(voted["item"], voted["ordinal"]).to_numpy()

    models = sorted(set(normal["model_a"]) | set(normal["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    battles = normal[normal["model_a"] != normal["model_b"]]
    a = battles["model_a"].map(index).to_numpy()
    b = battles["model_b"].map(index).to_numpy()
    code = battles["code"].to_numpy()

    for _ in range(rounds):
        drawn = pd.concat([by_prompt[p] for p in rng.choice(prompts, len(prompts))])
        drawn["score"].mean()
        drawn.groupby("category")["score"].mean()
        rows = rng.integers(0, len(nominal), len(nominal))
        krippendorff.alpha(value_counts=nominal[rows], level_of_measurement="nominal")
        krippendorff.alpha(value_counts=ordinal[rows], level_of_measurement="ordinal")
        sample = rng.integers(0, len(battles), len(battles))
        # Chatbot Arena's compute_mle_elo: one row per battle, ties entered as two half rows.
        sa, sb, sc = a[sample], b[sample], code[sample]
        decisive = sc < 2
        ties = ~decisive
        x = np.zeros((decisive.sum() + 2 * ties.sum(), len(models)))
        n_dec = decisive.sum()
        x[np.arange(n_dec), sa[decisive]] = 1.0
        x[np.arange(n_dec), sb[decisive]] = -1.0
        tie_rows = np.arange(n_dec, len(x))
        x[tie_rows, np.r_[sa[ties], sa[ties]]] = 1.0
        x[tie_rows, np.r_[sb[ties], sb[ties]]] = -1.0
        y = np.r_[sc[decisive] == A_WINS, np.ones(ties.sum(), bool), np.zeros(ties.sum(), bool)]
        LogisticRegression(fit_intercept=False, C=1e6, tol=1e-6).fit(x, y)


def timed(label: str, function) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    elapsed = time.perf_counter() - start
    print(f"{label}: {elapsed:.2f} s")
    return elapsed


def traced_peak(function) -> float:
    """Peak memory allocated by Python and numpy while ``function`` runs, in MiB."""
    gc.collect()
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def peak_rss() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--per-item", type=int, default=10)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP)
    parser.add_argument("--rounds", type=int, default=20, help="bootstrap rounds of the comparison")
    parser.add_argument("--skip-straightforward", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    judgments = synthetic_judgments(args.items, args.per_item, args.reviewers, args.models)
    print(
        f"synthetic study: {len(judgments):,} judgments, {judgments['item'].nunique():,} items, "
        f"{judgments['rater'].nunique()} reviewers, {args.models} models "
        f"({time.perf_counter() - start:.1f} s to build)"
    )
    rss_data = peak_rss()
    print(f"process peak RSS with the data built: {rss_data:.0f} MiB")

    def full(rounds: int) -> dict:
        return analyze(judgments, AnalysisOptions(candidate="model-1", baseline="model-0",
                                                  n_bootstrap=rounds, seed=0))

    outcome = {}
    full_time = timed(
        f"analyze, {args.bootstrap} bootstrap rounds", lambda: outcome.update(full(args.bootstrap))
    )
    rss_after = peak_rss()
    traced = traced_peak(lambda: full(args.bootstrap))
    print(
        f"  memory: process peak RSS {rss_after:.0f} MiB ({rss_data:.0f} MiB before analyze); "
        f"peak traced by tracemalloc during analyze {traced:.0f} MiB"
    )
    rate = outcome["win_rate"]
    print(
        f"  win rate {rate['estimate']:.3f} [{rate['ci_low']:.3f}, {rate['ci_high']:.3f}], "
        f"alpha {outcome['agreement']['krippendorff_alpha_nominal']:.3f}, "
        f"verdict {outcome['decision']['verdict']}"
    )
    met = full_time <= 5 and rss_after < 2048
    print(f"  target <= 5 s and < 2048 MiB: {'met' if met else 'NOT met'}")
    if args.skip_straightforward:
        return

    rounds = args.rounds
    print(f"\ncomparison over the same {rounds} bootstrap rounds:")
    point = timed("analyze without bootstrap (point estimates only)", lambda: full(0))
    vectorised = timed(f"analyze, {rounds} rounds (vectorised)", lambda: full(rounds))
    loop = timed(
        f"straightforward bootstrap, {rounds} rounds (Python loop)",
        lambda: straightforward_bootstrap(judgments, "model-1", "model-0", rounds, 0),
    )
    straightforward = point + loop
    print(
        f"  whole analysis, {rounds} rounds: straightforward {straightforward:.1f} s "
        f"vs vectorised {vectorised:.1f} s = {straightforward / vectorised:.0f}x"
    )
    bootstrap_part = vectorised - point
    if bootstrap_part < 0.05 * point:
        # A few rounds cost less than two runs of the whole analysis differ by: no ratio.
        print(
            f"  bootstrap part only: {loop / rounds:.2f} s per round vs within the timing noise "
            f"of the whole analysis ({bootstrap_part * 1000:+.0f} ms for {rounds} rounds)"
        )
    else:
        print(
            f"  bootstrap part only: {loop / rounds:.2f} s per round vs "
            f"{bootstrap_part / rounds * 1000:.1f} ms per round = {loop / bootstrap_part:.0f}x"
        )
    projected = point + loop / rounds * args.bootstrap
    print(
        f"  projected to {args.bootstrap} rounds: straightforward ~{projected:.0f} s "
        f"vs vectorised {full_time:.1f} s measured = {projected / full_time:.0f}x"
    )


if __name__ == "__main__":
    main()
