"""Statistics of blind side-by-side human judgments: pure functions, DataFrames in, plain
dataclasses or dicts out. No database, files or network.

Judgments come as a DataFrame with one row per judgment and the columns ``item``, ``prompt``,
``category``, ``rater``, ``model_left``, ``model_right``, ``choice`` (``left`` | ``right`` |
``tie`` | ``both_bad``), ``strength`` (1..3 or NA), ``seconds``, ``length_left``,
``length_right`` and ``gold`` (the expected winner's model name, ``tie`` or ``both_bad`` on
attention-check items, else None). :func:`analyze` produces the ``review analyze --json``
document from it.

The agreement functions are generic, over a long DataFrame with columns ``item``, ``rater``,
``value``:

    >>> import pandas as pd
    >>> long = pd.DataFrame({"item": [1, 1, 2, 2], "rater": ["a", "b", "a", "b"],
    ...                      "value": ["x", "x", "y", "x"]})
    >>> percent_agreement(long)
    0.5

Modules: :mod:`~review.stats.outcomes` (the one mapping from choices to outcomes),
:mod:`~review.stats.winrate`, :mod:`~review.stats.agreement`, :mod:`~review.stats.bias`,
:mod:`~review.stats.ratings`, :mod:`~review.stats.reviewers`, :mod:`~review.stats.items`,
:mod:`~review.stats.decision`, :mod:`~review.stats.analysis`, with the vectorised resampling in
:mod:`~review.stats.bootstrap`.
"""

from review.stats.agreement import (
    fleiss_kappa,
    krippendorff_alpha,
    krippendorff_alpha_interval,
    pairwise_cohen_kappa,
    percent_agreement,
)
from review.stats.analysis import analyze, decide_study
from review.stats.bias import (
    length_bias,
    length_controlled_win_rate,
    position_bias,
    position_bias_by_reviewer,
)
from review.stats.decision import (
    Decision,
    DecisionEvidence,
    DecisionThresholds,
    additional_judgments_needed,
    decide,
)
from review.stats.items import item_disagreement
from review.stats.outcomes import candidate_outcomes, encode
from review.stats.ratings import Rating, bradley_terry
from review.stats.reviewers import reviewer_summary
from review.stats.winrate import (
    DecisiveWinRate,
    WinRate,
    sign_test,
    wilson_interval,
    win_rate,
    win_rate_by_category,
)

__all__ = [
    "Decision",
    "DecisionEvidence",
    "DecisionThresholds",
    "DecisiveWinRate",
    "Rating",
    "WinRate",
    "additional_judgments_needed",
    "analyze",
    "bradley_terry",
    "candidate_outcomes",
    "decide",
    "decide_study",
    "encode",
    "fleiss_kappa",
    "item_disagreement",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "length_bias",
    "length_controlled_win_rate",
    "pairwise_cohen_kappa",
    "percent_agreement",
    "position_bias",
    "position_bias_by_reviewer",
    "reviewer_summary",
    "sign_test",
    "wilson_interval",
    "win_rate",
    "win_rate_by_category",
]
