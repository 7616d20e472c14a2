"""Statistics of blind side-by-side human judgments: pure functions, DataFrames in, plain
dataclasses or dicts out. No database, files or network.

Judgments come as a DataFrame with one row per judgment and the columns ``item``, ``prompt``,
``category``, ``rater``, ``model_left``, ``model_right``, ``choice`` (``left`` | ``right`` |
``tie`` | ``both_bad``), ``strength`` (1..3 or NA), ``seconds``, ``length_left``,
``length_right`` and ``gold`` (the expected winner's model name, ``tie`` or ``both_bad`` on
attention-check items, else None). :func:`analyze` produces the ``review analyze --json``
document from it, for the candidate, baseline and settings in an :class:`AnalysisOptions`.

The agreement functions are generic, over a long DataFrame with columns ``item``, ``rater``,
``value``:

    >>> import pandas as pd
    >>> long = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["a", "b", "a", "b"],
    ...                      "value": ["x", "x", "y", "x"]})
    >>> percent_agreement(long)
    0.5

The names below are loaded on first use, so that importing one small module of this package
(such as :mod:`~review.stats.choices`, which the database schema reads) loads no numerical
library.

Modules: :mod:`~review.stats.choices` (the vote choices), :mod:`~review.stats.outcomes` (the
one mapping from choices to outcomes),
:mod:`~review.stats.winrate`, :mod:`~review.stats.agreement`, :mod:`~review.stats.bias`,
:mod:`~review.stats.ratings`, :mod:`~review.stats.reviewers`, :mod:`~review.stats.items`,
:mod:`~review.stats.decision`, :mod:`~review.stats.analysis`, with the vectorised resampling in
:mod:`~review.stats.bootstrap`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisOptions": "review.stats.options",
    "Decision": "review.stats.decision",
    "DecisionEvidence": "review.stats.decision",
    "DecisionThresholds": "review.stats.decision",
    "DecisiveWinRate": "review.stats.winrate",
    "Rating": "review.stats.ratings",
    "WinRate": "review.stats.winrate",
    "analyze": "review.stats.analysis",
    "bradley_terry": "review.stats.ratings",
    "cluster_mean_test": "review.stats.clustered",
    "confidence_sequence": "review.stats.sequential",
    "candidate_outcomes": "review.stats.outcomes",
    "decide": "review.stats.decision",
    "decide_study": "review.stats.analysis",
    "encode": "review.stats.outcomes",
    "fleiss_kappa": "review.stats.agreement",
    "guardrail_checks": "review.stats.guardrails",
    "item_disagreement": "review.stats.items",
    "judgments_for_power": "review.stats.planning",
    "krippendorff_alpha": "review.stats.agreement",
    "krippendorff_alpha_interval": "review.stats.agreement",
    "length_bias": "review.stats.bias",
    "length_controlled_win_rate": "review.stats.bias",
    "pairwise_cohen_kappa": "review.stats.agreement",
    "percent_agreement": "review.stats.agreement",
    "position_bias": "review.stats.bias",
    "position_bias_by_reviewer": "review.stats.bias",
    "reviewer_summary": "review.stats.reviewers",
    "run_confidence": "review.stats.decision",
    "sign_test": "review.stats.winrate",
    "wilson_interval": "review.stats.winrate",
    "win_rate": "review.stats.winrate",
    "win_rate_by_category": "review.stats.winrate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'review.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
