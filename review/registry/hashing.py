"""A content hash of a model's files, so one checkpoint registered under two names is noticed.

What is hashed, for a folder (its top level only; subfolders are not part of a checkpoint):

- weights: ``*.safetensors``, ``*.gguf``, ``pytorch_model*.bin``, ``adapter_model.bin``, and the
  shard indexes ``*.index.json``;
- configs: ``config.json``, ``generation_config.json``, ``adapter_config.json``;
- tokenizer and chat template files (``tokenizer.json``, ``tokenizer_config.json``,
  ``chat_template.jinja``, ...): they change what the model is asked, hence its answers, so the
  same weights with another chat template are a different model to review.

Trainer state (``optimizer.pt``, ``scheduler.pt``, ``trainer_state.json``, ``training_args.bin``,
``rng_state*.pth``) and README files are left out: they differ between two copies of the same
weights.

JSON files are hashed in canonical form (sorted keys, no whitespace) without the keys that say
where or with which library version a file was written rather than what the model is
(``transformers_version``, ``peft_version``, ``base_model_name_or_path``, ``is_local``, keys
starting with ``_`` such as ``_name_or_path``), so re-saving a model elsewhere or with a newer
transformers keeps its hash. Every other file is hashed byte for byte, read in chunks. The hash
covers each file's name (relative to the folder), its length and its content, in name order.

A path to a single ``.gguf`` file hashes that file's content alone (not its name).

Example::

    content_hash("data/models/SmolLM2-135M-Instruct")  # '3f5a...' (64 hex digits)
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
from pathlib import Path

__all__ = ["HASHED_PATTERNS", "content_hash", "hashed_files"]

_VERSION_TAG = b"review-content-hash-v1\n"
_CHUNK_BYTES = 4 * 1024 * 1024

HASHED_PATTERNS = (
    "*.safetensors", "*.gguf", "pytorch_model*.bin", "adapter_model.bin", "*.index.json",
    "config.json", "generation_config.json", "adapter_config.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "tokenizer.model", "vocab.json", "vocab.txt", "merges.txt", "spiece.model",
    "chat_template.jinja", "chat_template.json",
)
_VOLATILE_JSON_KEYS = frozenset({
    "transformers_version", "peft_version", "base_model_name_or_path", "name_or_path",
    "is_local", "local_files_only", "revision",
})


def hashed_files(folder: str | Path) -> list[Path]:
    """The files of ``folder`` that :func:`content_hash` covers, sorted by name."""
    folder = Path(folder)
    return sorted(
        (p for p in folder.iterdir()
         if p.is_file() and any(fnmatch.fnmatchcase(p.name, pattern) for pattern in HASHED_PATTERNS)),
        key=lambda p: p.name,
    )


def content_hash(path: str | Path) -> str:
    """sha256 (hex) over a model folder's weights, configs and tokenizer, or over one ``.gguf`` file.

    Deterministic: it depends only on the files' names and contents, not on timestamps or
    on where the folder is.

    Raises:
        FileNotFoundError: ``path`` does not exist, or the folder holds none of the files above.
    """
    path = Path(path).expanduser()
    digest = hashlib.sha256(_VERSION_TAG)
    if path.is_file():
        _update_with_bytes(digest, path)
        return digest.hexdigest()
    if not path.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such model file or folder", str(path))
    files = hashed_files(path)
    if not files:
        raise FileNotFoundError(errno.ENOENT, "no model weights or config files in this folder", str(path))
    for file in files:
        digest.update(file.name.encode("utf-8") + b"\0")
        if file.suffix == ".json":
            canonical = _canonical_json(file)
            if canonical is not None:
                digest.update(f"json:{len(canonical)}\0".encode())
                digest.update(canonical)
                continue
        _update_with_bytes(digest, file)
    return digest.hexdigest()


def _update_with_bytes(digest: hashlib._Hash, file: Path) -> None:
    digest.update(f"bytes:{file.stat().st_size}\0".encode())
    with file.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)


def _canonical_json(file: Path) -> bytes | None:
    """Canonical bytes of a JSON object file without volatile keys; None if it is not one."""
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    kept = {key: item for key, item in value.items()
            if key not in _VOLATILE_JSON_KEYS and not key.startswith("_")}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
