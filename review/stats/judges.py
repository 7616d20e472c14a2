"""Model judges against people: agreement, position consistency and the judge's score.

A judge's verdicts come as rows in the judgments layout (``item``, ``rater``, ``model_left``,
``model_right``, ``choice``) plus ``order`` (``ab`` / ``ba``): one row per item and order, the
model shown as Assistant A on the left; ``choice`` is None for an output that held no verdict.

Per item, a judge's vote combines its two orders the MT-Bench way: the same pair code in both
orders is that vote, two different ones (the judge followed the position, not the answers) are
a tie, one parsed order stands alone. Its *score* for a model is the mean over parsed orders of
the judge's probability that the model's answer is better (``prob_left``, ties counting half,
read from a local judge's token probabilities), or, without probabilities, of 1 (that model
won), 0 (the other won) and 1/2 (tie): a judge that changes its mind with the order says 1/2.
That graded score is what PPI and active selection use.

Agreement with people follows MT-Bench's judge-vs-human percent agreement: every pair of the
judge's vote and one human vote on the same item; ``without_ties`` drops pairs where either is a
tie (both_bad counts as a tie).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from review.stats.outcomes import A_WINS, B_WINS, BOTH_BAD, TIE, encode

# A code's score for the item's model_a (pair coding).
_SCORE_A = {A_WINS: 1.0, B_WINS: 0.0, TIE: 0.5, BOTH_BAD: 0.5}


def judge_items(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per (judge, item): ``rater``, ``item``, ``prompt``, ``category``, ``model_a``,
    ``model_b`` (sorted), ``orders`` (parsed orders), ``failed`` (unparsed), ``consistent``
    (both parsed and equal; None unless both parsed), ``code`` (the combined vote, None when
    no order parsed) and ``score_a`` (the judge's score for ``model_a``, NaN when none parsed).

    Example:
        >>> v = pd.DataFrame({"item": ["1", "1"], "rater": ["j", "j"], "order": ["ab", "ba"],
        ...     "model_left": ["ft", "base"], "model_right": ["base", "ft"],
        ...     "choice": ["left", "left"]})
        >>> row = judge_items(v).iloc[0]
        >>> row.model_a, int(row.code), float(row.score_a), bool(row.consistent)
        ('base', 2, 0.5, False)
    """
    if len(verdicts) == 0:
        return pd.DataFrame(columns=["rater", "item", "prompt", "category", "model_a", "model_b",
                                     "orders", "failed", "consistent", "code", "score_a"])
    frame = verdicts.copy()
    parsed = frame["choice"].notna().to_numpy()
    failed = frame.loc[~parsed].groupby(["rater", "item"], observed=True).size()
    parsed_frame = frame.loc[parsed]
    items = frame.drop_duplicates(["rater", "item"])[["rater", "item", "model_left", "model_right"]
                                                      + [c for c in ("prompt", "category") if c in frame]]
    rows = []
    groups: dict = {}
    if len(parsed_frame):
        encoded = encode(parsed_frame.drop(columns=["order"]))
        # Per order, the score for model_a: from the judge's probabilities when it gave them,
        # else from its verdict.
        from_code = encoded["code"].astype(int).map(_SCORE_A).to_numpy(dtype=float)
        prob_left = (encoded["prob_left"].to_numpy(dtype=float) if "prob_left" in encoded
                     else np.full(len(encoded), np.nan))
        left_is_a = encoded["left_is_a"].to_numpy(dtype=bool)
        from_prob = np.where(left_is_a, prob_left, 1.0 - prob_left)
        encoded = encoded.assign(order_score=np.where(np.isnan(from_prob), from_code, from_prob))
        groups = {key: (group["code"].to_numpy(), group["order_score"].to_numpy())
                  for key, group in encoded.groupby(["rater", "item"], observed=True)}
    for record in items.itertuples(index=False):
        rater, item = record.rater, record.item
        model_a, model_b = sorted((record.model_left, record.model_right))
        codes, order_scores = groups.get((rater, item), (np.array([], dtype=int), np.array([])))
        if len(codes) == 0:
            code, score, consistent = None, float("nan"), None
        else:
            consistent = bool(codes[0] == codes[1]) if len(codes) == 2 else None
            code = int(codes[0]) if len(codes) == 1 or consistent else TIE
            score = float(np.mean(order_scores))
        rows.append({"rater": str(rater), "item": str(item),
                     "prompt": str(getattr(record, "prompt", item)),
                     "category": getattr(record, "category", None),
                     "model_a": model_a, "model_b": model_b, "orders": int(len(codes)),
                     "failed": int(failed.get((rater, item), 0)), "consistent": consistent,
                     "code": code, "score_a": score})
    return pd.DataFrame(rows)


def _tie(code: float) -> bool:
    return code in (TIE, BOTH_BAD)


def judge_agreement(items: pd.DataFrame, humans: pd.DataFrame) -> list[dict[str, Any]]:
    """The ``judges`` list of ``review analyze --json``: per judge, its items, failed outputs,
    MT-Bench percent agreement with human votes, Cohen's kappa against the human majority of
    each item (model_a / model_b / tie, strict majority; None when undefined) and position
    consistency (share of items with both orders parsed where they agree).

    ``items``: :func:`judge_items`; ``humans``: the human judgments (gold items removed).
    """
    from sklearn.metrics import cohen_kappa_score

    human = encode(humans) if len(humans) else None
    if human is not None:
        human = human.drop_duplicates(["item", "rater"], keep="last")
        human_codes = pd.DataFrame({"item": human["item"].astype(str).to_numpy(),
                                    "human": human["code"].astype(int).to_numpy()})
        human_codes["human"] = human_codes["human"].where(human_codes["human"] != BOTH_BAD, TIE)
        majority = _majority(human_codes)
    result = []
    for rater, group in items.groupby("rater", sort=True):
        voted = group.loc[group["code"].notna()]
        both = group.loc[group["consistent"].notna()]
        entry: dict[str, Any] = {
            "judge": str(rater), "n": int(len(voted)), "failed": int(group["failed"].sum()),
            "percent_agreement_with_humans": {"with_ties": None, "without_ties": None},
            "cohen_kappa_vs_human_majority": None,
            "position_consistency": float(both["consistent"].astype(bool).mean()) if len(both) else None,
        }
        if human is not None and len(voted):
            codes = voted["code"].astype(int).to_numpy()
            judge_codes = pd.DataFrame({"item": voted["item"].astype(str).to_numpy(),
                                        "category": voted["category"].astype(object).to_numpy(),
                                        "judge": np.where(codes == BOTH_BAD, TIE, codes)})
            pairs = judge_codes.merge(human_codes, on="item")
            if len(pairs):
                same = pairs["judge"].to_numpy() == pairs["human"].to_numpy()
                decisive = ~(pairs["judge"].map(_tie) | pairs["human"].map(_tie)).to_numpy()
                entry["percent_agreement_with_humans"] = {
                    "with_ties": float(same.mean()),
                    "without_ties": float(same[decisive].mean()) if decisive.any() else None}
                entry["by_category"] = [
                    {"category": None if category == "" else str(category), "n": int(len(group)),
                     "percent_agreement_with_ties": float(same[group.index].mean())}
                    for category, group in pairs.groupby(pairs["category"].fillna(""), sort=True)]
            against = judge_codes.merge(majority, on="item")
            if len(against) >= 2:
                with warnings.catch_warnings():  # undefined (one label in common): None below
                    warnings.simplefilter("ignore")
                    kappa = cohen_kappa_score(against["judge"], against["majority"],
                                              labels=[A_WINS, B_WINS, TIE])
                entry["cohen_kappa_vs_human_majority"] = None if np.isnan(kappa) else float(kappa)
        result.append(entry)
    return result


def _majority(codes: pd.DataFrame) -> pd.DataFrame:
    counts = codes.groupby(["item", "human"]).size().rename("votes").reset_index()
    totals = codes.groupby("item").size()
    top = counts.sort_values("votes", ascending=False, kind="stable").drop_duplicates("item")
    top = top.loc[2 * top["votes"].to_numpy() > top["item"].map(totals).to_numpy()]
    return pd.DataFrame({"item": top["item"].to_numpy(), "majority": top["human"].to_numpy()})


def judge_scores(items: pd.DataFrame, judge: str, candidate: str, baseline: str) -> pd.DataFrame:
    """The judge's score for the candidate per item of the candidate-vs-baseline pair:
    ``item``, ``prompt``, ``category``, ``score`` (NaN where every output failed).

    Example:
        >>> v = pd.DataFrame({"item": ["1", "1"], "rater": ["j", "j"], "order": ["ab", "ba"],
        ...     "model_left": ["ft", "base"], "model_right": ["base", "ft"],
        ...     "choice": ["left", "right"]})
        >>> judge_scores(judge_items(v), "j", "ft", "base")["score"].tolist()
        [1.0]
    """
    mine = items.loc[(items["rater"] == judge)]
    pair = mine.loc[(mine["model_a"] == min(candidate, baseline))
                    & (mine["model_b"] == max(candidate, baseline))]
    score = pair["score_a"].to_numpy(dtype=float)
    if candidate > baseline:  # the candidate is model_b
        score = 1.0 - score
    return pd.DataFrame({"item": pair["item"].to_numpy(), "prompt": pair["prompt"].to_numpy(),
                         "category": pair["category"].to_numpy(), "score": score})
