"""Cheap integrity checks of weights files, reading headers only (never the tensors).

A safetensors file is an 8-byte little-endian header length, a JSON header giving each
tensor's dtype, shape and byte range, then the data; a file whose header does not parse, or
whose byte ranges do not add up to the file's size, is truncated or corrupted. A GGUF file
starts with the magic ``GGUF`` and a tensor table that the ``gguf`` package can parse.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

from review.generation import GenerationError

# Bytes per element of each safetensors dtype.
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
_MAX_HEADER_BYTES = 100 * 1024 * 1024

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def _corrupted(path: Path, why: str) -> GenerationError:
    return GenerationError(f"{path}: corrupted or truncated weights file ({why})")


def safetensors_header(path: Path) -> dict[str, dict]:
    """The tensor table of a safetensors file (name -> {dtype, shape, data_offsets}), checked.

    Raises:
        GenerationError: the header does not parse or does not match the file's size.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise _corrupted(path, "shorter than a safetensors header")
        header_len = int.from_bytes(prefix, "little")
        if header_len <= 1 or header_len > min(size - 8, _MAX_HEADER_BYTES):
            raise _corrupted(path, "invalid header length")
        raw = handle.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _corrupted(path, "header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _corrupted(path, "header is not a JSON object")
    tensors = {name: info for name, info in header.items() if name != "__metadata__"}
    data_end = 0
    for name, info in tensors.items():
        try:
            begin, end = info["data_offsets"]
            n_bytes = math.prod(info["shape"]) * _DTYPE_BYTES[info["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise _corrupted(path, f"bad entry for tensor {name}") from None
        if end - begin != n_bytes or begin < 0:
            raise _corrupted(path, f"tensor {name} has inconsistent byte offsets")
        data_end = max(data_end, end)
    if 8 + header_len + data_end != size:
        raise _corrupted(path, f"expected {8 + header_len + data_end} bytes, found {size}")
    return tensors


def check_gguf(path: Path) -> None:
    """Raise :class:`GenerationError` unless ``path`` is a readable GGUF file."""
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise _corrupted(path, "missing GGUF magic")
    try:
        from gguf import GGUFReader

        GGUFReader(str(path))
    except Exception as exc:  # the reader raises assorted errors on a damaged file
        raise _corrupted(path, f"GGUF tensor table unreadable: {exc}") from None


def check_pickle_weights(path: Path) -> None:
    """Raise unless ``path`` looks like a ``torch.save`` file (a zip archive or a legacy pickle)."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except zipfile.BadZipFile as exc:
            raise _corrupted(path, str(exc)) from None
        return
    with path.open("rb") as handle:
        if handle.read(1) != b"\x80":
            raise _corrupted(path, "neither a torch zip archive nor a pickle")


def check_weights_file(path: Path) -> None:
    """Check one weights file according to its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        safetensors_header(path)
    elif suffix == ".gguf":
        check_gguf(path)
    elif suffix in (".bin", ".pt", ".pth"):
        check_pickle_weights(path)


def model_weight_files(folder: Path) -> list[Path]:
    """The weights files of a transformers model folder, following a sharded index if there is one.

    Raises:
        GenerationError: no weights, or a shard the index names is missing.
    """
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError, TypeError):
                raise GenerationError(f"{index}: unreadable shard index") from None
            shards = sorted({folder / name for name in weight_map.values()})
            missing = [p.name for p in shards if not p.is_file()]
            if missing:
                raise GenerationError(f"{folder}: shard files missing: {', '.join(missing)}")
            return shards
    candidates = [folder / "model.safetensors", folder / "pytorch_model.bin"]
    found = [p for p in candidates if p.is_file()]
    if not found:
        found = sorted(p for p in folder.glob("*.safetensors") if not p.name.startswith("adapter_"))
    if not found:
        raise GenerationError(f"{folder} has a config.json but no weights file "
                              f"(model.safetensors or pytorch_model.bin)")
    return found


def adapter_weight_file(folder: Path) -> Path:
    for name in ("adapter_model.safetensors", "adapter_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise GenerationError(f"{folder} has an adapter_config.json but no adapter_model.safetensors "
                          f"or adapter_model.bin")


def adapter_tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of an adapter weights file, without loading the tensors if possible."""
    if path.suffix == ".safetensors":
        return {name: tuple(info["shape"]) for name, info in safetensors_header(path).items()}
    check_pickle_weights(path)
    import torch

    try:
        state = torch.load(path, map_location="meta", weights_only=True)
    except Exception as exc:  # torch raises many kinds of errors on a damaged pickle
        raise _corrupted(path, str(exc)) from None
    return {name: tuple(tensor.shape) for name, tensor in state.items()}
