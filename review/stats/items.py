"""Which items reviewers disagree on most: the first place to look for ambiguous prompts,
unclear guidelines or careless votes.

An item's disagreement is the share of disagreeing pairs among all pairs of its pair-coded
votes (1 - its percent agreement); only items with at least two votes are ranked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from review.stats.outcomes import A_WINS, B_WINS, BOTH_BAD, TIE

N_CODES = 4


def item_disagreement(encoded: pd.DataFrame, top: int = 20) -> list[dict]:
    """The ``top`` items with the highest disagreement, most votes first among equals.

    Args:
        encoded: output of :func:`review.stats.outcomes.encode` (non-gold judgments).
        top: how many items to return.

    Returns:
        ``[{item, prompt, category, model_a, model_b, n, disagreement, votes}, ...]`` where
        ``votes`` counts ``model_a`` wins, ``model_b`` wins, ``tie`` and ``both_bad``.

    Example:
        >>> from review.stats.outcomes import encode
        >>> frame = encode(pd.DataFrame({"item": ["i1", "i1"], "rater": ["a", "b"],
        ...     "model_left": ["x", "y"], "model_right": ["y", "x"], "choice": ["left", "left"]}))
        >>> row = item_disagreement(frame)[0]
        >>> row["disagreement"], row["votes"]
        (1.0, {'model_a': 1, 'model_b': 1, 'tie': 0, 'both_bad': 0})
    """
    if len(encoded) == 0 or top <= 0:
        return []
    codes, items = pd.factorize(encoded["item"])
    counts = np.bincount(
        codes * N_CODES + encoded["code"].to_numpy(dtype=np.int64),
        minlength=len(items) * N_CODES,
    ).reshape(len(items), N_CODES)
    votes = counts.sum(axis=1)
    pairs = votes * (votes - 1) / 2.0
    agreeing = (counts * (counts - 1) / 2.0).sum(axis=1)
    ranked = np.flatnonzero(votes >= 2)
    if len(ranked) == 0:
        return []
    disagreement = 1.0 - agreeing[ranked] / pairs[ranked]
    order = np.lexsort((np.asarray(items)[ranked].astype(str), -votes[ranked], -disagreement))
    chosen = ranked[order[:top]]
    first_row = np.unique(codes, return_index=True)[1]
    rows = []
    for position, item_code in enumerate(chosen):
        source = encoded.iloc[first_row[item_code]]
        category = source["category"]
        rows.append(
            {
                "item": str(items[item_code]),
                "prompt": str(source["prompt"]),
                "category": None if pd.isna(category) else str(category),
                "model_a": str(source["model_a"]),
                "model_b": str(source["model_b"]),
                "n": int(votes[item_code]),
                "disagreement": float(disagreement[order[position]]),
                "votes": {
                    "model_a": int(counts[item_code, A_WINS]),
                    "model_b": int(counts[item_code, B_WINS]),
                    "tie": int(counts[item_code, TIE]),
                    "both_bad": int(counts[item_code, BOTH_BAD]),
                },
            }
        )
    return rows
