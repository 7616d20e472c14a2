"""Which items reviewers disagree on most: the first place to look for ambiguous prompts,
unclear guidelines or careless votes.

An item's disagreement is the share of disagreeing pairs among all pairs of its pair-coded
votes (1 - its percent agreement); only items with at least two votes are ranked.

Also per item: the answer a majority preferred (:func:`item_majority`, for DPO pairs) and vote
counts per model pair (:func:`vote_pairs`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from review.stats.outcomes import A_WINS, B_WINS, BOTH_BAD, TIE, encode

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


def vote_pairs(encoded: pd.DataFrame) -> list[dict[str, Any]]:
    """Vote counts per model pair (models sorted), most judged pair first.

    Args:
        encoded: non-gold judgments, as :func:`review.stats.encode` returns them.

    Returns:
        ``[{model_a, model_b, model_a_wins, model_b_wins, tie, both_bad, n}, ...]``.
    """
    if len(encoded) == 0:
        return []
    plain = pd.DataFrame({"model_a": encoded["model_a"].astype(str).to_numpy(dtype=object),
                          "model_b": encoded["model_b"].astype(str).to_numpy(dtype=object),
                          "code": encoded["code"].to_numpy(dtype=np.int64)})
    counts = (plain.groupby(["model_a", "model_b", "code"]).size()
              .unstack("code", fill_value=0).reindex(columns=range(4), fill_value=0))
    rows = []
    for (model_a, model_b), row in counts.iterrows():
        values = [int(v) for v in row.to_numpy()]
        rows.append({"model_a": str(model_a), "model_b": str(model_b), "model_a_wins": values[0],
                     "model_b_wins": values[1], "tie": values[2], "both_bad": values[3],
                     "n": sum(values)})
    return sorted(rows, key=lambda r: (-r["n"], r["model_a"], r["model_b"]))


def item_majority(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per item, the model that more than half of its reviewers preferred.

    One vote per reviewer and item (the last one). Items whose majority is tie or both_bad,
    and items without a majority, are left out. Gold items should be removed first.

    Returns a DataFrame with ``item``, ``winner`` (model name), ``loser``, ``votes`` (for the
    winner) and ``n_votes``, items in order of first appearance.

    Example:
        >>> frame = pd.DataFrame({"item": ["1", "1", "1", "2", "2"],
        ...     "rater": ["a", "b", "c", "a", "b"], "model_left": ["ft", "base", "ft", "ft", "ft"],
        ...     "model_right": ["base", "ft", "base", "base", "base"],
        ...     "choice": ["left", "right", "right", "left", "right"]})
        >>> item_majority(frame)[["item", "winner", "votes", "n_votes"]].values.tolist()
        [['1', 'ft', 2, 3]]
    """
    encoded = encode(judgments)
    winner = encoded["winner"].astype(object)
    pick = winner.where(winner.notna(), encoded["choice"].astype(object))
    plain = pd.DataFrame({
        "item": encoded["item"].astype(str).to_numpy(dtype=object),
        "rater": encoded["rater"].astype(str).to_numpy(dtype=object),
        "pick": pick.to_numpy(dtype=object),
        "model_a": encoded["model_a"].astype(str).to_numpy(dtype=object),
        "model_b": encoded["model_b"].astype(str).to_numpy(dtype=object),
    }).drop_duplicates(["item", "rater"], keep="last")
    columns = ["item", "winner", "loser", "votes", "n_votes"]
    if plain.empty:
        return pd.DataFrame(columns=columns)
    n_votes = plain.groupby("item", sort=False).size()
    counts = plain.groupby(["item", "pick"], sort=False).size().rename("votes").reset_index()
    top = counts.sort_values("votes", ascending=False, kind="stable").drop_duplicates("item")
    top["n_votes"] = top["item"].map(n_votes)
    pairs = plain.drop_duplicates("item").set_index("item")
    top = top[(2 * top["votes"] > top["n_votes"]) & ~top["pick"].isin(["tie", "both_bad"])]
    top = top.set_index("item").reindex([i for i in n_votes.index if i in set(top["item"])])
    loser = np.where(top["pick"].to_numpy() == pairs.loc[top.index, "model_a"].to_numpy(),
                     pairs.loc[top.index, "model_b"].to_numpy(), pairs.loc[top.index, "model_a"].to_numpy())
    return pd.DataFrame({"item": top.index.to_numpy(dtype=object), "winner": top["pick"].to_numpy(dtype=object),
                         "loser": loser, "votes": top["votes"].astype(int).to_numpy(),
                         "n_votes": top["n_votes"].astype(int).to_numpy()}, columns=columns)
