"""Bradley-Terry ratings of every model in the data, on the Elo scale.

The model: ``P(i beats j) = sigmoid(theta_i - theta_j)``. A tie or a both_bad vote is half a win
each way. Scores are ``1000 + 400 / ln(10) * (theta - theta_anchor)``, so 400 points are a
factor of 10 in the odds of winning, as in Elo and Chatbot Arena. The anchor is the baseline at
1000 when it is given and present; otherwise the mean score is 1000.

Fitting works on the table of counts per model pair (wins of the first, wins of the second,
ties), never on the judgments themselves: Newton-Raphson on the log-likelihood, vectorised over
bootstrap rounds. A weak Gaussian prior on the logits (precision :data:`PRIOR_PRECISION`, i.e. a
standard deviation of 10 logits) keeps the scores finite when a model wins or loses every
comparison and fixes the scale of models not connected to the others; with real data its effect
is a small fraction of an Elo point.

The interval resamples *prompts* with replacement, each with all its judgments (a cluster
bootstrap): judgments of one prompt are correlated, and resampling them one by one, as Chatbot
Arena's bootstrap does, gives intervals that cover the true scores far less often than their
level says when prompts differ in difficulty. Each round's count table is the prompts' count
tables weighted by how often each prompt was drawn (one sparse matrix product per chunk of
rounds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from review.stats.bootstrap import make_rng, percentile_interval
from review.stats.defaults import DEFAULT_BOOTSTRAP
from review.stats.outcomes import A_WINS, B_WINS, encode

ELO_SCALE = 400.0 / np.log(10.0)
ANCHOR_SCORE = 1000.0
PRIOR_PRECISION = 0.01
STREAM_RATINGS = 3
_CHUNK_CELLS = 4_000_000
# The columns of encoded judgments that the bootstrap's count tables are drawn from.
RESAMPLE_COLUMNS = ["model_a", "model_b", "code", "is_gold", "prompt"]


@dataclass(frozen=True)
class Rating:
    """One model's Bradley-Terry score (Elo scale) with its bootstrap interval."""

    model: str
    score: float
    ci_low: float | None
    ci_high: float | None
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairTable:
    """Judgment counts per model pair: ``counts[k] = (first wins, second wins, ties)`` for the
    pair ``(models[first[k]], models[second[k]])``."""

    models: np.ndarray
    first: np.ndarray
    second: np.ndarray
    counts: np.ndarray


def pair_table(encoded: pd.DataFrame) -> PairTable:
    """Aggregate non-gold judgments of distinct models into a :class:`PairTable`.

    Example:
        >>> frame = pd.DataFrame({"item": ["i1", "i1"], "rater": ["ann", "bob"],
        ...     "model_left": ["x", "y"], "model_right": ["y", "x"], "choice": ["left", "tie"]})
        >>> pair_table(frame).counts.tolist()
        [[1, 0, 1]]
    """
    encoded = encode(encoded)
    model_a = encoded["model_a"].cat.codes.to_numpy(np.int64)
    model_b = encoded["model_b"].cat.codes.to_numpy(np.int64)
    usable = ~encoded["is_gold"].to_numpy() & (model_a != model_b)
    model_a, model_b = model_a[usable], model_b[usable]
    code = encoded["code"].to_numpy()[usable]
    present = np.unique(np.concatenate([model_a, model_b]))
    names = np.asarray(encoded["model_a"].cat.categories[present], dtype=object)
    if len(present) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PairTable(names, empty, empty, np.zeros((0, 3), dtype=np.int64))
    compact = np.full(len(encoded["model_a"].cat.categories), -1)
    compact[present] = np.arange(len(present))
    n_models = len(present)
    cell = np.where(code == A_WINS, 0, np.where(code == B_WINS, 1, 2))
    key = compact[model_a] * n_models + compact[model_b]
    counts = np.bincount(key * 3 + cell, minlength=n_models * n_models * 3).reshape(-1, 3)
    pair_keys = np.flatnonzero(counts.sum(axis=1))
    return PairTable(names, pair_keys // n_models, pair_keys % n_models, counts[pair_keys])


def fit_bradley_terry(table: PairTable, counts: np.ndarray | None = None) -> np.ndarray:
    """Bradley-Terry logits for one or many count tables over the same pairs.

    Args:
        table: the pairs (and, when ``counts`` is None, the counts) to fit.
        counts: optional ``(rounds, pairs, 3)`` counts, e.g. bootstrap resamples of the table.

    Returns:
        logits ``(rounds, models)`` (``(1, models)`` without ``counts``), not yet anchored.

    Example:
        >>> table = PairTable(np.array(["a", "b"]), np.array([0]), np.array([1]),
        ...                   np.array([[300, 100, 0]]))
        >>> theta = fit_bradley_terry(table)[0]
        >>> round(float(theta[0] - theta[1]), 3)  # log(300 / 100)
        1.099
    """
    counts = table.counts[None] if counts is None else np.asarray(counts)
    n_models = len(table.models)
    rounds = len(counts)
    if n_models == 0:
        return np.zeros((rounds, 0))
    chunk = max(1, _CHUNK_CELLS // max(1, n_models * n_models + 3 * len(table.first)))
    return np.concatenate(
        [
            _newton(table.first, table.second, counts[start : start + chunk], n_models)
            for start in range(0, rounds, chunk)
        ]
    )


def bradley_terry(
    judgments: pd.DataFrame,
    *,
    anchor: str | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
    resamples: np.ndarray | None = None,
) -> list[Rating]:
    """Bradley-Terry scores (Elo scale) of every model, sorted by score, best first.

    Args:
        judgments: judgments as described in :mod:`review.stats` (or already encoded).
        anchor: model pinned at 1000 (e.g. the baseline); None or absent: the mean is 1000.
        n_bootstrap: bootstrap rounds for the intervals (0: no intervals).
        seed: random seed.
        confidence: interval level.
        resamples: the bootstrap's count tables when already drawn, by
            :func:`prompt_resamples` with the same judgments, rounds and seed.

    Example:
        >>> frame = pd.DataFrame({"item": ["i1"] * 4, "rater": ["r1", "r2", "r3", "r4"],
        ...     "model_left": ["a"] * 4, "model_right": ["b"] * 4,
        ...     "choice": ["left", "left", "left", "right"]})
        >>> [(r.model, round(r.score)) for r in bradley_terry(frame, anchor="b", n_bootstrap=0)]
        [('a', 1190), ('b', 1000)]
    """
    encoded = encode(judgments)
    table = pair_table(encoded)
    models = table.models
    per_model = np.bincount(table.first, table.counts.sum(1), minlength=len(models)) + np.bincount(
        table.second, table.counts.sum(1), minlength=len(models)
    )
    scores = _elo(fit_bradley_terry(table), models, anchor)[0]
    low = high = [None] * len(models)
    if n_bootstrap > 0 and len(table.first):
        if resamples is None:
            resamples = _prompt_resamples(encoded, table, n_bootstrap, make_rng(seed, STREAM_RATINGS))
        bootstrap = _elo(fit_bradley_terry(table, resamples), models, anchor)
        bounds = [percentile_interval(bootstrap[:, m], confidence) for m in range(len(models))]
        low = [b[0] for b in bounds]
        high = [b[1] for b in bounds]
    ratings = [
        Rating(str(models[m]), float(scores[m]), low[m], high[m], int(per_model[m]))
        for m in range(len(models))
    ]
    return sorted(ratings, key=lambda rating: (-rating.score, rating.model))


def prompt_resamples(judgments: pd.DataFrame, *, n_bootstrap: int, seed: int) -> np.ndarray | None:
    """The ``(n_bootstrap, pairs, 3)`` count tables that :func:`bradley_terry` fits, one per
    round of its prompt-cluster bootstrap (None without rounds or model pairs).

    Random draws and a sparse product, no linear algebra: numpy and scipy release the GIL
    while they work, so a caller can draw them on another thread while it computes something
    else. Of encoded judgments they read only :data:`RESAMPLE_COLUMNS`.
    """
    encoded = encode(judgments)
    table = pair_table(encoded)
    if n_bootstrap <= 0 or not len(table.first):
        return None
    return _prompt_resamples(encoded, table, n_bootstrap, make_rng(seed, STREAM_RATINGS))


def _prompt_resamples(encoded: pd.DataFrame, table: PairTable, rounds: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``(rounds, pairs, 3)`` count tables of prompt-cluster bootstrap resamples."""
    encoded = encoded.loc[~encoded["is_gold"].to_numpy()]
    categories = encoded["model_a"].cat.categories
    index = {name: i for i, name in enumerate(table.models)}
    compact = np.array([index.get(name, -1) for name in categories])
    first = compact[encoded["model_a"].cat.codes.to_numpy(np.int64)]
    second = compact[encoded["model_b"].cat.codes.to_numpy(np.int64)]
    usable = (first >= 0) & (second >= 0) & (first != second)
    code = encoded["code"].to_numpy()[usable]
    cell = np.where(code == A_WINS, 0, np.where(code == B_WINS, 1, 2))
    n_models = len(table.models)
    pair_keys = table.first * n_models + table.second
    pair = np.searchsorted(pair_keys, first[usable] * n_models + second[usable])
    prompts, prompt = np.unique(np.asarray(encoded["prompt"].cat.codes)[usable], return_inverse=True)
    per_prompt = sparse.csc_matrix(
        (np.ones(len(pair)), (prompt, pair * 3 + cell)), shape=(len(prompts), len(pair_keys) * 3))
    draws = np.empty((rounds, len(pair_keys) * 3))
    chunk = max(1, _CHUNK_CELLS // max(1, len(prompts)))
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        weights = rng.multinomial(len(prompts), np.full(len(prompts), 1.0 / len(prompts)), size=size)
        draws[start:start + size] = (per_prompt.T @ weights.T).T
    return draws.reshape(rounds, -1, 3)


def _elo(theta: np.ndarray, models: np.ndarray, anchor: str | None) -> np.ndarray:
    if theta.shape[1] == 0:
        return theta
    positions = np.flatnonzero(models == anchor) if anchor is not None else []
    if len(positions):
        reference = theta[:, positions[0]][:, None]
    else:
        reference = theta.mean(axis=1, keepdims=True)
    return ANCHOR_SCORE + ELO_SCALE * (theta - reference)


def _newton(
    first: np.ndarray, second: np.ndarray, counts: np.ndarray, n_models: int
) -> np.ndarray:
    """Maximise the penalised log-likelihood for every round at once (step-halving Newton)."""
    rounds, n_pairs = counts.shape[0], len(first)
    wins = counts[:, :, 0] + 0.5 * counts[:, :, 2]
    totals = counts.sum(axis=2).astype(float)
    pairs = np.arange(n_pairs)
    incidence = sparse.csr_matrix(
        (np.r_[np.ones(n_pairs), -np.ones(n_pairs)], (np.r_[pairs, pairs], np.r_[first, second])),
        shape=(n_pairs, n_models),
    )
    # Row k of `scatter` adds pair k's curvature to H[i,i], H[j,j] and subtracts it at H[i,j], H[j,i].
    scatter = sparse.csr_matrix(
        (
            np.r_[np.ones(2 * n_pairs), -np.ones(2 * n_pairs)],
            (
                np.tile(pairs, 4),
                np.r_[
                    first * n_models + first,
                    second * n_models + second,
                    first * n_models + second,
                    second * n_models + first,
                ],
            ),
        ),
        shape=(n_pairs, n_models * n_models),
    )
    identity = np.eye(n_models)

    def objective(theta: np.ndarray) -> np.ndarray:
        diff = (incidence @ theta.T).T
        likelihood = (wins * diff - totals * np.logaddexp(0.0, diff)).sum(axis=1)
        return likelihood - 0.5 * PRIOR_PRECISION * (theta * theta).sum(axis=1)

    theta = np.zeros((rounds, n_models))
    current = objective(theta)
    for _ in range(100):
        diff = (incidence @ theta.T).T
        prob = expit(diff)
        gradient = (incidence.T @ (wins - totals * prob).T).T - PRIOR_PRECISION * theta
        curvature = totals * prob * (1.0 - prob)
        hessian = (scatter.T @ curvature.T).T.reshape(rounds, n_models, n_models)
        hessian += PRIOR_PRECISION * identity
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        size = np.ones(rounds)
        for _ in range(40):
            trial = theta + size[:, None] * step
            value = objective(trial)
            worse = value < current - 1e-9 * (1.0 + np.abs(current))
            if not worse.any():
                break
            size[worse] /= 2.0
        theta, current = trial, value
        if np.max(np.abs(size[:, None] * step)) < 1e-10:
            break
    return theta
