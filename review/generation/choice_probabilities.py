"""How sure a local model was of a one-token choice: the probabilities of the options at the
position where it wrote its choice.

A judge writes its verdict as ``[[A]]``, ``[[B]]`` or ``[[C]]``. Its stated confidence is read
from the model itself: the prompt and the judge's own output up to ``[[`` are run through the
model once more, and the next-token probabilities of ``A``, ``B`` and ``C`` are renormalised
over the three (a graded score instead of a hard vote; prediction-powered inference gains most
from it, see docs/statistics.md).

Example::

    loaded = load_model(spec)
    probabilities = option_probabilities(loaded, request, "... so the verdict is [[",
                                         options=("A", "B", "C"), params=params)
    # {"A": 0.71, "B": 0.22, "C": 0.07}
"""

from __future__ import annotations

from collections.abc import Sequence

from review.generation import GenerationError, GenerationParams, GenerationRequest
from review.generation.transformers_backend import LoadedModel, encode_requests


def option_token_ids(loaded: LoadedModel, options: Sequence[str]) -> list[int]:
    """The first token of each option; refused when two options share it."""
    ids = []
    for option in options:
        tokens = loaded.tokenizer(option, add_special_tokens=False)["input_ids"]
        if not tokens:
            raise GenerationError(f"option {option!r} encodes to no tokens")
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise GenerationError(f"options {list(options)} share a first token")
    return ids


def option_probabilities(loaded: LoadedModel, request: GenerationRequest, prefix: str, *,
                         options: Sequence[str], params: GenerationParams) -> dict[str, float]:
    """Next-token probabilities of ``options`` after the prompt of ``request`` and the answer
    text ``prefix``, renormalised over the options."""
    import torch

    (encoded,) = encode_requests(loaded, [request], params)
    ids = encoded.input_ids + loaded.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    option_ids = option_token_ids(loaded, options)
    with torch.inference_mode():
        logits = loaded.model(input_ids=torch.tensor([ids], device=loaded.model.device)).logits[0, -1]
    chosen = torch.log_softmax(logits.float(), dim=-1)[option_ids]
    probabilities = torch.softmax(chosen, dim=-1).tolist()
    return {option: float(p) for option, p in zip(options, probabilities, strict=True)}
