"""Decoding parameters, request checks and backend dispatch: no model needed."""

import hashlib
import json
import subprocess
import sys

import pytest

from review.generation import (
    GenerationError,
    GenerationParams,
    GenerationRequest,
    ModelSpec,
    backend_for,
    generate,
)


def test_params_hash_is_sha256_of_canonical_json():
    params = GenerationParams(max_new_tokens=64, temperature=0.7, top_p=0.9, seed=3)
    canonical = ('{"max_new_tokens":64,"seed":3,"temperature":0.7,"top_p":0.9,'
                 '"use_chat_template":true}')
    assert json.dumps(params.to_dict(), sort_keys=True, separators=(",", ":")) == canonical
    assert params.params_hash() == hashlib.sha256(canonical.encode()).hexdigest()


def test_params_hash_is_stable_and_distinguishes_parameters():
    default = GenerationParams()
    # Pinned: the hash is stored with every generation, so it must never change.
    assert default.params_hash() == hashlib.sha256(
        b'{"max_new_tokens":256,"seed":0,"temperature":0.0,"top_p":1.0,"use_chat_template":true}'
    ).hexdigest()
    assert GenerationParams().params_hash() == default.params_hash()
    variants = [GenerationParams(max_new_tokens=255), GenerationParams(temperature=0.1),
                GenerationParams(top_p=0.5), GenerationParams(seed=1),
                GenerationParams(use_chat_template=False)]
    hashes = {p.params_hash() for p in variants} | {default.params_hash()}
    assert len(hashes) == len(variants) + 1
    # an int temperature and a float one are the same parameters
    assert GenerationParams(temperature=1).params_hash() == GenerationParams(temperature=1.0).params_hash()


@pytest.mark.parametrize("kwargs", [{"max_new_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0},
                                    {"top_p": 1.5}])
def test_invalid_params_are_refused(kwargs):
    with pytest.raises(GenerationError):
        GenerationParams(**kwargs)


def test_backend_dispatch():
    assert backend_for(ModelSpec(kind="endpoint", location="http://127.0.0.1:1")) == "openai"
    for kind in ("base", "finetune", "adapter"):
        assert backend_for(ModelSpec(kind=kind, location="x")) == "transformers"
    with pytest.raises(GenerationError, match="unknown model kind"):
        backend_for(ModelSpec(kind="lora", location="x"))


@pytest.mark.parametrize("messages, message", [
    ([], "no messages"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "last message"),
    ([{"role": "robot", "content": "a"}], "role"),
    ([{"role": "user", "content": None}], "content"),
])
def test_malformed_requests_fail_before_loading(messages, message):
    spec = ModelSpec(kind="base", location="/nonexistent/model")
    with pytest.raises(GenerationError, match=message):
        generate(spec, [GenerationRequest(key="k", messages=messages)], GenerationParams())


def test_duplicate_keys_are_refused():
    request = GenerationRequest(key="same", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(GenerationError, match="duplicate"):
        generate(ModelSpec(kind="base", location="x"), [request, request], GenerationParams())


def test_importing_the_package_does_not_import_torch():
    code = ("import sys, review.generation, review.registry.hashing, review.demo.model; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
