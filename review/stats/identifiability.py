"""Can the answers' text alone tell the two models apart? If so, reviewers can too, and the
study is not blind in practice.

A TF-IDF (words and word pairs) + logistic regression classifier predicts which model wrote
each answer, cross-validated over prompts (both answers of a prompt are always in the same
fold, so it cannot learn the prompt); a second one sees only the answer's length. Accuracy
near 50% means nothing gives the models away; the study is *flagged* when the text classifier
reaches :data:`FLAG_ACCURACY` and beats chance clearly (one-sided binomial p below
:data:`FLAG_P`). The telling phrases are the classifier's strongest features per model and,
above all, a shared opening: "40 of 42 answers of sft-v1 start with 'Thanks for reaching out'".

``boilerplate`` names the exact sentence to strip: for each model and side (``opening`` or
``closing``), its most common first or last sentence when more than half of its answers
share it and at most a fifth of the other model's do (:func:`shared_sentences`). Stripping it
before answers are shown (``review studies strip``) makes the study blind again; run on the
stripped answers, the check no longer finds it.

At most :data:`MAX_PROMPTS` prompts are used (a seeded sample), which keeps a study of 100,000
items to a few seconds.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

FLAG_ACCURACY = 0.70
FLAG_P = 0.01
MAX_PROMPTS = 2000
FOLDS = 5
MAX_OPENING_WORDS = 10
# A sentence ends at . ! or ? followed by white space, or at a line break.
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
MAX_SENTENCE_CHARS = 300


def identifiability(answers: pd.DataFrame, *, seed: int = 0) -> dict[str, Any] | None:
    """``{"accuracy", "length_only_accuracy", "flagged", "phrases", "boilerplate"}`` for answers
    with columns ``prompt``, ``model`` and ``text`` (exactly two models); None without enough
    answers. ``boilerplate`` is :func:`shared_sentences` of the answers checked.

    Example:
        >>> rows = [{"prompt": f"p{i}", "model": m, "text": (f"Great question! Item {i} is fine."
        ...          if m == "ft" else f"Item {i} is fine.")} for i in range(30) for m in ("ft", "base")]
        >>> result = identifiability(pd.DataFrame(rows))
        >>> result["accuracy"] > 0.9, result["flagged"], result["phrases"][0]
        (True, True, "30 of 30 answers of ft start with 'great question item'")
        >>> even = [{"prompt": f"p{i}", "model": m, "text": f"Answer {i}: {'yes' if (i + (m == 'ft')) % 2 else 'no'}."}
        ...         for i in range(30) for m in ("ft", "base")]
        >>> identifiability(pd.DataFrame(even))["flagged"]
        False
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    frame = answers.dropna(subset=["text"])
    frame = frame.loc[frame["text"].astype(str).str.strip() != ""]
    models = sorted(frame["model"].astype(str).unique())
    if len(models) != 2:
        return None
    prompts = frame["prompt"].astype(str).unique()
    if len(prompts) > MAX_PROMPTS:
        keep = set(np.random.default_rng(seed).choice(prompts, MAX_PROMPTS, replace=False))
        frame = frame.loc[frame["prompt"].astype(str).isin(keep)]
    counts = frame["model"].value_counts()
    if counts.min() < FOLDS or frame["prompt"].nunique() < FOLDS:
        return None
    texts = frame["text"].astype(str).to_numpy()
    labels = (frame["model"].astype(str).to_numpy() == models[1]).astype(int)
    groups = frame["prompt"].astype(str).to_numpy()
    folds = GroupKFold(n_splits=FOLDS)
    text_model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                               LogisticRegression(max_iter=1000, C=4.0))
    predicted = cross_val_predict(text_model, texts, labels, groups=groups, cv=folds)
    accuracy = float(np.mean(predicted == labels))
    lengths = np.log1p(np.array([len(t) for t in texts], dtype=float)).reshape(-1, 1)
    length_predicted = cross_val_predict(LogisticRegression(), lengths, labels, groups=groups, cv=folds)
    length_accuracy = float(np.mean(length_predicted == labels))
    p_value = float(sps.binomtest(int(np.sum(predicted == labels)), len(labels), 0.5,
                                  alternative="greater").pvalue)
    flagged = accuracy >= FLAG_ACCURACY and p_value < FLAG_P
    phrases = _openings(frame, models) + _strongest(text_model.fit(texts, labels), models)
    return {"accuracy": accuracy, "length_only_accuracy": length_accuracy, "flagged": bool(flagged),
            "phrases": phrases[:8], "boilerplate": shared_sentences(frame),
            "p_value": p_value, "n_answers": int(len(labels))}


def sentences(text: str) -> list[str]:
    """The sentences of an answer, each stripped of surrounding white space.

    Example:
        >>> sentences("Hi, thanks for asking! Press the ring.\\nAnything else?")
        ['Hi, thanks for asking!', 'Press the ring.', 'Anything else?']
    """
    return [part for part in SENTENCE_BREAK.split(str(text).strip()) if part]


def shared_sentences(answers: pd.DataFrame) -> list[dict[str, Any]]:
    """Boilerplate to strip: per model and side, the most common opening (first) or closing
    (last) sentence, when more than half of the model's answers have it (at least 3) and at
    most a fifth of the other model's answers do. Only answers of two or more sentences count,
    so stripping never empties an answer.

    Returns ``[{"model", "side", "text", "count", "n"}]``: ``text`` exactly as written,
    ``count`` of the model's ``n`` answers.

    Example:
        >>> rows = [{"prompt": f"p{i}", "model": m, "text": (f"Hi, thanks for asking! Item {i}."
        ...          if m == "ft" else f"Item {i}.")} for i in range(6) for m in ("ft", "base")]
        >>> shared_sentences(pd.DataFrame(rows))
        [{'model': 'ft', 'side': 'opening', 'text': 'Hi, thanks for asking!', 'count': 6, 'n': 6}]
    """
    split = {model: [sentences(t) for t in group["text"].dropna().astype(str)]
             for model, group in answers.groupby(answers["model"].astype(str), sort=True)}
    found = []
    for model, mine in split.items():
        others = [parts for other, texts in split.items() if other != model for parts in texts]
        for side, index in (("opening", 0), ("closing", -1)):
            counts = Counter(parts[index] for parts in mine
                             if len(parts) >= 2 and len(parts[index]) <= MAX_SENTENCE_CHARS)
            if not counts:
                continue
            text, count = counts.most_common(1)[0]
            elsewhere = sum(bool(parts) and parts[index] == text for parts in others)
            if count >= 3 and count > len(mine) / 2 and elsewhere <= len(others) / 5:
                found.append({"model": model, "side": side, "text": text, "count": int(count),
                              "n": len(mine)})
    return found


def _words(text: str) -> list[str]:
    return [w for w in "".join(c.lower() if c.isalnum() else " " for c in text).split() if w]


def _openings(frame: pd.DataFrame, models: list[str]) -> list[str]:
    """The longest opening (2 to 10 words) shared by at least half of one model's answers
    and at most a fifth of the other's."""
    found = []
    for model in models:
        mine = [_words(t) for t in frame.loc[frame["model"].astype(str) == model, "text"].astype(str)]
        other = [_words(t) for t in frame.loc[frame["model"].astype(str) != model, "text"].astype(str)]
        for size in range(MAX_OPENING_WORDS, 1, -1):
            openings = Counter(" ".join(w[:size]) for w in mine if len(w) >= size)
            if not openings:
                continue
            opening, count = openings.most_common(1)[0]
            elsewhere = sum(" ".join(w[:size]) == opening for w in other)
            if count >= max(3, (len(mine) + 1) // 2) and elsewhere <= len(other) // 5:
                found.append(f"{count} of {len(mine)} answers of {model} start with '{opening}'")
                break
    return found


def _strongest(pipeline: Any, models: list[str], per_model: int = 3) -> list[str]:
    vectorizer, classifier = pipeline.steps[0][1], pipeline.steps[1][1]
    names = vectorizer.get_feature_names_out()
    weights = classifier.coef_[0]
    order = np.argsort(weights)
    phrases = [f"'{names[i]}' points to {models[0]}" for i in order[:per_model] if weights[i] < 0]
    phrases += [f"'{names[i]}' points to {models[1]}" for i in order[::-1][:per_model] if weights[i] > 0]
    return phrases
