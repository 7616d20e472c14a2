"""The transformers backend: local folders, hub ids, PEFT adapters and GGUF files.

On a GPU the model runs in bfloat16 (float16 where bf16 is unsupported), on the CPU in
float32. Prompts are sorted by length so a batch wastes little padding, padded on the left,
and generated together; greedy answers are the same as when each prompt is generated alone.

Decoding uses only :class:`~review.generation.GenerationParams`: the sampling settings a model
ships in its ``generation_config.json`` (temperature, repetition penalty, ...) are ignored, and
only its end-of-sequence ids are kept, so a recorded generation says exactly how it was made.

Example::

    loaded = load_model(ModelSpec(kind="base", location="data/models/SmolLM2-135M-Instruct"))
    for result in generate_loaded(loaded, requests, GenerationParams(), batch_size=16):
        ...
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from review.generation import (
    GenerationError,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    ModelSpec,
)
from review.generation.locations import ResolvedLocation, resolve_location
from review.generation.prompting import plain_prompt, request_seed

BACKEND = "transformers"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
# Fraction of free GPU memory the weights may take on one card; the rest is for the KV cache.
_SINGLE_CARD_FRACTION = 0.8


@dataclass
class LoadedModel:
    """A model and tokenizer ready to generate, with what results record about them."""

    model: Any
    tokenizer: Any
    device: str
    dtype: str
    library_versions: dict
    eos_token_ids: list[int]
    pad_token_id: int
    chat_template: str | None = None
    spec: ModelSpec | None = field(default=None, repr=False)


def generate(
    spec: ModelSpec,
    requests: Sequence[GenerationRequest],
    params: GenerationParams,
    *,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[GenerationResult]:
    """Load ``spec`` and answer ``requests``; see :func:`review.generation.generate`."""
    if not requests:
        return
    loaded = load_model(spec)
    yield from generate_loaded(loaded, requests, params, batch_size=batch_size, progress=progress)


# --------------------------------------------------------------------------------------------
# Loading


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str):  # noqa: ANN201 - torch.dtype
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_model(spec: ModelSpec, *, device: str | None = None, dtype: Any = None) -> LoadedModel:
    """Load the model and tokenizer of ``spec`` (base, fine-tune, adapter on its base, or GGUF).

    Args:
        spec: the model; an adapter is merged into its base after loading, so it generates at
            the base model's speed.
        device: ``"cpu"`` or ``"cuda"``; default: CUDA when available.
        dtype: a ``torch.dtype``; default bfloat16 (float16) on CUDA, float32 on the CPU.

    Raises:
        GenerationError: the files are missing, corrupted or do not fit together.
    """
    from review.generation.validation import check_adapter, check_model, resolve_adapter_base

    if spec.kind == "endpoint":
        raise GenerationError(f"model {spec.name or spec.location} is an endpoint, not a local model")
    device = device or pick_device()
    dtype = dtype or pick_dtype(device)
    resolved = resolve_location(spec.location)
    if resolved.form == "adapter":
        check_adapter(resolved, spec.base_location)
        base = resolve_adapter_base(resolved, spec.base_location)
        model, placement = _load_causal_lm(base, device, dtype)
        model = _apply_adapter(model, resolved)
        uses_gguf = base.gguf_file is not None
        has_own_tokenizer = any((resolved.folder / name).is_file() for name in _TOKENIZER_FILES)
        tokenizer = _load_tokenizer(resolved if has_own_tokenizer else base)
    else:
        if spec.kind == "adapter":
            raise GenerationError(f"{spec.location} is not a PEFT adapter (no adapter_config.json)")
        check_model(resolved)
        model, placement = _load_causal_lm(resolved, device, dtype)
        uses_gguf = resolved.gguf_file is not None
        tokenizer = _load_tokenizer(resolved)
    model.eval()
    pad_token_id, eos_token_ids = _prepare_special_tokens(model, tokenizer, spec)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=placement,
        dtype=str(dtype).removeprefix("torch."),
        library_versions=_library_versions(adapter=resolved.form == "adapter", gguf=uses_gguf),
        eos_token_ids=eos_token_ids,
        pad_token_id=pad_token_id,
        chat_template=chat_template_text(tokenizer),
        spec=spec,
    )


def _load_causal_lm(resolved: ResolvedLocation, device: str, dtype: Any) -> tuple[Any, str]:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, **resolved.pretrained_kwargs()}
    placement = "cpu"
    if device.startswith("cuda"):
        kwargs["device_map"], placement = _cuda_device_map(resolved, dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
    except Exception as exc:  # transformers raises many kinds; the user needs one line
        raise GenerationError(f"cannot load model {resolved.original}: {_one_line(exc)}") from None
    return model, placement


def _cuda_device_map(resolved: ResolvedLocation, dtype: Any) -> tuple[Any, str]:
    """One card when the weights fit on it, else ``"auto"`` (spread over cards, then CPU)."""
    import torch

    needed = _parameter_bytes(resolved, torch.empty((), dtype=dtype).element_size())
    free, _total = torch.cuda.mem_get_info(0)
    if needed <= free * _SINGLE_CARD_FRACTION:
        return {"": 0}, "cuda:0"
    return "auto", f"auto ({torch.cuda.device_count()} GPUs)"


def _parameter_bytes(resolved: ResolvedLocation, bytes_per_parameter: int) -> int:
    """Bytes the weights take in the target dtype; 0 when it cannot be told without loading."""
    if resolved.form != "folder":
        if resolved.gguf_file:
            # Loading dequantizes; assume ~4 bits per parameter in the file (an overestimate
            # for 8-bit files only moves the model to "auto", which fills the first card first).
            return 2 * (resolved.folder / resolved.gguf_file).stat().st_size * bytes_per_parameter
        return 0
    from review.generation.weight_files import model_weight_files, safetensors_header

    total = 0
    for path in model_weight_files(resolved.folder):
        if path.suffix != ".safetensors":
            return 0
        total += sum(math.prod(info["shape"]) for info in safetensors_header(path).values())
    return total * bytes_per_parameter


def _apply_adapter(model: Any, adapter: ResolvedLocation) -> Any:
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(model, adapter.path)
        return model.merge_and_unload()
    except Exception as exc:  # peft raises many kinds on a bad adapter
        raise GenerationError(f"cannot apply adapter {adapter.original}: {_one_line(exc)}") from None


def _load_tokenizer(resolved: ResolvedLocation) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, **resolved.pretrained_kwargs())
    except Exception as exc:  # transformers raises many kinds
        raise GenerationError(f"cannot load the tokenizer of {resolved.original}: {_one_line(exc)}") from None
    tokenizer.padding_side = "left"
    return tokenizer


def _prepare_special_tokens(model: Any, tokenizer: Any, spec: ModelSpec) -> tuple[int, list[int]]:
    """Pad token (the end-of-sequence token when the tokenizer has none) and end-of-sequence ids.

    Also replaces the model's generation config with one that keeps only its special-token
    ids, so no shipped sampling setting leaks into decoding.
    """
    from transformers import GenerationConfig

    shipped = getattr(model, "generation_config", None)
    eos = getattr(shipped, "eos_token_id", None)
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
        eos_ids.append(tokenizer.eos_token_id)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise GenerationError(f"the tokenizer of {spec.location} has neither a pad nor an end token")
        tokenizer.pad_token = tokenizer.eos_token
    if not eos_ids:
        raise GenerationError(f"{spec.location} defines no end-of-sequence token")
    model.generation_config = GenerationConfig(
        bos_token_id=getattr(shipped, "bos_token_id", None) or tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.pad_token_id, eos_ids


def chat_template_text(tokenizer: Any) -> str | None:
    """The tokenizer's chat template text, or None when it has none."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default") or next(iter(template.values()), None)
    return template or None


def _library_versions(*, adapter: bool, gguf: bool) -> dict:
    import torch
    import transformers

    versions = {"transformers": transformers.__version__, "torch": torch.__version__}
    if adapter:
        import peft

        versions["peft"] = peft.__version__
    if gguf:
        from importlib.metadata import version

        versions["gguf"] = version("gguf")
    if torch.cuda.is_available():
        versions["cuda"] = torch.version.cuda
        versions["gpu"] = torch.cuda.get_device_name(0)
    return versions


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "") if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Generating


@dataclass
class _Encoded:
    index: int
    request: GenerationRequest
    input_ids: list[int]
    chat_template: str | None


def encode_requests(loaded: LoadedModel, requests: Sequence[GenerationRequest],
                    params: GenerationParams) -> list[_Encoded]:
    """Render each request with the chat template (or the plain format) and tokenize it."""
    tokenizer = loaded.tokenizer
    template = loaded.chat_template if params.use_chat_template else None
    encoded = []
    for index, request in enumerate(requests):
        if template is not None:
            text = tokenizer.apply_chat_template(request.messages, tokenize=False,
                                                 add_generation_prompt=True)
            # The template writes its own special tokens.
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = tokenizer(plain_prompt(request.messages), add_special_tokens=True)["input_ids"]
        if not ids:
            raise GenerationError(f"request {request.key!r} encodes to no tokens")
        encoded.append(_Encoded(index, request, list(ids), template))
    return encoded


def length_sorted_batches(encoded: list[_Encoded], batch_size: int) -> list[list[_Encoded]]:
    """Batches of prompts of similar length, longest first (so memory problems show at once)."""
    ordered = sorted(encoded, key=lambda item: (-len(item.input_ids), item.index))
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]


def generate_loaded(
    loaded: LoadedModel,
    requests: Sequence[GenerationRequest],
    params: GenerationParams,
    *,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[GenerationResult]:
    """Answer ``requests`` with an already loaded model, yielding results batch by batch."""
    batches = length_sorted_batches(encode_requests(loaded, requests, params), batch_size)
    done = 0
    for batch in batches:
        yield from _generate_batch(loaded, batch, params)
        done += len(batch)
        if progress is not None:
            progress(done, len(requests))


def _generate_batch(loaded: LoadedModel, batch: list[_Encoded],
                    params: GenerationParams) -> list[GenerationResult]:
    import torch

    try:
        return _run_batch(loaded, batch, params)
    except torch.OutOfMemoryError:
        if len(batch) == 1:
            raise GenerationError(
                f"out of GPU memory generating prompt {batch[0].request.key!r} alone; "
                f"lower max_new_tokens") from None
        torch.cuda.empty_cache()
        half = len(batch) // 2
        return (_generate_batch(loaded, batch[:half], params)
                + _generate_batch(loaded, batch[half:], params))


def _run_batch(loaded: LoadedModel, batch: list[_Encoded],
               params: GenerationParams) -> list[GenerationResult]:
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    started = time.perf_counter()
    width = max(len(item.input_ids) for item in batch)
    pad = loaded.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(item.input_ids)) + item.input_ids for item in batch])
    attention_mask = torch.tensor([[0] * (width - len(item.input_ids)) + [1] * len(item.input_ids)
                                   for item in batch])
    device = loaded.model.device
    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=loaded.eos_token_ids,
        pad_token_id=pad,
    )
    processors = LogitsProcessorList()
    if params.temperature > 0:
        from review.generation.sampling import SeededGumbelSampler

        seeds = [request_seed(params.seed, item.request.key) for item in batch]
        processors.append(SeededGumbelSampler(seeds, params.temperature, params.top_p))
    torch.manual_seed(params.seed)
    with torch.inference_mode():
        output = loaded.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            generation_config=config,
            logits_processor=processors,
        )
    new_tokens = output[:, width:].tolist()
    elapsed = time.perf_counter() - started
    eos = set(loaded.eos_token_ids)
    results = []
    for item, tokens in zip(batch, new_tokens, strict=True):
        end = next((i for i, token in enumerate(tokens) if token in eos), None)
        answer = tokens if end is None else tokens[:end]
        results.append(GenerationResult(
            key=item.request.key,
            text=loaded.tokenizer.decode(answer, skip_special_tokens=True).strip(),
            token_count=len(tokens) if end is None else end + 1,
            latency_seconds=elapsed,
            chat_template=item.chat_template,
            backend=BACKEND,
            library_versions=dict(loaded.library_versions),
            device=loaded.device,
            dtype=loaded.dtype,
            # No end-of-sequence token: generation stopped at max_new_tokens.
            finish_reason="length" if end is None else "stop",
        ))
    return results
