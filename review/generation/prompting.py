"""Turning chat messages into model input, and seeds for reproducible sampling."""

from __future__ import annotations

import hashlib


def plain_prompt(messages: list[dict]) -> str:
    """The prompt for a model without a chat template: one ``role: content`` paragraph per message.

    It ends with ``assistant:`` so that a plain language model continues with the answer.

    Example::

        >>> plain_prompt([{"role": "user", "content": "Hi"}])
        'user: Hi\\n\\nassistant:'
    """
    turns = [f"{message['role']}: {message['content']}" for message in messages]
    return "\n\n".join([*turns, "assistant:"])


def request_seed(seed: int, key: str) -> int:
    """A 63-bit seed for one request, derived from the run's seed and the request's key.

    Sampling each request from its own generator makes its answer depend only on (seed, key),
    not on which other prompts shared its batch, so an interrupted run resumes identically.
    """
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)
