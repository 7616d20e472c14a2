"""content_hash: stable for the same checkpoint wherever it lies, different for other weights."""

import hashlib
import json
import shutil

import pytest

from review.registry.hashing import content_hash, hashed_files
from tests.tiny_models import build_llama


def test_same_files_same_hash_wherever_they_are(tiny_llama, tmp_path):
    first = content_hash(tiny_llama)
    assert first == content_hash(str(tiny_llama))  # str or Path
    assert len(first) == 64 and int(first, 16) >= 0
    copy = tmp_path / "elsewhere" / "renamed-checkpoint"
    shutil.copytree(tiny_llama, copy)
    assert content_hash(copy) == first


def test_different_weights_different_hash(tiny_llama, tmp_path):
    other_seed = build_llama(tmp_path / "seed1", seed=1)
    assert content_hash(other_seed) != content_hash(tiny_llama)


def test_one_changed_byte_changes_the_hash(tiny_llama, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    assert content_hash(copy) != content_hash(tiny_llama)


def test_trainer_state_and_readme_are_ignored(tiny_llama, tmp_path):
    copy = tmp_path / "checkpoint-100"
    shutil.copytree(tiny_llama, copy)
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin",
                 "trainer_state.json", "README.md"):
        (copy / name).write_bytes(b"differs between runs")
    assert content_hash(copy) == content_hash(tiny_llama)
    assert "optimizer.pt" not in {p.name for p in hashed_files(copy)}


def test_json_is_compared_by_content_without_volatile_keys(tiny_llama, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    config = json.loads((copy / "config.json").read_text())
    config["transformers_version"] = "0.0.1"
    config["_name_or_path"] = "/somewhere/else"
    (copy / "config.json").write_text(json.dumps(config, indent=4, sort_keys=False))
    assert content_hash(copy) == content_hash(tiny_llama)
    config["hidden_act"] = "gelu"
    (copy / "config.json").write_text(json.dumps(config))
    assert content_hash(copy) != content_hash(tiny_llama)


def test_chat_template_is_part_of_the_model(tiny_llama, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    template_files = [p for p in copy.iterdir() if p.name in ("chat_template.jinja", "tokenizer_config.json")]
    assert template_files
    (copy / "chat_template.jinja").write_text("{{ messages[-1]['content'] }}")
    assert content_hash(copy) != content_hash(tiny_llama)


def test_adapter_folder(tiny_llama_adapter):
    names = {p.name for p in hashed_files(tiny_llama_adapter)}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= names
    assert content_hash(tiny_llama_adapter) == content_hash(tiny_llama_adapter)


def test_single_gguf_file_hashes_its_content_not_its_name(tmp_path):
    payload = b"GGUF" + bytes(range(256)) * 50
    (tmp_path / "a.gguf").write_bytes(payload)
    (tmp_path / "b.gguf").write_bytes(payload)
    (tmp_path / "c.gguf").write_bytes(payload + b"\x00")
    assert content_hash(tmp_path / "a.gguf") == content_hash(tmp_path / "b.gguf")
    assert content_hash(tmp_path / "a.gguf") != content_hash(tmp_path / "c.gguf")
    expected = hashlib.sha256(b"review-content-hash-v1\n" + f"bytes:{len(payload)}\0".encode() + payload)
    assert content_hash(tmp_path / "a.gguf") == expected.hexdigest()


def test_missing_or_empty(tmp_path):
    with pytest.raises(FileNotFoundError):
        content_hash(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no model weights"):
        content_hash(tmp_path)
