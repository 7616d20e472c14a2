"""The OpenAI-compatible HTTP backend, for vLLM, TGI, the llama.cpp server and the like.

Each prompt is one ``POST {location}/v1/chat/completions`` (``/v1/completions`` with a plain
``role: content`` prompt when ``use_chat_template`` is off; the server applies its own chat
template otherwise, so results record ``chat_template=None``). At most ``batch_size`` requests
are in flight at once. Transient failures (connection errors, timeouts, HTTP 429 and 5xx) are
retried with exponential backoff, honouring ``Retry-After``; other 4xx answers fail at once.

The model is sent as ``ModelSpec.name``; when the server lists its models (``GET /v1/models``)
and serves exactly one under another name, that one is used, so a llama.cpp server or a vLLM
server registered under a friendlier name works without renaming.

Example::

    spec = ModelSpec(kind="endpoint", location="http://localhost:8000", name="Qwen/Qwen2.5-0.5B-Instruct")
    results = list(generate(spec, requests, GenerationParams(max_new_tokens=128), batch_size=32))
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from review.generation import (
    GenerationError,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    ModelSpec,
)
from review.generation.locations import is_url
from review.generation.prompting import plain_prompt, request_seed

BACKEND = "openai"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` tries per request, waiting ``base_delay * 2**n`` (capped)."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 16.0
    timeout: float = 600.0
    connect_timeout: float = 10.0


DEFAULT_RETRY = RetryPolicy()
CHECK_RETRY = RetryPolicy(attempts=2, base_delay=0.5, timeout=10.0, connect_timeout=5.0)


class EndpointClient:
    """A thread-safe client for one OpenAI-compatible server, with retries."""

    def __init__(self, location: str, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        import httpx

        if not is_url(location):
            raise GenerationError(f"endpoint location must be an http(s) URL, got {location!r}")
        base = location.rstrip("/")
        self.base_url = base.removesuffix("/v1")
        self.retry = retry
        self._http = httpx.Client(timeout=httpx.Timeout(retry.timeout, connect=retry.connect_timeout))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, payload: dict | None = None) -> tuple[dict, dict]:
        """(JSON body, headers) of a successful answer, retrying transient failures.

        Raises:
            GenerationError: a permanent error, or a transient one that outlasted the retries.
        """
        import httpx

        url = self.base_url + path
        problem = ""
        for attempt in range(self.retry.attempts):
            delay = min(self.retry.max_delay, self.retry.base_delay * 2 ** attempt)
            delay *= random.uniform(0.5, 1.0)  # jitter, so parallel retries do not stampede
            try:
                response = self._http.request(method, url, json=payload)
            except httpx.TransportError as exc:
                problem = f"cannot reach endpoint URL: {url} ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    problem = f"endpoint {url} answered HTTP {status}: {_error_detail(response)}"
                    delay = _retry_after(response, self.retry.max_delay, default=delay)
                elif status >= 400:
                    raise GenerationError(
                        f"endpoint {url} refused the request: HTTP {status}: {_error_detail(response)}")
                else:
                    try:
                        body = response.json()
                    except ValueError:
                        raise GenerationError(f"endpoint {url} did not answer with JSON") from None
                    if not isinstance(body, dict):
                        raise GenerationError(f"endpoint {url} answered with unexpected JSON")
                    return body, dict(response.headers)
            if attempt + 1 < self.retry.attempts:
                time.sleep(delay)
        raise GenerationError(f"{problem} (gave up after {self.retry.attempts} attempts)")


def _error_detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200] or "no details"
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error:
            return str(error)[:200]
    return str(body)[:200]


def _retry_after(response: Any, cap: float, *, default: float) -> float:
    value = response.headers.get("retry-after")
    try:
        return min(cap, max(0.0, float(value))) if value is not None else default
    except ValueError:
        return default


def served_model_name(client: EndpointClient, name: str) -> str:
    """The model name to send: ``name``, or the server's only model when it serves another.

    Raises:
        GenerationError: the server is unreachable or refuses access, or it serves several
            models and none is called ``name``.
    """
    try:
        body, _headers = client.request("GET", "/v1/models")
    except GenerationError as exc:
        if "HTTP 404" in str(exc):  # the server does not list models; trust the name
            return name or "default"
        raise
    ids = [item.get("id") for item in body.get("data", []) if isinstance(item, dict)]
    ids = [model_id for model_id in ids if isinstance(model_id, str)]
    if not ids or name in ids:
        return name or "default"
    if len(ids) == 1:
        return ids[0]
    wanted = f"none is named {name!r}" if name else "name the one to use"
    raise GenerationError(f"endpoint {client.base_url} serves {', '.join(ids)}; {wanted}")


def check_endpoint(spec: ModelSpec) -> None:
    """Raise :class:`GenerationError` unless the endpoint answers and serves the model."""
    with EndpointClient(spec.location, CHECK_RETRY) as client:
        served_model_name(client, spec.name)


def generate(
    spec: ModelSpec,
    requests: Sequence[GenerationRequest],
    params: GenerationParams,
    *,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[GenerationResult]:
    """Answer ``requests`` through the endpoint, ``batch_size`` at a time; see
    :func:`review.generation.generate`. Results are yielded as they complete."""
    if not requests:
        return
    with EndpointClient(spec.location, DEFAULT_RETRY) as client:
        model = served_model_name(client, spec.name)
        yield from _generate_concurrently(client, model, requests, params, batch_size, progress)


def _generate_concurrently(client: EndpointClient, model: str, requests: Sequence[GenerationRequest],
                           params: GenerationParams, batch_size: int,
                           progress: Callable[[int, int], None] | None) -> Iterator[GenerationResult]:
    pool = ThreadPoolExecutor(max_workers=batch_size, thread_name_prefix="review-endpoint")
    pending: set[Future] = set()
    queue = list(reversed(requests))
    done = 0
    try:
        while queue or pending:
            while queue and len(pending) < batch_size:
                pending.add(pool.submit(answer_one, client, model, queue.pop(), params))
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                result = future.result()
                done += 1
                yield result
                if progress is not None:
                    progress(done, len(requests))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def answer_one(client: EndpointClient, model: str, request: GenerationRequest,
               params: GenerationParams) -> GenerationResult:
    """One request to the server, as a :class:`GenerationResult`."""
    import httpx

    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": request_seed(params.seed, request.key) % 2 ** 31,
        "n": 1,
        "stream": False,
    }
    if params.use_chat_template:
        payload["messages"] = request.messages
        path = "/v1/chat/completions"
    else:
        payload["prompt"] = plain_prompt(request.messages)
        path = "/v1/completions"
    started = time.perf_counter()
    body, headers = client.request("POST", path, payload)
    latency = time.perf_counter() - started
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"] if params.use_chat_template else choice["text"]
    except (KeyError, IndexError, TypeError):
        raise GenerationError(f"endpoint {client.base_url} answered without a completion") from None
    usage = body.get("usage") or {}
    versions = {"httpx": httpx.__version__, "endpoint_model": body.get("model", model)}
    if body.get("system_fingerprint"):
        versions["system_fingerprint"] = body["system_fingerprint"]
    if headers.get("server"):
        versions["server"] = headers["server"]
    return GenerationResult(
        key=request.key,
        text=(text or "").strip(),
        token_count=int(usage.get("completion_tokens") or 0),
        latency_seconds=latency,
        chat_template=None,
        backend=BACKEND,
        library_versions=versions,
        finish_reason=finish_reason(choice.get("finish_reason")),
    )


# How servers say that the model ended its answer: OpenAI and vLLM "stop", TGI "eos_token"
# and "stop_sequence". Every one of them says "length" for an answer cut at max_tokens.
_STOPPED = ("stop", "eos", "eos_token", "stop_sequence")


def finish_reason(reported: Any) -> str | None:
    """A server's ``finish_reason`` as the results record it: ``"length"`` (cut at
    ``max_tokens``), ``"stop"`` (the model ended it), another reason as the server named it
    (``"content_filter"``), None when the server gave none.

    Example:
        >>> finish_reason("length"), finish_reason("eos_token"), finish_reason(None)
        ('length', 'stop', None)
    """
    if not isinstance(reported, str) or not reported.strip():
        return None
    reported = reported.strip().lower()
    return "stop" if reported in _STOPPED else reported
