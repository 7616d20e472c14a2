"""Checking a model before it is registered or loaded, without loading its weights.

An adapter is checked against its base by shapes: each LoRA layer in the adapter file names
a base layer and the sizes it was trained for (``lora_A`` is ``r x in_features``, ``lora_B``
is ``out_features x r``). The base's layers come from its config alone, built on PyTorch's
``meta`` device (no memory, no weights), so any architecture transformers knows is covered.
"""

from __future__ import annotations


from review.generation import GenerationError, ModelSpec
from review.generation.locations import ResolvedLocation, read_json_file, resolve_location
from review.generation.weight_files import (
    adapter_tensor_shapes,
    adapter_weight_file,
    check_gguf,
    check_weights_file,
    model_weight_files,
)

_PEFT_PREFIX = "base_model.model."
_LORA_PARTS = (".lora_A.", ".lora_B.", ".lora_embedding_A", ".lora_embedding_B",
               ".lora_magnitude_vector")


def validate_model(spec: ModelSpec) -> None:
    """See :func:`review.generation.validate_model`."""
    if spec.kind == "endpoint":
        from review.generation.openai_backend import check_endpoint

        check_endpoint(spec)
        return
    resolved = resolve_location(spec.location)
    if spec.kind == "adapter":
        if resolved.form != "adapter":
            raise GenerationError(f"{spec.location} is not a PEFT adapter (no adapter_config.json)")
        check_adapter(resolved, spec.base_location)
        return
    if resolved.form == "adapter":
        raise GenerationError(
            f"{spec.location} is a PEFT adapter: register it with kind 'adapter' and its base model")
    check_model(resolved)


def check_model(resolved: ResolvedLocation) -> None:
    """Check a full model: its config and the headers of its weights files."""
    if resolved.form == "hub":
        return
    if resolved.form == "gguf":
        check_gguf(resolved.folder / resolved.gguf_file)
        return
    config = read_json_file(resolved.folder / "config.json")
    if "model_type" not in config:
        raise GenerationError(f"{resolved.folder / 'config.json'} has no model_type: "
                              f"not a transformers model config")
    for path in model_weight_files(resolved.folder):
        check_weights_file(path)


def resolve_adapter_base(adapter: ResolvedLocation, base_location: str | None) -> ResolvedLocation:
    """The base model an adapter applies to: the given location, else its adapter_config's."""
    config = read_json_file(adapter.folder / "adapter_config.json")
    location = base_location or config.get("base_model_name_or_path")
    if not location:
        raise GenerationError(f"adapter {adapter.original} needs its base model")
    try:
        base = resolve_location(location)
    except GenerationError as exc:
        raise GenerationError(f"base model of adapter {adapter.original}: {exc}") from None
    if base.form == "adapter":
        raise GenerationError(f"base model {location} of adapter {adapter.original} is itself an adapter")
    return base


def check_adapter(adapter: ResolvedLocation, base_location: str | None) -> None:
    """Check an adapter's files and that its layers fit the base model."""
    config = read_json_file(adapter.folder / "adapter_config.json")
    if "peft_type" not in config:
        raise GenerationError(f"{adapter.folder / 'adapter_config.json'} has no peft_type: "
                              f"not a PEFT adapter config")
    shapes = adapter_tensor_shapes(adapter_weight_file(adapter.folder))
    base = resolve_adapter_base(adapter, base_location)
    check_model(base)
    layers, parameters = base_layer_shapes(base)
    problem = adapter_mismatch(shapes, layers, parameters)
    if problem:
        trained_for = config.get("base_model_name_or_path")
        hint = f" (it was trained on {trained_for})" if trained_for else ""
        raise GenerationError(
            f"adapter {adapter.original} does not fit base model {base.original}{hint}: {problem}")


def base_layer_shapes(base: ResolvedLocation) -> tuple[dict[str, tuple[int, int]], dict[str, tuple]]:
    """(layer name -> (in_features, out_features), parameter name -> shape) of a model, from its config.

    Embeddings count as layers with ``in_features = num_embeddings`` and
    ``out_features = embedding_dim``.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(base.path, **base.pretrained_kwargs())
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except Exception as exc:  # transformers raises many kinds for configs it cannot build
        raise GenerationError(f"cannot build base model {base.original} from its config: {exc}") from None
    layers: dict[str, tuple[int, int]] = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            layers[name] = (module.in_features, module.out_features)
        elif isinstance(module, torch.nn.Embedding):
            layers[name] = (module.num_embeddings, module.embedding_dim)
        elif type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
            # GPT-2 style Conv1D stores its weight as (in_features, out_features).
            layers[name] = (module.weight.shape[0], module.weight.shape[1])
    parameters = {name: tuple(p.shape) for name, p in model.named_parameters()}
    return layers, parameters


def adapter_mismatch(shapes: dict[str, tuple[int, ...]], layers: dict[str, tuple[int, int]],
                     parameters: dict[str, tuple]) -> str | None:
    """The first way the adapter's tensors disagree with the base's layers, or None if they fit."""
    for key, shape in sorted(shapes.items()):
        name = key[len(_PEFT_PREFIX):] if key.startswith(_PEFT_PREFIX) else key
        part = next((p for p in _LORA_PARTS if p in name), None)
        if part is None:
            if name in parameters and parameters[name] != tuple(shape):
                return f"{name} has shape {tuple(shape)} in the adapter, {parameters[name]} in the base"
            continue
        layer = name.split(part)[0]
        if layer not in layers:
            return f"the base has no layer {layer}"
        in_features, out_features = layers[layer]
        if part in (".lora_A.", ".lora_embedding_A") and shape[-1] != in_features:
            return f"layer {layer} takes {in_features} inputs in the base, {shape[-1]} in the adapter"
        if part in (".lora_B.", ".lora_embedding_B") and shape[0] != out_features:
            return f"layer {layer} has {out_features} outputs in the base, {shape[0]} in the adapter"
    return None
