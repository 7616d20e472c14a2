"""Where a model lives: a transformers folder, an adapter folder, a ``.gguf`` file or a hub id.

Every backend and check goes through :func:`resolve_location`, so "what is at this path" is
decided in one place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from review.generation import GenerationError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class ResolvedLocation:
    """A model location, classified.

    ``form`` is ``"folder"`` (a folder with ``config.json``), ``"adapter"`` (a folder with
    ``adapter_config.json``), ``"gguf"`` (one ``.gguf`` file), or ``"hub"`` (a hub id that is
    neither on disk nor in the local cache; it is downloaded when loaded, unless offline).
    ``path`` is the folder (for ``gguf``: the file's folder) or the hub id; ``gguf_file`` is
    the file name for ``gguf``.
    """

    form: str
    path: str
    gguf_file: str | None = None
    original: str = ""

    @property
    def local(self) -> bool:
        return self.form != "hub"

    @property
    def folder(self) -> Path:
        return Path(self.path)

    def pretrained_kwargs(self) -> dict:
        """Keyword arguments for ``from_pretrained`` besides the path."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _offline() -> bool:
    from huggingface_hub import constants

    is_offline = getattr(constants, "is_offline_mode", None)
    return bool(is_offline() if callable(is_offline) else constants.HF_HUB_OFFLINE)


def _cached_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of a hub model already in the cache, if there is one."""
    from huggingface_hub import try_to_load_from_cache

    for filename in ("config.json", "adapter_config.json"):
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return Path(found).parent
    return None


def resolve_location(location: str) -> ResolvedLocation:
    """Classify a model location; raise :class:`GenerationError` when nothing usable is there.

    Example::

        resolve_location("models/SmolLM2.gguf")  # ResolvedLocation(form="gguf", path="models", ...)
    """
    if not location or not location.strip():
        raise GenerationError("model location is empty")
    if is_url(location):
        raise GenerationError(f"{location} is a URL: register it as an endpoint model")
    path = Path(location).expanduser()
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return ResolvedLocation("gguf", str(path.parent), path.name, location)
        raise GenerationError(f"{location} is a file, not a model folder or a .gguf file")
    if path.is_dir():
        return _resolve_folder(path, location)
    looks_like_path = (location.startswith((".", "/", "~")) or location.lower().endswith(".gguf")
                       or "\\" in location or not _HUB_ID.match(location))
    if looks_like_path:
        raise GenerationError(f"model path does not exist: {location}")
    snapshot = _cached_snapshot(location)
    if snapshot is not None:
        return _resolve_folder(snapshot, location)
    if _offline():
        raise GenerationError(
            f"model {location} is not a local path and not in the Hugging Face cache, and offline "
            f"mode (HF_HUB_OFFLINE) forbids downloading it")
    return ResolvedLocation("hub", location, None, location)


def _resolve_folder(path: Path, location: str) -> ResolvedLocation:
    if (path / "config.json").is_file():
        return ResolvedLocation("folder", str(path), None, location)
    if (path / "adapter_config.json").is_file():
        return ResolvedLocation("adapter", str(path), None, location)
    ggufs = sorted(p.name for p in path.glob("*.gguf") if p.is_file())
    if len(ggufs) == 1:
        return ResolvedLocation("gguf", str(path), ggufs[0], location)
    if len(ggufs) > 1:
        raise GenerationError(
            f"{location} holds several .gguf files ({', '.join(ggufs)}): give the path of one")
    raise GenerationError(
        f"{location} is not a model folder: it has no config.json, adapter_config.json or .gguf file")


def read_json_file(path: Path) -> dict:
    """A JSON object from ``path``, or :class:`GenerationError` naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GenerationError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(value, dict):
        raise GenerationError(f"{path}: expected a JSON object")
    return value
