"""Why an answer ended, recorded for every generation: ``"length"`` when it was cut at
max_new_tokens (most likely mid-sentence), ``"stop"`` when the model ended it; stored in the
generation's meta by the generation job and counted per model in the analysis
(``truncated_answers``).

Which way an answer of the tiny (random) Llama ends is read from the tokens it writes; to
have answers of both kinds in one batch, it is told that a token it writes early in one answer
is an end-of-sequence token (as the backend tests do).
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from review.core.db import session_scope
from review.core.models import Comparison, Generation, Prompt, Study
from review.generation import GenerationParams, GenerationRequest, ModelSpec, generate, openai_backend
from review.generation import transformers_backend
from review.generation.job import generate_answers
from review.generation.openai_backend import finish_reason
from review.generation.transformers_backend import generate_loaded, load_model
from tests.factories import make_generation, make_model, make_prompt_set
from tests.generation.openai_server import CompletionServer

MAX_NEW_TOKENS = 8
PARAMS = GenerationParams(max_new_tokens=MAX_NEW_TOKENS)
QUESTIONS = ["Question 0?", "Question 1?", "Question 2?"]  # the factory's prompts


def _request(key: str, text: str) -> GenerationRequest:
    return GenerationRequest(key=key, messages=[{"role": "user", "content": text}])


@pytest.fixture(scope="module")
def llama(tiny_llama):
    return load_model(ModelSpec(kind="base", location=str(tiny_llama)))


def _written(loaded, text: str) -> list[int]:
    """The tokens the model writes after ``text`` (greedy, up to MAX_NEW_TOKENS)."""
    import torch

    (encoded,) = transformers_backend.encode_requests(loaded, [_request("q", text)], PARAMS)
    ids = torch.tensor([encoded.input_ids])
    with torch.inference_mode():
        output = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                       max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                       pad_token_id=loaded.pad_token_id, eos_token_id=None)
    return output[0, ids.shape[1]:].tolist()


def _expected(loaded, text: str) -> tuple[str, int]:
    """How the answer to ``text`` ends, read from the model's own tokens: ("stop", tokens up
    to its first end-of-sequence token, included) or ("length", MAX_NEW_TOKENS)."""
    written = _written(loaded, text)
    end = next((i for i, token in enumerate(written) if token in loaded.eos_token_ids), None)
    return ("length", MAX_NEW_TOKENS) if end is None else ("stop", end + 1)


def _ending_on(loaded, text: str):
    """``loaded`` told that a token it writes early in its answer to ``text``, and in no answer
    to the other questions, is an end-of-sequence token: it ends that answer early, by its own
    choice, and writes the others as before."""
    others = {token for question in QUESTIONS if question != text for token in _written(loaded, question)}
    token = next(token for token in _written(loaded, text)[:MAX_NEW_TOKENS // 2] if token not in others)
    return dataclasses.replace(loaded, eos_token_ids=[*loaded.eos_token_ids, token])


def _reasons(results) -> dict[str, tuple[str, int]]:
    return {r.key: (r.finish_reason, r.token_count) for r in results}


def test_an_answer_cut_at_max_new_tokens_is_length_one_the_model_ended_is_stop(llama):
    requests = [_request(f"q{i}", q) for i, q in enumerate(QUESTIONS)]
    ending = _ending_on(llama, QUESTIONS[0])
    for loaded in (llama, ending):
        expected = {f"q{i}": _expected(loaded, q) for i, q in enumerate(QUESTIONS)}
        # One by one, and in one batch where some rows end while others run on.
        for batch_size in (1, 3):
            assert _reasons(generate_loaded(loaded, requests, PARAMS, batch_size=batch_size)) == expected
    reasons = {reason for loaded in (llama, ending) for reason, _ in
               (_expected(loaded, q) for q in QUESTIONS)}
    assert reasons == {"stop", "length"}
    assert _expected(ending, QUESTIONS[0])[0] == "stop"
    assert [_expected(ending, q)[0] for q in QUESTIONS[1:]] == ["length", "length"]


def test_the_generation_job_stores_the_finish_reason_in_meta(engine, tiny_llama, llama, monkeypatch):
    with session_scope(engine) as session:
        make_model(session, "tiny", location=str(tiny_llama))
        make_prompt_set(session, name="questions", n=3)
    # The job loads its own model: it gets the one that ends its answer to "Question 0?".
    ending = _ending_on(llama, QUESTIONS[0])
    monkeypatch.setattr(transformers_backend, "load_model", lambda spec, **_: ending)
    summary = generate_answers(engine=engine, model_name="tiny", set_name="questions", params=PARAMS,
                               batch_size=2, show_progress=False)
    assert summary.generated == 3
    with session_scope(engine) as session:
        stored = dict(session.execute(select(Prompt.external_id, Generation.meta)
                                      .join(Prompt, Prompt.id == Generation.prompt_id)).all())
    assert {key: meta["finish_reason"] for key, meta in stored.items()} == \
        {"p0": "stop", "p1": "length", "p2": "length"}
    assert stored["p1"]["device"] == "cpu"  # what was stored before is still there


class ReportingServer(CompletionServer):
    """The stand-in server, reporting ``finish_reason`` as vLLM does: ``"length"`` when the
    answer used all of ``max_tokens``, ``"stop"`` otherwise."""

    def _complete(self, body: dict, chat: bool) -> tuple[int, dict]:
        status, answer = super()._complete(body, chat)
        if status == 200:
            used = answer["usage"]["completion_tokens"]
            answer["choices"][0]["finish_reason"] = \
                "length" if used >= int(body.get("max_tokens", 16)) else "stop"
        return status, answer


@pytest.fixture()
def endpoint(llama, monkeypatch):
    monkeypatch.setattr(openai_backend, "DEFAULT_RETRY",
                        openai_backend.RetryPolicy(attempts=2, base_delay=0.01, timeout=30))
    server = ReportingServer(_ending_on(llama, QUESTIONS[0])).start()
    yield server
    server.stop()


def test_the_openai_backend_records_the_servers_finish_reason(endpoint, engine):
    spec = ModelSpec(kind="endpoint", location=endpoint.url, name="tiny-llama")
    results = {r.key: r for r in generate(spec, [_request("q0", QUESTIONS[0]), _request("q1", QUESTIONS[1])],
                                          PARAMS)}
    assert (results["q0"].finish_reason, results["q1"].finish_reason) == ("stop", "length")

    with session_scope(engine) as session:
        make_model(session, "served", kind="endpoint", location=endpoint.url)
        make_prompt_set(session, name="questions", n=2)
    generate_answers(engine=engine, model_name="served", set_name="questions", params=PARAMS,
                     show_progress=False)
    with session_scope(engine) as session:
        stored = dict(session.execute(select(Prompt.external_id, Generation.meta)
                                      .join(Prompt, Prompt.id == Generation.prompt_id)).all())
    assert stored == {"p0": {"finish_reason": "stop"}, "p1": {"finish_reason": "length"}}


def test_a_servers_finish_reason_is_read_as_length_or_stop():
    # OpenAI, vLLM and llama.cpp say "stop"; TGI says "eos_token" or "stop_sequence".
    assert [finish_reason(value) for value in ("length", "stop", "eos_token", "stop_sequence", "EOS")] \
        == ["length", "stop", "stop", "stop", "stop"]
    assert finish_reason("content_filter") == "content_filter"  # another reason, as named
    assert [finish_reason(value) for value in (None, "", 3)] == [None, None, None]


def test_the_analysis_counts_each_models_answers_cut_at_the_limit(engine):
    from review.reporting.runner import analyze_study

    with session_scope(engine) as session:
        base = make_model(session, "base")
        tuned = make_model(session, "tuned", kind="finetune", location="/models/tuned", base=base)
        prompt_set = make_prompt_set(session, name="questions", n=4)
        study = Study(name="cut", candidate=tuned, baseline=base, prompt_set=prompt_set, overlap=1)
        session.add(study)
        session.flush()
        # tuned: 2 of 4 answers cut (p0, p1), one ended, one from before finish reasons
        # were stored; base: none cut. The gold item's planted answers are not counted.
        reasons = {"tuned": ["length", "length", "stop", None], "base": ["stop"] * 4}
        for index, prompt in enumerate(prompt_set.prompts):
            pair = []
            for model in (tuned, base):
                generation = make_generation(session, model, prompt, params_hash="cut")
                reason = reasons[model.name][index]
                generation.meta = {"finish_reason": reason} if reason else {}
                pair.append(generation)
            session.add(Comparison(study_id=study.id, prompt_id=prompt.id,
                                   generation_a_id=pair[0].id, generation_b_id=pair[1].id))
        planted = make_model(session, "planted")
        gold = [make_generation(session, planted, prompt_set.prompts[0], params_hash=f"gold-{side}")
                for side in "ab"]
        for generation in gold:
            generation.meta = {"finish_reason": "length"}
        session.add(Comparison(study_id=study.id, prompt_id=prompt_set.prompts[0].id,
                               generation_a_id=gold[0].id, generation_b_id=gold[1].id, gold_label="a"))
        session.flush()
        result = analyze_study(session=session, study=study, n_bootstrap=50)
    assert result["truncated_answers"] == {"base": 0, "tuned": 2}
