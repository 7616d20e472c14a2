"""The real transformers path on tiny models: batching, templates, adapters, sampling."""

import dataclasses

import pytest

from review.generation import GenerationParams, GenerationRequest, ModelSpec, generate
from review.generation.transformers_backend import (
    encode_requests,
    generate_loaded,
    length_sorted_batches,
    load_model,
)
from tests.tiny_models import CHATML_TEMPLATE

GREEDY = GenerationParams(max_new_tokens=12)


@pytest.fixture(scope="module")
def llama(tiny_llama):
    return load_model(ModelSpec(kind="base", location=str(tiny_llama)))


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2):
    return load_model(ModelSpec(kind="base", location=str(tiny_gpt2)))


def answers(loaded, requests, params=GREEDY, batch_size=8):
    return {r.key: (r.text, r.token_count) for r in generate_loaded(loaded, requests, params,
                                                                   batch_size=batch_size)}


@pytest.mark.parametrize("model", ["llama", "gpt2"])
def test_batched_greedy_equals_one_by_one(model, request, chat_requests):
    loaded = request.getfixturevalue(model)
    one_by_one = answers(loaded, chat_requests, batch_size=1)
    assert set(one_by_one) == {r.key for r in chat_requests}
    for batch_size in (3, 8):
        assert answers(loaded, chat_requests, batch_size=batch_size) == one_by_one


def test_batched_equals_one_by_one_when_some_rows_stop_early(llama, chat_requests):
    # Make a token that greedy decoding produces mid-answer an end-of-sequence token, so that
    # in a batch some rows finish (and are padded) while others go on.
    free = generate_loaded(llama, chat_requests, GREEDY, batch_size=1)
    first = next(r for r in free if r.key == "p1")
    stop_id = llama.tokenizer(first.text, add_special_tokens=False)["input_ids"][3]
    stopping = dataclasses.replace(llama, eos_token_ids=[*llama.eos_token_ids, stop_id])
    one_by_one = answers(stopping, chat_requests, batch_size=1)
    batched = answers(stopping, chat_requests, batch_size=8)
    assert batched == one_by_one
    counts = [count for _text, count in batched.values()]
    assert min(counts) < GREEDY.max_new_tokens  # at least one row stopped early
    assert max(counts) <= GREEDY.max_new_tokens


def test_result_records_how_it_was_made(llama, chat_requests):
    results = list(generate_loaded(llama, chat_requests[:2], GREEDY))
    for result in results:
        assert result.backend == "transformers"
        assert result.chat_template == CHATML_TEMPLATE
        assert result.device == "cpu" and result.dtype == "float32"
        assert set(result.library_versions) >= {"transformers", "torch"}
        assert result.latency_seconds > 0
        assert 1 <= result.token_count <= GREEDY.max_new_tokens


def test_plain_prompt_without_chat_template(gpt2, llama, chat_requests):
    assert all(r.chat_template is None for r in generate_loaded(gpt2, chat_requests[:2], GREEDY))
    plain = GenerationParams(max_new_tokens=12, use_chat_template=False)
    without = list(generate_loaded(llama, chat_requests[:2], plain))
    assert all(r.chat_template is None for r in without)
    with_template = answers(llama, chat_requests[:2])
    assert {r.key: (r.text, r.token_count) for r in without} != with_template


def test_adapter_changes_the_output(tiny_llama, tiny_llama_adapter, llama, chat_requests):
    spec = ModelSpec(kind="adapter", location=str(tiny_llama_adapter), base_location=str(tiny_llama))
    adapted = list(generate(spec, chat_requests, GREEDY, batch_size=4))
    assert {r.key for r in adapted} == {r.key for r in chat_requests}
    assert all("peft" in r.library_versions for r in adapted)
    base = answers(llama, chat_requests)
    assert {r.key: (r.text, r.token_count) for r in adapted} != base


def test_adapter_batched_equals_one_by_one(tiny_llama, tiny_llama_adapter, chat_requests):
    loaded = load_model(ModelSpec(kind="adapter", location=str(tiny_llama_adapter),
                                  base_location=str(tiny_llama)))
    assert answers(loaded, chat_requests, batch_size=8) == answers(loaded, chat_requests, batch_size=1)


def test_sampling_is_reproducible_and_independent_of_batching(llama, chat_requests):
    sampled = GenerationParams(max_new_tokens=12, temperature=1.0, top_p=0.95, seed=7)
    first = answers(llama, chat_requests, sampled, batch_size=8)
    assert answers(llama, chat_requests, sampled, batch_size=8) == first
    # a prompt's sample depends on (seed, key), not on the prompts that share its batch
    assert answers(llama, chat_requests, sampled, batch_size=2) == first
    assert answers(llama, chat_requests[:1], sampled, batch_size=1)["p0"] == first["p0"]
    other_seed = answers(llama, chat_requests, dataclasses.replace(sampled, seed=8))
    assert other_seed != first
    assert first != answers(llama, chat_requests)


def test_results_are_yielded_batch_by_batch(tiny_llama, chat_requests):
    spec = ModelSpec(kind="base", location=str(tiny_llama))
    calls = []
    iterator = generate(spec, chat_requests, GREEDY, batch_size=3, progress=lambda d, t: calls.append((d, t)))
    first_batch = [next(iterator) for _ in range(3)]
    assert calls == []  # the first batch is handed over before any later batch is generated
    rest = list(iterator)
    assert calls == [(3, 7), (6, 7), (7, 7)]
    assert len({r.key for r in first_batch + rest}) == 7


def test_batches_are_sorted_by_prompt_length(llama, chat_requests):
    batches = length_sorted_batches(encode_requests(llama, chat_requests, GREEDY), 3)
    assert [len(batch) for batch in batches] == [3, 3, 1]
    lengths = [len(item.input_ids) for batch in batches for item in batch]
    assert lengths == sorted(lengths, reverse=True)
    results = list(generate_loaded(llama, chat_requests, GREEDY, batch_size=3))
    assert [r.key for r in results] == [item.request.key for batch in batches for item in batch]


def test_empty_request_list_loads_nothing():
    spec = ModelSpec(kind="base", location="/nonexistent/model")
    assert list(generate(spec, [], GREEDY)) == []


def test_multi_turn_messages_are_rendered_with_the_template(llama):
    request = GenerationRequest(key="m", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "Thanks"},
    ])
    (result,) = generate_loaded(llama, [request], GREEDY)
    assert result.key == "m" and result.chat_template == CHATML_TEMPLATE
