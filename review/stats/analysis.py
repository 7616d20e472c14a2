"""The whole analysis of a study: the document ``review analyze --json`` prints.

Gold (attention-check) judgments are used only for the reviewers' gold accuracy; every other
figure leaves them out, because their answers are planted rather than judged.

Agreement covers every item, whatever its model pair, with each vote coded relative to the
item's two models in sorted order (:mod:`review.stats.outcomes`), and one vote per reviewer and
item (the last one, should the data hold repeats):

* Krippendorff's alpha, nominal on ``model_a`` / ``model_b`` / ``tie`` / ``both_bad`` and ordinal
  on the 7-point scale -3..+3 (tie and both_bad are 0; a decisive vote without strength counts
  as 2), each with a bootstrap interval over items;
* Fleiss' kappa and pairwise Cohen's kappa on the nominal codes;
* percent agreement the MT-Bench way, with both_bad counted as a tie (MT-Bench's "tie
  (bothbad)" is a kind of tie); "without ties" drops every pair in which either vote is a tie or
  both_bad.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from review.stats.agreement import (
    Ratings,
    alpha_from_ratings,
    alpha_of_resamples,
    cohen_from_ratings,
    fleiss_from_ratings,
    percent_from_ratings,
)
from review.stats.bias import (
    LENGTH_BIAS_KEYS,
    length_bias,
    length_controlled_win_rate,
    position_bias,
    position_bias_by_reviewer,
)
from review.stats.bootstrap import make_rng, percentile_interval, resample_patterns
from review.stats.clustered import cluster_mean_test
from review.stats.decision import Decision
from review.stats.items import item_disagreement
from review.stats.outcomes import (
    A_WINS,
    B_WINS,
    BOTH_BAD,
    PAIR_CODE_LABELS,
    TIE,
    candidate_outcomes,
    encode,
)
from review.stats.ratings import RESAMPLE_COLUMNS, bradley_terry, prompt_resamples
from review.stats.reviewers import quality_flags, reviewer_summary
from review.stats.judged import judge_section
from review.stats.options import AnalysisOptions
from review.stats.verdict import overlap_of, study_verdict, unreliable_reviewers
from review.stats.winrate import outcome_counts, wilson_interval, win_rate_by_category

STREAM_ALPHA = 4
TOP_DISAGREEMENT_ITEMS = 20
ORDINAL_DOMAIN = np.arange(-3, 4)


def analyze(
    judgments: pd.DataFrame,
    options: AnalysisOptions,
    *,
    judge_verdicts: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Analyse a study's judgments: win rates, agreement, biases, ratings and the verdict.

    Args:
        judgments: one row per judgment (columns in :mod:`review.stats`).
        options: the candidate and baseline, thresholds, bootstrap rounds and seed, and what
            the study plans (:class:`AnalysisOptions`).
        judge_verdicts, items: model judges' verdicts and the study's regular items with their
            active-selection columns (:func:`review.stats.judged.judge_section`).

    Returns:
        A JSON-serialisable dict (plain ints, floats, strings, None; never NaN) with the keys of
        the ``review analyze --json`` contract plus ``judgments_saved`` (by a settled anytime
        verdict, of the planned items x overlap), ``n_gold_judgments``, ``win_rate_wilson``,
        ``both_bad_rate``, ``length_bias``, ``position_bias_by_reviewer``, ``reviewers``,
        ``items_disagreement``, ``thresholds``, ``n_bootstrap`` and ``seed``. Candidate-relative
        figures use only items comparing exactly the candidate and the baseline; when either is
        None they are None (``by_category`` is empty, the verdict is None with a reason).

    Example:
        >>> frame = pd.DataFrame({"item": ["i1", "i1", "i2"], "prompt": ["p1", "p1", "p2"],
        ...     "rater": ["ann", "bob", "ann"], "model_left": ["tuned", "base", "base"],
        ...     "model_right": ["base", "tuned", "tuned"], "choice": ["left", "right", "tie"]})
        >>> result = analyze(frame, AnalysisOptions(candidate="tuned", baseline="base", n_bootstrap=100))
        >>> result["counts"]
        {'candidate': 2, 'baseline': 0, 'tie': 1, 'both_bad': 0}
        >>> round(result["win_rate"]["estimate"], 4), result["decision"]["verdict"]
        (0.8333, 'inconclusive')
    """
    candidate, baseline, thresholds = options.candidate, options.baseline, options.thresholds
    n_bootstrap, seed, overlap = options.n_bootstrap, options.seed, options.overlap
    confidence = thresholds.confidence
    encoded = encode(judgments)
    normal = encoded.loc[~encoded["is_gold"].to_numpy()]
    # The ratings' bootstrap tables are drawn on a second core while the rest is computed,
    # from a copy of the columns they need: the threads share no pandas object.
    rating_draws = _in_background(prompt_resamples, normal[RESAMPLE_COLUMNS].copy(),
                                  n_bootstrap=n_bootstrap, seed=seed)
    voted = _one_vote_per_reviewer(normal)

    reviewers = reviewer_summary(pd.concat([voted, encoded.loc[encoded["is_gold"]]]))
    for row in reviewers:
        row["flags"] = quality_flags(row, min_gold_accuracy=thresholds.min_gold_accuracy,
                                     min_gold_answered=thresholds.min_gold_answered)
    agreement = _agreement(voted, n_bootstrap, seed, confidence)
    agreement["n_duplicate_votes_ignored"] = int(len(normal) - len(voted))
    if candidate is None or baseline is None:
        figures = _NO_CANDIDATE
        candidate_frame = None
        decision = Decision(
            None,
            ("no candidate and baseline were given: the study compares several model pairs",),
        )
    else:
        candidate_frame = candidate_outcomes(encoded, candidate, baseline)
        win_rate, _, decision = study_verdict(
            candidate_frame, encoded, thresholds, overlap=overlap, planned_items=options.planned_items,
            n_bootstrap=n_bootstrap, seed=seed, reviewer_rows=reviewers)
        figures = _candidate_figures(candidate_frame, win_rate, n_bootstrap=n_bootstrap,
                                     seed=seed, confidence=confidence)
    section = {"judges": [], "win_rate_ppi": None, "decision": None}
    if judge_verdicts is not None and items is not None:
        section = judge_section(
            normal, judge_verdicts, items, candidate=candidate, baseline=baseline, judge=options.judge,
            use_judge=options.use_judge, overlap=overlap or overlap_of(normal), thresholds=thresholds,
            candidate_frame=candidate_frame, excluded=unreliable_reviewers(encoded, thresholds))
        decision = section["decision"] or decision
    ratings = bradley_terry(normal, anchor=baseline, n_bootstrap=n_bootstrap, seed=seed,
                            confidence=confidence, resamples=rating_draws.result())
    result = {
        "study": options.study,
        "candidate": candidate,
        "baseline": baseline,
        "n_items": int(encoded["item"].nunique()),
        "n_judgments": int(len(encoded)),
        "n_reviewers": int(encoded["rater"].nunique()),
        "counts": figures["counts"],
        "win_rate": figures["win_rate"],
        "decisive_win_rate": figures["decisive_win_rate"],
        "agreement": agreement,
        "position_bias": position_bias(normal["left_won"].to_numpy(),
                                       normal["prompt"].cat.codes.to_numpy()),
        "by_category": figures["by_category"],
        "ratings": [rating.to_dict() for rating in ratings],
        "decision": decision.to_dict(),
        "judges": section["judges"],
        "win_rate_ppi": section["win_rate_ppi"],
        "judgments_saved": decision.judgments_saved,
        "n_gold_judgments": int(len(encoded) - len(normal)),
        "win_rate_wilson": figures["win_rate_wilson"],
        "both_bad_rate": figures["both_bad_rate"],
        "length_bias": _length_bias(normal, candidate_frame, confidence),
        "position_bias_by_reviewer": position_bias_by_reviewer(normal),
        "reviewers": reviewers,
        "items_disagreement": item_disagreement(voted, TOP_DISAGREEMENT_ITEMS),
        "thresholds": thresholds.to_dict(),
        "n_bootstrap": int(n_bootstrap),
        "seed": int(seed),
    }
    return _plain(result)


def decide_study(judgments: pd.DataFrame, options: AnalysisOptions) -> Decision:
    """The verdict of :func:`analyze`, computing only what the decision rule reads.

    Same inputs and options give the same verdict as ``analyze(...)["decision"]`` (without
    model judges), several times faster: what simulations and quick checks need (it skips the
    power analysis, so ``additional_judgments_needed`` is None). It reads the candidate and
    baseline (both needed), thresholds, bootstrap rounds, seed and overlap of ``options``.

    Example:
        >>> frame = pd.DataFrame({"item": ["i1"], "rater": ["ann"], "model_left": ["tuned"],
        ...                       "model_right": ["base"], "choice": ["left"]})
        >>> decide_study(frame, AnalysisOptions(candidate="tuned", baseline="base")).verdict
        'inconclusive'
    """
    encoded = encode(judgments)
    frame = candidate_outcomes(encoded, options.candidate, options.baseline)
    return study_verdict(frame, encoded, options.thresholds, overlap=options.overlap, planned_items=None,
                         n_bootstrap=options.n_bootstrap, seed=options.seed, plan=False)[2]


def _in_background(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
    """``function(*args, **kwargs)`` started on a thread of its own; its result, or its
    exception, comes from the future's ``result()``. Meant for numpy work that releases the
    GIL and calls no BLAS (whose results can depend on how many threads use it at once)."""
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        return executor.submit(function, *args, **kwargs)
    finally:
        executor.shutdown(wait=False)  # the thread ends once the function has returned


def _one_vote_per_reviewer(normal: pd.DataFrame) -> pd.DataFrame:
    return normal.drop_duplicates(["item", "rater"], keep="last")


def _nominal_ratings(voted: pd.DataFrame) -> Ratings:
    return Ratings(
        voted["item"].cat.codes.to_numpy(np.int64),
        voted["rater"].cat.codes.to_numpy(np.int64),
        voted["code"].to_numpy(np.int64),
        np.asarray(voted["item"].cat.categories, dtype=object),
        np.asarray(voted["rater"].cat.categories, dtype=object),
        np.asarray(PAIR_CODE_LABELS),
    )


_NO_CANDIDATE: dict[str, Any] = {
    "counts": None,
    "win_rate": None,
    "decisive_win_rate": None,
    "win_rate_wilson": None,
    "both_bad_rate": None,
    "by_category": [],
}


def _candidate_figures(frame: pd.DataFrame, win_rate: dict[str, Any], *, n_bootstrap: int,
                       seed: int, confidence: float) -> dict[str, Any]:
    scores = frame["score"].to_numpy()
    counts = outcome_counts(frame["outcome"])
    decisive = frame["outcome"].isin(["candidate", "baseline"]).to_numpy()
    won = (frame["outcome"].to_numpy()[decisive] == "candidate").astype(float)
    test = cluster_mean_test(won, frame["prompt"].cat.codes.to_numpy()[decisive], null=0.5,
                             confidence=confidence)
    wilson_low, wilson_high = wilson_interval(float(scores.sum()), len(scores), confidence)
    return {
        "counts": counts,
        "win_rate": win_rate,
        "decisive_win_rate": {
            "estimate": test["estimate"],
            "ci_low": test["ci_low"],
            "ci_high": test["ci_high"],
            "p_value": test["p_value"],
            "n": test["n"],
            "method": "cluster_t_prompt",
        },
        "win_rate_wilson": {
            "estimate": win_rate["estimate"],
            "ci_low": wilson_low,
            "ci_high": wilson_high,
        },
        "both_bad_rate": counts["both_bad"] / len(frame) if len(frame) else None,
        "by_category": win_rate_by_category(
            frame, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence),
    }


def _agreement(voted: pd.DataFrame, n_bootstrap: int, seed: int, confidence: float) -> dict:
    nominal = _nominal_ratings(voted)
    item, code, items = nominal.item, nominal.value, nominal.items
    ordinal = voted["ordinal"].to_numpy(np.int64)

    def ratings(value: np.ndarray, domain: np.ndarray) -> Ratings:
        return Ratings(item, nominal.rater, value, items, nominal.raters, domain)

    # Percent agreement the MT-Bench way: a both_bad vote counts as a tie (code 3 -> 2).
    tie_merged = ratings(np.minimum(code, TIE), np.asarray(PAIR_CODE_LABELS[:3]))
    # Every item in both orientations (model_a/model_b swapped), so that no figure depends on
    # which model's name sorts first: in a study of several pairs, renaming one model would
    # otherwise flip the coding of some pairs only and move alpha and kappa.
    both = np.concatenate([item, item + len(items)])
    mirrored_code = np.concatenate([code, np.select([code == A_WINS, code == B_WINS], [B_WINS, A_WINS], code)])
    two_sided = Ratings(both, np.concatenate([nominal.rater] * 2), mirrored_code,
                        np.concatenate([items, items]), nominal.raters, nominal.domain)
    alpha_nominal = alpha_from_ratings(two_sided, "nominal")
    alpha_ordinal = alpha_from_ratings(
        Ratings(both, two_sided.rater, np.concatenate([ordinal, -ordinal]) + 3, two_sided.items,
                nominal.raters, ORDINAL_DOMAIN), "ordinal")
    cohen = cohen_from_ratings(two_sided)
    cohen["n"] = cohen["n"] // 2  # each shared item was counted in both orientations
    nominal_ci, ordinal_ci = _alpha_intervals(
        item, code, ordinal, len(items), n_bootstrap, make_rng(seed, STREAM_ALPHA), confidence
    )
    per_item = np.bincount(item, minlength=len(items))
    return {
        "krippendorff_alpha_nominal": alpha_nominal,
        "krippendorff_alpha_ordinal": alpha_ordinal,
        "fleiss_kappa": fleiss_from_ratings(two_sided),
        "cohen_kappa": cohen.to_dict("records"),
        "percent_agreement_with_ties": percent_from_ratings(tie_merged),
        "percent_agreement_without_ties": percent_from_ratings(tie_merged, ignore={"tie"}),
        "krippendorff_alpha_nominal_ci": nominal_ci if alpha_nominal is not None else None,
        "krippendorff_alpha_ordinal_ci": ordinal_ci if alpha_ordinal is not None else None,
        "n_items_with_overlap": int((per_item >= 2).sum()),
    }


def _alpha_intervals(
    item: np.ndarray,
    code: np.ndarray,
    ordinal: np.ndarray,
    n_items: int,
    n_bootstrap: int,
    rng: np.random.Generator,
    confidence: float,
) -> tuple[list | None, list | None]:
    """Bootstrap intervals of the nominal and ordinal alpha from one resampling of the items.

    Each item is summarised by its counts over 8 joint values (the 7 ordinal points with
    both_bad apart from tie), from which both the nominal and the ordinal counts follow.
    """
    if n_bootstrap <= 0 or len(item) == 0:
        return None, None
    joint = np.where(code == BOTH_BAD, 7, ordinal + 3)
    counts = np.bincount(item * 8 + joint, minlength=n_items * 8).reshape(n_items, 8)
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0:
        return None, None
    patterns, drawn = resample_patterns(counts, n_bootstrap, rng)
    # Each resampled item counts in both orientations (see _agreement): -v for v, both_bad kept.
    patterns = np.concatenate([patterns, patterns[:, [6, 5, 4, 3, 2, 1, 0, 7]]])
    # As floats once: both levels multiply them with float coincidences.
    twice = np.empty((len(drawn), 2 * drawn.shape[1]))
    twice[:, : drawn.shape[1]] = drawn
    twice[:, drawn.shape[1] :] = drawn
    drawn = twice
    nominal = np.zeros((len(patterns), 4), dtype=patterns.dtype)
    nominal[:, A_WINS] = patterns[:, 4:7].sum(axis=1)
    nominal[:, B_WINS] = patterns[:, 0:3].sum(axis=1)
    nominal[:, TIE] = patterns[:, 3]
    nominal[:, BOTH_BAD] = patterns[:, 7]
    ordinal_patterns = patterns[:, :7].copy()
    ordinal_patterns[:, 3] += patterns[:, 7]
    bounds = []
    for level, level_patterns, domain in (
        ("nominal", nominal, np.arange(4)),
        ("ordinal", ordinal_patterns, ORDINAL_DOMAIN),
    ):
        low, high = percentile_interval(
            alpha_of_resamples(level_patterns, drawn, domain, level), confidence
        )
        bounds.append(None if low is None else [low, high])
    return bounds[0], bounds[1]


def _length_bias(
    normal: pd.DataFrame, candidate_frame: pd.DataFrame | None, confidence: float
) -> dict | None:
    overall = length_bias(normal)
    controlled = (
        length_controlled_win_rate(candidate_frame, confidence)
        if candidate_frame is not None
        else None
    )
    if overall is None and controlled is None:
        return None
    return {**(overall or dict.fromkeys(LENGTH_BIAS_KEYS)), "length_controlled_win_rate": controlled}


def _plain(value: Any) -> Any:
    """Recursively turn numpy scalars into Python ones and NaN / infinity into None."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if pd.isna(value):
        return None
    return value
