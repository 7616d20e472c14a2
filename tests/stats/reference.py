"""The straightforward implementations that faster code in review.stats replaced, kept to check
that the faster code gives every figure to the last bit (tests/stats/test_same_figures.py).

:data:`REPLACED` lists, per module attribute, its reference; :func:`use_references` installs
them with pytest's ``monkeypatch``.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd

import review.stats.agreement
import review.stats.analysis
import review.stats.bootstrap
import review.stats.guardrails
import review.stats.logistic
import review.stats.outcomes
import review.stats.reviewers
import review.stats.sequential
import review.stats.verdict
from review.stats.choices import CHOICES, STRENGTHS
from review.stats.reviewers import N_CODES
from review.stats.verdict import MIN_LOO_VOTES


def resample_patterns(summaries, n_rounds, rng):
    summaries = np.asarray(summaries)
    if summaries.ndim == 1:
        summaries = summaries[:, None]
    n = len(summaries)
    if n == 0:
        return summaries[:0], np.zeros((n_rounds, 0), dtype=np.int64)
    patterns, inverse, frequency = np.unique(summaries, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    n_patterns = len(patterns)
    if n_patterns * 12 <= n:
        return patterns, rng.multinomial(n, frequency / n, size=n_rounds)
    counts = np.empty((n_rounds, n_patterns), dtype=np.int64)
    chunk = max(1, 4_000_000 // n)
    for start in range(0, n_rounds, chunk):
        stop = min(n_rounds, start + chunk)
        drawn = inverse[rng.integers(0, n, size=(stop - start, n))]
        offsets = (np.arange(stop - start) * n_patterns)[:, None]
        counts[start:stop] = np.bincount(
            (drawn + offsets).ravel(), minlength=(stop - start) * n_patterns
        ).reshape(stop - start, n_patterns)
    return patterns, counts


def alpha_of_resamples(patterns, drawn, domain, level):
    # The alpha intervals passed the rounds' counts as integers.
    return review.stats.agreement.alpha_of_resamples(patterns, np.asarray(drawn).astype(np.int64),
                                                     domain, level)


def alpha_from_ratings(ratings, level="nominal"):
    counts, domain = review.stats.agreement._pairable(ratings, level)
    if counts is None:
        return None
    value = krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level)
    return float(value) if np.isfinite(value) else None


def categorical(values, *, ordered_by_appearance=False):
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype(object).astype(str).where(values.notna())
    if ordered_by_appearance:
        return pd.Categorical(values, categories=pd.unique(values.dropna()))
    return pd.Categorical(values)


def choices(choice):
    choice_codes, choice_names = pd.factorize(choice)
    choice = np.asarray(choice_names, dtype=object)[choice_codes]
    return {name: choice == name for name in CHOICES}


def strengths(strength):
    strength = pd.to_numeric(strength, errors="coerce").astype("Float64")
    bad_strength = strength.notna() & ~strength.isin(list(STRENGTHS))
    if bad_strength.any():
        raise ValueError(f"strength must be 1, 2 or 3; got {strength[bad_strength].iloc[0]}")
    return strength.to_numpy(dtype=float, na_value=np.nan)


def loo_majority_agreement(item, code):
    item = np.asarray(item, dtype=np.int64)
    code = np.asarray(code, dtype=np.int64)
    if len(item) == 0:
        return np.zeros(0)
    n_items = int(item.max()) + 1
    counts = np.bincount(item * N_CODES + code, minlength=n_items * N_CODES).reshape(n_items, N_CODES)
    others = counts[item]
    others[np.arange(len(code)), code] -= 1
    top = others.max(axis=1)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    defined = (others.sum(axis=1) > 0) & unique_top
    agrees = (others.argmax(axis=1) == code).astype(float)
    return np.where(defined, agrees, np.nan)


def reviewer_summary(encoded):
    if len(encoded) == 0:
        return []
    normal = ~encoded["is_gold"].to_numpy()
    item_codes = pd.factorize(encoded["item"])[0]
    loo = np.full(len(encoded), np.nan)
    loo[normal] = loo_majority_agreement(pd.factorize(item_codes[normal])[0],
                                         encoded["code"].to_numpy()[normal])
    left_won = np.where(normal, encoded["left_won"].to_numpy(dtype=float), np.nan)
    frame = pd.DataFrame({"rater": encoded["rater"].to_numpy(),
                          "seconds": encoded["seconds"].to_numpy(dtype=float), "loo": loo,
                          "gold": encoded["gold_correct"].to_numpy(dtype=float), "left": left_won})
    grouped = frame.groupby("rater", sort=True)
    table = pd.DataFrame({
        "n": grouped.size(), "n_gold": grouped["gold"].count(),
        "median_seconds": grouped["seconds"].median(), "loo_majority_agreement": grouped["loo"].mean(),
        "n_loo": grouped["loo"].count(), "gold_accuracy": grouped["gold"].mean(),
        "left_rate": grouped["left"].mean(), "n_decisive": grouped["left"].count()})
    optional = review.stats.reviewers._float_or_none
    return [{"reviewer": str(rater), "n": int(row["n"]), "n_gold": int(row["n_gold"]),
             "median_seconds": optional(row["median_seconds"]),
             "loo_majority_agreement": optional(row["loo_majority_agreement"]),
             "n_loo": int(row["n_loo"]), "gold_accuracy": optional(row["gold_accuracy"]),
             "left_rate": optional(row["left_rate"]), "n_decisive": int(row["n_decisive"])}
            for rater, row in table.iterrows()]


def inconsistent_reviewers(encoded, rows=None):
    normal = encoded.loc[~encoded["is_gold"].to_numpy()]
    if len(normal) == 0:
        return []
    shares = normal["code"].value_counts(normalize=True).to_numpy()
    chance = float((shares ** 2).sum())
    if rows is None:
        rows = reviewer_summary(normal.drop_duplicates(["item", "rater"], keep="last"))
    return [f"{row['reviewer']} ({row['loo_majority_agreement']:.0%} vs {chance:.0%} by chance)"
            for row in rows if row["n_loo"] >= MIN_LOO_VOTES and row["loo_majority_agreement"] is not None
            and row["loo_majority_agreement"] <= chance]


def completed_prompts(scores, prompts, k):
    scores = np.asarray(scores, dtype=float)
    prompts = np.asarray(prompts)
    if len(scores) == 0:
        return np.zeros(0), np.zeros(0, dtype=int)
    need = np.broadcast_to(np.asarray(k), scores.shape).astype(int)
    rank = pd.Series(prompts).groupby(prompts).cumcount().to_numpy()
    first_k = rank < need
    sums = pd.Series(scores[first_k]).groupby(prompts[first_k]).sum()
    done = np.flatnonzero((rank == need - 1) & (need >= 1))
    return sums.loc[prompts[done]].to_numpy(dtype=float) / need[done], done


def confidence_sequence(x, alpha, grid=review.stats.sequential.GRID):
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    t = np.arange(1, n + 1, dtype=float)
    mean_hat = (0.5 + np.cumsum(x)) / (t + 1.0)
    var_hat = (0.25 + np.cumsum((x - mean_hat) ** 2)) / (t + 1.0)
    previous_var = np.concatenate([[0.25], var_hat[:-1]])
    bet = np.sqrt(2.0 * np.log(2.0 / alpha) / (previous_var * t * np.log(1.0 + t)))
    m = grid[None, :]
    cap = review.stats.sequential.BET_CAP
    cap_up, cap_down = cap / m, cap / (1.0 - m)
    threshold = np.log(2.0 / alpha)
    log_up, log_down = np.zeros(len(grid)), np.zeros(len(grid))
    below, above = np.zeros(len(grid), dtype=bool), np.zeros(len(grid), dtype=bool)
    low, high = np.empty(n), np.empty(n)
    chunk = max(1, review.stats.sequential.CHUNK_CELLS // len(grid))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        diff = x[start:stop, None] - m
        up = log_up + np.cumsum(np.log1p(np.minimum(bet[start:stop, None], cap_up) * diff), axis=0)
        down = log_down + np.cumsum(np.log1p(-np.minimum(bet[start:stop, None], cap_down) * diff), axis=0)
        out_below = below | np.logical_or.accumulate(up >= threshold, axis=0)
        out_above = above | np.logical_or.accumulate(down >= threshold, axis=0)
        log_up, log_down, below, above = up[-1], down[-1], out_below[-1], out_above[-1]
        first_kept = np.where(out_below.all(axis=1), len(grid), (~out_below).argmax(axis=1))
        last_kept = np.where(out_above.all(axis=1), -1, len(grid) - 1 - (~out_above)[:, ::-1].argmax(axis=1))
        low[start:stop] = np.where(first_kept > 0, grid[np.clip(first_kept - 1, 0, len(grid) - 1)], 0.0)
        high[start:stop] = np.where(last_kept < len(grid) - 1, grid[np.clip(last_kept + 1, 0, len(grid) - 1)], 1.0)
    return low, high


def cluster_sums(codes, values, n_clusters):
    sums = np.zeros((n_clusters, np.shape(values)[1]))
    np.add.at(sums, codes, values)
    return sums


def no_background_draws(judgments, *, n_bootstrap, seed):
    """The ratings drew their bootstrap themselves (``bradley_terry`` does without draws)."""
    return None


_ANALYSIS = review.stats.analysis
REPLACED = {
    (review.stats.bootstrap, "resample_patterns"): resample_patterns,
    (review.stats.agreement, "resample_patterns"): resample_patterns,
    (_ANALYSIS, "resample_patterns"): resample_patterns,
    (_ANALYSIS, "alpha_of_resamples"): alpha_of_resamples,
    (review.stats.agreement, "alpha_from_ratings"): alpha_from_ratings,
    (_ANALYSIS, "alpha_from_ratings"): alpha_from_ratings,
    (review.stats.outcomes, "_categorical"): categorical,
    (review.stats.outcomes, "_choices"): choices,
    (review.stats.outcomes, "_strengths"): strengths,
    (review.stats.reviewers, "loo_majority_agreement"): loo_majority_agreement,
    (review.stats.reviewers, "reviewer_summary"): reviewer_summary,
    (_ANALYSIS, "reviewer_summary"): reviewer_summary,
    (review.stats.verdict, "reviewer_summary"): reviewer_summary,
    (review.stats.verdict, "inconsistent_reviewers"): inconsistent_reviewers,
    (review.stats.sequential, "completed_prompts"): completed_prompts,
    (review.stats.verdict, "completed_prompts"): completed_prompts,
    (review.stats.guardrails, "completed_prompts"): completed_prompts,
    (review.stats.sequential, "confidence_sequence"): confidence_sequence,
    (review.stats.guardrails, "confidence_sequence"): confidence_sequence,
    (review.stats.logistic, "cluster_sums"): cluster_sums,
    (_ANALYSIS, "prompt_resamples"): no_background_draws,
}


def use_references(monkeypatch) -> None:
    """Install every reference in place of the code that replaced it."""
    for (module, name), reference in REPLACED.items():
        assert hasattr(module, name), f"{module.__name__}.{name}"
        monkeypatch.setattr(module, name, reference)
