"""Generating answers to prompts with a model: one signature for every backend.

Two backends share the same callable signature and return the same record type:

- ``transformers`` (:mod:`review.generation.transformers_backend`): local folders, hub ids,
  PEFT/LoRA adapters on their base, and ``.gguf`` files, on the GPU when there is one (bf16,
  batched) and on the CPU otherwise (float32).
- ``openai`` (:mod:`review.generation.openai_backend`): any server speaking the OpenAI
  chat-completions protocol (vLLM, TGI, llama.cpp server), for models registered with
  kind ``endpoint``.

Backends are imported only when used, so importing this package stays cheap (no torch).

Example::

    from review.generation import GenerationParams, GenerationRequest, ModelSpec, generate

    spec = ModelSpec(kind="base", location="data/models/SmolLM2-135M-Instruct", name="base")
    requests = [GenerationRequest(key="p1", messages=[{"role": "user", "content": "Hi!"}])]
    for result in generate(spec, requests, GenerationParams(max_new_tokens=64)):
        print(result.key, result.text)
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

from review.core.errors import ReviewError
from review.core.models import MODEL_KINDS

__all__ = [
    "BACKEND_MODULES",
    "GenerationError",
    "GenerationParams",
    "GenerationRequest",
    "GenerationResult",
    "ModelSpec",
    "backend_for",
    "generate",
    "validate_model",
]

# Backend name -> module exposing ``generate(spec, requests, params, *, batch_size, progress)``.
BACKEND_MODULES = {
    "transformers": "review.generation.transformers_backend",
    "openai": "review.generation.openai_backend",
}


class GenerationError(ReviewError):
    """A model cannot be loaded or called; the message says what is wrong, in one line.

    Raised for a missing path, a folder that holds no model, an adapter that does not fit its
    base, a corrupted weights file, an unreachable endpoint, or a request the server refuses.
    """


@dataclass(frozen=True)
class ModelSpec:
    """What a backend needs to load or call a model, independent of the database.

    Args:
        kind: ``"base"``, ``"finetune"``, ``"adapter"`` or ``"endpoint"``.
        location: a local folder, a hub id, a path to a ``.gguf`` file, or, for endpoints, the
            server's base URL (``http://host:8000`` or ``http://host:8000/v1``).
        base_location: for adapters, the location of the base model the adapter is applied to.
        name: the model's name; endpoint backends send it as the request's ``model``.
    """

    kind: str
    location: str
    base_location: str | None = None
    name: str = ""


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters; together with the model and prompt they identify a generation.

    ``temperature == 0`` means greedy decoding. With ``temperature > 0`` answers are sampled,
    and the same ``seed`` gives the same answer for the same prompt.

    Example::

        GenerationParams(max_new_tokens=128).params_hash()  # stable 64-hex-digit id
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    use_chat_template: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise GenerationError(f"temperature must not be negative, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise GenerationError(f"top_p must be in (0, 1], got {self.top_p}")

    def to_dict(self) -> dict:
        """The parameters as a plain dict (JSON-serialisable)."""
        return {
            "max_new_tokens": int(self.max_new_tokens),
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "seed": int(self.seed),
            "use_chat_template": bool(self.use_chat_template),
        }

    def params_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict` (sorted keys, no spaces)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to answer.

    Args:
        key: the caller's id for the prompt, returned unchanged on the result.
        messages: chat messages ``[{"role": "user", "content": "..."}, ...]``; the last one is
            the user's turn to answer.
    """

    key: str
    messages: list[dict]


@dataclass
class GenerationResult:
    """One answer, with what is needed to reproduce it.

    ``latency_seconds`` is the wall time from the start of the request (or of the batch it was
    generated in) until the answer was complete. ``token_count`` counts generated tokens,
    including a final end-of-sequence token and excluding padding. ``finish_reason`` says why
    the answer ended: ``"stop"`` (the model ended it) or ``"length"`` (cut at
    ``max_new_tokens``, most likely mid-sentence); None when the backend did not say.
    """

    key: str
    text: str
    token_count: int
    latency_seconds: float
    chat_template: str | None
    backend: str
    library_versions: dict
    device: str | None = None
    dtype: str | None = None
    finish_reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def backend_for(spec: ModelSpec) -> str:
    """The name of the backend that serves ``spec``: ``"openai"`` for endpoints, else ``"transformers"``."""
    if spec.kind not in MODEL_KINDS:
        raise GenerationError(f"unknown model kind {spec.kind!r}: expected one of {', '.join(MODEL_KINDS)}")
    return "openai" if spec.kind == "endpoint" else "transformers"


def check_requests(requests: Sequence[GenerationRequest]) -> None:
    """Raise :class:`GenerationError` unless every request is a well-formed chat ending in a user turn."""
    seen: set[str] = set()
    for request in requests:
        if request.key in seen:
            raise GenerationError(f"duplicate request key {request.key!r}")
        seen.add(request.key)
        messages = request.messages
        if not messages:
            raise GenerationError(f"request {request.key!r} has no messages")
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("content"), str) \
                    or message.get("role") not in ("system", "user", "assistant"):
                raise GenerationError(
                    f"request {request.key!r}: each message needs a role (system, user or assistant) "
                    f"and a text content, got {message!r}")
        if messages[-1]["role"] != "user":
            raise GenerationError(f"request {request.key!r}: the last message must be the user's")


def generate(
    spec: ModelSpec,
    requests: Sequence[GenerationRequest],
    params: GenerationParams,
    *,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[GenerationResult]:
    """Answer ``requests`` with the model ``spec``, yielding results as each batch completes.

    Results come batch by batch (not in request order; match them by ``key``), so a caller can
    store each batch as it arrives and, after an interruption, call again with the prompts
    that have no answer yet.

    Args:
        spec: the model to use; ``kind == "endpoint"`` goes to the OpenAI-compatible backend,
            every other kind to transformers.
        requests: the prompts to answer; keys must be unique.
        params: decoding parameters.
        batch_size: prompts generated together (transformers) or requests in flight at once
            (endpoints).
        progress: called as ``progress(done, total)`` after each batch.

    Raises:
        GenerationError: the model cannot be loaded or called, or a request is malformed.
    """
    if batch_size < 1:
        raise GenerationError(f"batch_size must be at least 1, got {batch_size}")
    check_requests(requests)
    backend = importlib.import_module(BACKEND_MODULES[backend_for(spec)])
    return backend.generate(spec, requests, params, batch_size=batch_size, progress=progress)


def validate_model(spec: ModelSpec) -> None:
    """Check cheaply, without loading the weights, that ``spec`` can be used; raise if not.

    Checks that the path exists and holds a model (``config.json``, ``adapter_config.json`` or
    a ``.gguf`` file), that weights files are not truncated or corrupted (safetensors and GGUF
    headers), that an adapter's layers fit its base model, and that an endpoint answers.

    Raises:
        GenerationError: with a one-line message saying what is wrong.
    """
    from review.generation.validation import validate_model as _validate

    backend_for(spec)
    _validate(spec)
