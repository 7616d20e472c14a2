"""The OpenAI-compatible backend against a real HTTP server on loopback running a tiny model."""

import pytest

from review.generation import (
    GenerationError,
    GenerationParams,
    ModelSpec,
    generate,
    openai_backend,
    validate_model,
)
from review.generation.transformers_backend import generate_loaded, load_model
from tests.generation.openai_server import CompletionServer

GREEDY = GenerationParams(max_new_tokens=10)
FAST_RETRY = openai_backend.RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=30)


@pytest.fixture(scope="module")
def loaded_llama(tiny_llama):
    return load_model(ModelSpec(kind="base", location=str(tiny_llama)))


@pytest.fixture(scope="module")
def server(loaded_llama):
    running = CompletionServer(loaded_llama).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(openai_backend, "DEFAULT_RETRY", FAST_RETRY)
    monkeypatch.setattr(openai_backend, "CHECK_RETRY", FAST_RETRY)


@pytest.fixture()
def endpoint(server):
    server.reset()
    return ModelSpec(kind="endpoint", location=server.url, name="tiny-llama")


def test_endpoint_answers_like_the_model_it_serves(endpoint, loaded_llama, chat_requests):
    remote = {r.key: r for r in generate(endpoint, chat_requests, GREEDY, batch_size=3)}
    local = {r.key: r for r in generate_loaded(loaded_llama, chat_requests, GREEDY)}
    assert set(remote) == set(local)
    for key, result in remote.items():
        assert (result.text, result.token_count) == (local[key].text, local[key].token_count)
        assert result.backend == "openai"
        assert result.chat_template is None
        assert result.library_versions["endpoint_model"] == "tiny-llama"
        assert result.library_versions["server"] == "tiny-openai/1.0"
        assert result.latency_seconds > 0


def test_plain_prompts_use_the_completions_route(endpoint, server, chat_requests):
    plain = GenerationParams(max_new_tokens=6, use_chat_template=False)
    results = list(generate(endpoint, chat_requests[:2], plain))
    assert len(results) == 2
    assert server.statuses("/v1/completions") == [200, 200]


def test_location_may_end_in_v1(server, chat_requests):
    spec = ModelSpec(kind="endpoint", location=server.url + "/v1/", name="tiny-llama")
    assert len(list(generate(spec, chat_requests[:1], GREEDY))) == 1


def test_transient_failures_are_retried(endpoint, server, chat_requests):
    # FAST_RETRY allows 4 attempts: three transient failures, then the answer
    server.fail_next(1, status=503, retry_after="0")
    server.fail_next(1, status=429)
    server.fail_next(1, status=502)
    results = list(generate(endpoint, chat_requests[:1], GREEDY, batch_size=1))
    assert len(results) == 1 and results[0].text
    assert server.statuses("/v1/chat/completions") == [503, 429, 502, 200]


def test_persistent_failures_give_up_with_a_clear_error(endpoint, server, chat_requests):
    server.fail_next(FAST_RETRY.attempts, status=503)
    with pytest.raises(GenerationError, match=r"HTTP 503.*gave up after 4 attempts"):
        list(generate(endpoint, chat_requests[:1], GREEDY, batch_size=1))


def test_client_errors_are_not_retried(endpoint, server, chat_requests):
    server.fail_next(1, status=400)
    with pytest.raises(GenerationError, match="refused the request: HTTP 400"):
        list(generate(endpoint, chat_requests[:1], GREEDY, batch_size=1))
    assert server.statuses("/v1/chat/completions") == [400]


def test_requests_in_flight_are_bounded_by_batch_size(endpoint, server, chat_requests):
    server.delay = 0.1
    try:
        calls = []
        results = list(generate(endpoint, chat_requests, GREEDY, batch_size=2,
                                progress=lambda done, total: calls.append((done, total))))
    finally:
        server.delay = 0.0
    assert len(results) == len(chat_requests)
    assert server.max_in_flight == 2
    assert calls[-1] == (len(chat_requests), len(chat_requests))


def test_the_servers_only_model_is_used_under_another_name(server, chat_requests):
    spec = ModelSpec(kind="endpoint", location=server.url, name="my-friendly-name")
    validate_model(spec)
    (result,) = generate(spec, chat_requests[:1], GREEDY)
    assert result.library_versions["endpoint_model"] == "tiny-llama"


def test_validate_reachable_endpoint(endpoint):
    validate_model(endpoint)
