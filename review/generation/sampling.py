"""Seeded sampling that does not depend on batch composition (imports torch: load lazily).

Each row of a batch draws its randomness from its own ``torch.Generator``, seeded from the
run's seed and the request's key. A sample is taken with the Gumbel-max trick: adding
independent Gumbel noise to the log-probabilities and taking the argmax draws exactly from
the (temperature-scaled, top-p-filtered) distribution. Greedy decoding over the perturbed
scores then is sampling, and a prompt gets the same answer alone or in any batch.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor, TopPLogitsWarper


class SeededGumbelSampler(LogitsProcessor):
    """Perturb scores so that greedy decoding samples, one generator per batch row.

    Args:
        seeds: one seed per row of the batch, in row order.
        temperature: > 0; scores are divided by it.
        top_p: nucleus filtering threshold (1.0 keeps all tokens).
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float) -> None:
        if temperature <= 0:
            raise ValueError("SeededGumbelSampler needs temperature > 0")
        self.seeds = list(seeds)
        self.temperature = float(temperature)
        self.top_p = TopPLogitsWarper(top_p) if top_p < 1.0 else None
        self.generators: list[torch.Generator] | None = None

    def _generators(self, device: torch.device) -> list[torch.Generator]:
        if self.generators is None:
            self.generators = []
            for seed in self.seeds:
                generator = torch.Generator(device=device)
                generator.manual_seed(seed)
                self.generators.append(generator)
        return self.generators

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float() / self.temperature
        if self.top_p is not None:
            scores = self.top_p(input_ids, scores)
        log_probs = torch.log_softmax(scores, dim=-1)
        generators = self._generators(scores.device)
        tiny = torch.finfo(torch.float32).tiny
        noise = torch.stack([
            torch.rand(scores.shape[-1], generator=generator, device=scores.device)
            for generator in generators
        ]).clamp_min_(tiny)
        gumbel = -torch.log(-torch.log(noise))
        return log_probs + gumbel
