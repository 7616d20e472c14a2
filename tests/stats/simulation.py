"""Seeded simulated studies of a candidate against a baseline.

Each prompt has its own difficulty: the probability ``q`` that the candidate's answer is
preferred on it is drawn from Beta(mu * kappa, (1 - mu) * kappa), so reviewers of the same
prompt tend to agree and the judgments of a prompt are correlated (the situation the cluster
bootstrap is for). A judgment is a tie with probability ``tie_rate``, both_bad with probability
``both_bad_rate``, otherwise a win of the candidate with probability ``q``. The population win
rate (ties and both_bad as half a win) is therefore
``(1 - tie_rate - both_bad_rate) * mu + (tie_rate + both_bad_rate) / 2``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIE_RATE = 0.08
BOTH_BAD_RATE = 0.04


def mu_for(win_rate: float) -> float:
    """The mean preference ``mu`` giving a population win rate ``win_rate``."""
    undecided = TIE_RATE + BOTH_BAD_RATE
    return (win_rate - undecided / 2.0) / (1.0 - undecided)


def simulate_study(
    rng: np.random.Generator,
    *,
    win_rate: float,
    n_prompts: int,
    raters_per_prompt: int,
    n_raters: int = 12,
    kappa: float = 1.0,
) -> pd.DataFrame:
    """Judgments of ``n_prompts`` items (one per prompt), each by ``raters_per_prompt`` raters."""
    mu = mu_for(win_rate)
    q = rng.beta(mu * kappa, (1.0 - mu) * kappa, n_prompts)
    k = raters_per_prompt
    prompt = np.repeat(np.arange(n_prompts), k)
    raters = np.argsort(rng.random((n_prompts, n_raters)), axis=1)[:, :k].ravel()
    u = rng.random(len(prompt))
    decided = 1.0 - TIE_RATE - BOTH_BAD_RATE
    candidate_won = u < decided * q[prompt]
    baseline_won = (u >= decided * q[prompt]) & (u < decided)
    tie = (u >= decided) & (u < decided + TIE_RATE)
    candidate_left = rng.random(len(prompt)) < 0.5
    choice = np.where(
        candidate_won,
        np.where(candidate_left, "left", "right"),
        np.where(baseline_won, np.where(candidate_left, "right", "left"),
                 np.where(tie, "tie", "both_bad")),
    )
    names = np.array([f"p{i}" for i in range(n_prompts)], dtype=object)
    return pd.DataFrame(
        {
            "item": names[prompt],
            "prompt": names[prompt],
            "category": None,
            "rater": np.array([f"r{r}" for r in range(n_raters)], dtype=object)[raters],
            "model_left": np.where(candidate_left, "tuned", "base"),
            "model_right": np.where(candidate_left, "base", "tuned"),
            "choice": choice,
            "strength": pd.array([pd.NA] * len(prompt), dtype="Int64"),
            "seconds": 30.0,
            "length_left": pd.array([pd.NA] * len(prompt), dtype="Int64"),
            "length_right": pd.array([pd.NA] * len(prompt), dtype="Int64"),
            "gold": None,
        }
    )
