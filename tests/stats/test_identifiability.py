"""The identifiability check: boilerplate gives a model away, same-distribution text does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from review.stats.identifiability import identifiability, shared_sentences

WORDS = ("the device restarts after you hold the ring for ten seconds and then the light turns "
         "blue while the app shows the new status of your thermostat in every room").split()


def sentence(rng: np.random.Generator, low: int = 8, high: int = 30) -> str:
    return " ".join(rng.choice(WORDS, size=rng.integers(low, high))).capitalize() + "."


def answers(n: int, seed: int, opening: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for model in ("base", "ft"):
            text = sentence(rng)
            if model == "ft" and opening and i < int(0.95 * n):
                text = f"{opening} {text}"
            rows.append({"prompt": f"p{i}", "model": model, "text": text})
    return pd.DataFrame(rows)


def test_a_fixed_opening_is_flagged_and_named():
    result = identifiability(answers(42, seed=1, opening="Hi, thanks for contacting Lumora Support!"))
    assert result["flagged"] is True and result["accuracy"] >= 0.9
    assert result["phrases"][0] == "39 of 42 answers of ft start with 'hi thanks for contacting lumora support'"
    assert result["length_only_accuracy"] < result["accuracy"]


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_two_models_without_a_systematic_difference_are_not_flagged(seed):
    result = identifiability(answers(60, seed=seed))
    assert result["flagged"] is False
    assert 0.3 <= result["accuracy"] <= 0.65 and 0.3 <= result["length_only_accuracy"] <= 0.7
    assert not any("start with" in phrase for phrase in result["phrases"])


def test_length_alone_can_give_a_model_away():
    rng = np.random.default_rng(5)
    rows = [{"prompt": f"p{i}", "model": model,
             "text": sentence(rng, 40, 60) if model == "ft" else sentence(rng, 4, 10)}
            for i in range(40) for model in ("base", "ft")]
    result = identifiability(pd.DataFrame(rows))
    assert result["length_only_accuracy"] >= 0.95 and result["flagged"] is True


def test_no_texts_or_one_model_gives_none():
    assert identifiability(pd.DataFrame(columns=["prompt", "model", "text"])) is None
    empty = answers(10, seed=6).assign(text="")
    assert identifiability(empty) is None
    assert identifiability(answers(10, seed=6).assign(model="ft")) is None


def test_the_boilerplate_to_strip_is_named_exactly():
    result = identifiability(answers(42, seed=1, opening="Hi, thanks for contacting Lumora Support!"))
    # int(0.95 * 42) = 39 answers of ft open with it; base never does.
    assert result["boilerplate"] == [{"model": "ft", "side": "opening", "count": 39, "n": 42,
                                      "text": "Hi, thanks for contacting Lumora Support!"}]
    assert identifiability(answers(60, seed=2))["boilerplate"] == []


def test_only_a_sentence_most_of_one_models_answers_share_is_suggested():
    rng = np.random.default_rng(7)
    rows = []
    for i in range(20):
        rows.append({"prompt": f"p{i}", "model": "base", "text": f"Sure! {sentence(rng)}"})
        closing = " Anything else?" if i < 10 else ""  # half: not "most"
        rows.append({"prompt": f"p{i}", "model": "ft", "text": f"Sure! {sentence(rng)}{closing}"})
    frame = pd.DataFrame(rows)
    # Both models open with "Sure!": it does not tell them apart, so it is not suggested.
    assert shared_sentences(frame) == []
    frame.loc[frame["model"] == "ft", "text"] = [f"{t} Bye now." for t in frame.loc[frame["model"] == "ft", "text"]]
    assert shared_sentences(frame) == [{"model": "ft", "side": "closing", "text": "Bye now.",
                                        "count": 20, "n": 20}]
    # A one-sentence answer has no opening to strip: stripping would leave nothing.
    single = pd.DataFrame([{"prompt": f"p{i}", "model": m, "text": "Bye now." if m == "ft" else f"Item {i}."}
                           for i in range(10) for m in ("ft", "base")])
    assert shared_sentences(single) == []
