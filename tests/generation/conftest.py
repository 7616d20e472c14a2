"""Fixtures for the generation tests (the tiny models come from tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture()
def chat_requests():
    from review.generation import GenerationRequest

    texts = [
        "Hello!",
        "How do I restart the thermostat? Please help with the ring and the ten seconds.",
        "What is two plus two?",
        "Error code E2 on my device, what does it mean and how do I fix the Wi-Fi connection?",
        "Write a poem.",
        "Thanks",
    ]
    requests = [GenerationRequest(key=f"p{i}", messages=[{"role": "user", "content": text}])
                for i, text in enumerate(texts)]
    requests.append(GenerationRequest(key="multi", messages=[
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And two plus two?"},
    ]))
    return requests
