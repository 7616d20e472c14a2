"""Per-reviewer quality: volume, speed, agreement with the others, gold accuracy, side bias.

* **Leave-one-out majority agreement**: for each judgment, the most common pair-coded vote
  (:mod:`review.stats.outcomes`) among the *other* reviewers of the same item; the judgment
  agrees when it matches. Judgments whose item has no other vote, or whose other votes have no
  unique most common value, are not counted (``n_loo`` says how many were).
* **Gold accuracy**: share of gold (attention-check) judgments matching the expected answer:
  the expected model as winner, or exactly ``tie`` / ``both_bad``.
* **left_rate**: share of the reviewer's decisive non-gold votes that went to the left answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_CODES = 4


def loo_majority_agreement(item: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Per judgment: 1.0 agrees with the leave-one-out majority, 0.0 disagrees, NaN undefined.

    Args:
        item: integer item code of each judgment.
        code: pair code (0..3) of each judgment.

    The answer depends only on the item's vote counts and the judgment's own code, so it is
    worked out once per item and code, then looked up for each judgment.

    Example:
        >>> loo_majority_agreement(np.array([0, 0, 0]), np.array([1, 1, 2])).tolist()
        [nan, nan, 0.0]
    """
    item = np.asarray(item, dtype=np.int64)
    code = np.asarray(code, dtype=np.int64)
    if len(item) == 0:
        return np.zeros(0)
    n_items = int(item.max()) + 1
    counts = np.bincount(item * N_CODES + code, minlength=n_items * N_CODES).reshape(
        n_items, N_CODES
    )
    # others[i, v]: item i's counts without one vote of code v.
    others = counts[:, None, :] - np.eye(N_CODES, dtype=np.int64)[None]
    top = others.max(axis=2)
    unique_top = (others == top[:, :, None]).sum(axis=2) == 1
    defined = (others.sum(axis=2) > 0) & unique_top
    agrees = (others.argmax(axis=2) == np.arange(N_CODES)[None, :]).astype(float)
    answer = np.where(defined, agrees, np.nan)
    return answer[item, code]


def reviewer_summary(encoded: pd.DataFrame) -> list[dict]:
    """One row per reviewer: ``reviewer, n, n_gold, median_seconds, loo_majority_agreement,
    n_loo, gold_accuracy, left_rate``.

    Args:
        encoded: output of :func:`review.stats.outcomes.encode` (one judgment per reviewer and
            item; gold judgments are used only for gold accuracy).

    Example:
        >>> from review.stats.outcomes import encode
        >>> frame = encode(pd.DataFrame({"item": ["i1"] * 4, "rater": ["a", "b", "c", "d"],
        ...     "model_left": ["x", "y", "x", "x"], "model_right": ["y", "x", "y", "y"],
        ...     "choice": ["left", "right", "left", "right"]}))
        >>> [row["loo_majority_agreement"] for row in reviewer_summary(frame)]  # x, x, x, y
        [1.0, 1.0, 1.0, 0.0]
    """
    if len(encoded) == 0:
        return []
    normal = ~encoded["is_gold"].to_numpy()
    item_codes = pd.factorize(encoded["item"])[0]
    loo = np.full(len(encoded), np.nan)
    loo[normal] = loo_majority_agreement(item_codes[normal], encoded["code"].to_numpy()[normal])
    left_won = np.where(normal, encoded["left_won"].to_numpy(dtype=float), np.nan)
    rater, names = _codes_in_name_order(encoded["rater"])
    frame = pd.DataFrame(
        {
            "rater": rater,
            "seconds": encoded["seconds"].to_numpy(dtype=float),
            "loo": loo,
            "gold": encoded["gold_correct"].to_numpy(dtype=float),
            "left": left_won,
        }
    )
    grouped = frame.groupby("rater", sort=True)
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "n_gold": grouped["gold"].count(),
            "median_seconds": grouped["seconds"].median(),
            "loo_majority_agreement": grouped["loo"].mean(),
            "n_loo": grouped["loo"].count(),
            "gold_accuracy": grouped["gold"].mean(),
            "left_rate": grouped["left"].mean(),
            "n_decisive": grouped["left"].count(),
        }
    )
    columns = {name: table[name].to_numpy() for name in table.columns}
    rows = []
    for position, rater in enumerate(table.index):
        row = {name: values[position] for name, values in columns.items()}
        rows.append(
            {
                "reviewer": str(names[rater]),
                "n": int(row["n"]),
                "n_gold": int(row["n_gold"]),
                "median_seconds": _float_or_none(row["median_seconds"]),
                "loo_majority_agreement": _float_or_none(row["loo_majority_agreement"]),
                "n_loo": int(row["n_loo"]),
                "gold_accuracy": _float_or_none(row["gold_accuracy"]),
                "left_rate": _float_or_none(row["left_rate"]),
                "n_decisive": int(row["n_decisive"]),
            }
        )
    return rows


# A reviewer is flagged when their median time per judgment is under this (two answers cannot
# be read faster), when they pick one side far more than chance over enough decisive votes,
# or when they fail gold items (the verdict's own rule).
MIN_READING_SECONDS = 3.0
MIN_FLAG_VOTES = 5
SIDE_FLAG_VOTES = 20
SIDE_FLAG_P = 0.001


def quality_flags(row: dict, *, min_gold_accuracy: float, min_gold_answered: int) -> list[str]:
    """The rules a reviewer's figures break, each as a sentence with its figure and threshold.

    Example:
        >>> quality_flags({"n": 40, "median_seconds": 0.5, "left_rate": 0.9, "n_decisive": 30,
        ...                "gold_accuracy": 0.5, "n_gold": 4}, min_gold_accuracy=0.7, min_gold_answered=3)[0]
        'median 0.5 s per judgment: under the 3 s it takes to read two answers'
    """
    from scipy.stats import binomtest

    flags = []
    seconds = row.get("median_seconds")
    if seconds is not None and row.get("n", 0) >= MIN_FLAG_VOTES and seconds < MIN_READING_SECONDS:
        flags.append(f"median {seconds:.1f} s per judgment: under the {MIN_READING_SECONDS:g} s it "
                     "takes to read two answers")
    left, decisive = row.get("left_rate"), row.get("n_decisive", 0)
    if left is not None and decisive >= SIDE_FLAG_VOTES and binomtest(
            round(left * decisive), decisive, 0.5).pvalue < SIDE_FLAG_P:
        side = "left (A)" if left > 0.5 else "right (B)"
        share = left if left > 0.5 else 1 - left
        flags.append(f"picks the {side} answer in {share:.0%} of {decisive} decisive votes "
                     f"(chance: 50%, p < {SIDE_FLAG_P:g})")
    gold = row.get("gold_accuracy")
    if gold is not None and row.get("n_gold", 0) >= min_gold_answered and gold < min_gold_accuracy:
        flags.append(f"gold accuracy {gold:.0%} on {row['n_gold']} attention checks: under "
                     f"{min_gold_accuracy:.0%} (left out of the verdict)")
    return flags


def _codes_in_name_order(raters: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's reviewer as a number, numbered in the sorted order of the names, and the
    names in that order: grouping by the numbers groups and orders as the names would, faster."""
    codes, names = pd.factorize(raters)
    names = np.asarray(names, dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], names[order]


def _float_or_none(value: float) -> float | None:
    return None if pd.isna(value) else float(value)
