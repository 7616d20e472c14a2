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
    others = counts[item]
    others[np.arange(len(code)), code] -= 1
    top = others.max(axis=1)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    defined = (others.sum(axis=1) > 0) & unique_top
    agrees = (others.argmax(axis=1) == code).astype(float)
    return np.where(defined, agrees, np.nan)


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
    loo[normal] = loo_majority_agreement(
        pd.factorize(item_codes[normal])[0], encoded["code"].to_numpy()[normal]
    )
    left_won = np.where(normal, encoded["left_won"].to_numpy(dtype=float), np.nan)
    frame = pd.DataFrame(
        {
            "rater": encoded["rater"].to_numpy(),
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
        }
    )
    rows = []
    for rater, row in table.iterrows():
        rows.append(
            {
                "reviewer": str(rater),
                "n": int(row["n"]),
                "n_gold": int(row["n_gold"]),
                "median_seconds": _float_or_none(row["median_seconds"]),
                "loo_majority_agreement": _float_or_none(row["loo_majority_agreement"]),
                "n_loo": int(row["n_loo"]),
                "gold_accuracy": _float_or_none(row["gold_accuracy"]),
                "left_rate": _float_or_none(row["left_rate"]),
            }
        )
    return rows


def _float_or_none(value: float) -> float | None:
    return None if pd.isna(value) else float(value)
