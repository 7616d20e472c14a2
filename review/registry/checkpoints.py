"""The model registry: base models, fine-tunes, adapters and endpoints.

Models of kind ``external`` (answers generated elsewhere) are not registered here: importing
their answers registers them (:mod:`review.interchange.answers`).

Registering checks the location (a model folder, a ``.gguf`` file, a PEFT adapter on a
registered base, a hub id, or an OpenAI-compatible URL) and records a content hash of
the weights and config, so the same checkpoint registered twice under two names is
refused.

Example::

    register_model(session=session, name="base", location="/models/SmolLM2-135M-Instruct")
    register_model(session=session, name="ft", location="runs/a/checkpoint-200", base="base")
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.lookup import get_model
from review.core.models import MODEL_KINDS, NAME_LENGTH, Model

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_CHECKPOINT_STEP = re.compile(r"checkpoint-(\d+)$")


def infer_kind(location: str, *, base: str | None = None) -> str:
    """``endpoint`` for URLs, ``adapter`` for PEFT folders, else ``finetune`` with a base, ``base`` without."""
    if location.startswith(("http://", "https://")):
        return "endpoint"
    path = Path(location).expanduser()
    if path.is_dir() and (path / "adapter_config.json").is_file():
        return "adapter"
    return "finetune" if base else "base"


def training_step(path: Path) -> int | None:
    """The step of a trainer checkpoint: ``trainer_state.json``'s global_step, else the folder name."""
    state = path / "trainer_state.json"
    if state.is_file():
        try:
            step = json.loads(state.read_text()).get("global_step")
            if isinstance(step, int):
                return step
        except (OSError, ValueError):
            pass
    match = _CHECKPOINT_STEP.search(path.name)
    return int(match.group(1)) if match else None


def register_model(*, session: Session, name: str, location: str, kind: str | None = None,
                   base: str | None = None, run_name: str | None = None,
                   step: int | None = None, meta: dict | None = None) -> Model:
    """Validate and register a model; raise :class:`ReviewError` and store nothing on bad input."""
    from review.generation import GenerationError, ModelSpec, validate_model

    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise ReviewError(f"model name must be 1 to {NAME_LENGTH} characters")
    if session.scalar(select(Model.id).where(Model.name == name)) is not None:
        raise ReviewError(f"a model named {name!r} is already registered")
    location = location.strip()
    if not location:
        raise ReviewError("model location must not be empty")
    kind = kind or infer_kind(location, base=base)
    if kind not in MODEL_KINDS:
        raise ReviewError(f"unknown model kind {kind!r}: expected one of {', '.join(MODEL_KINDS)}")
    if kind == "external":
        raise ReviewError("an external model has no weights and gets its answers by import only: "
                          f"`review answers import FILE --model {name} --set SET` registers it")

    base_model = get_model(session=session, name=base) if base else None
    if kind == "adapter" and base_model is None:
        raise ReviewError(f"{location}: an adapter needs its base model: pass --base NAME")
    if base_model is not None and base_model.kind == "adapter":
        raise ReviewError(f"base model {base!r} is itself an adapter")
    if base_model is not None and base_model.kind == "external":
        raise ReviewError(f"base model {base!r} is external: it has answers but no weights")

    content_hash = None
    local_path = None
    if kind == "endpoint":
        if not location.startswith(("http://", "https://")):
            raise ReviewError(f"endpoint location must be an http(s) URL, got {location!r}")
    else:
        path = Path(location).expanduser()
        if path.exists():
            local_path = path.resolve()
            location = str(local_path)
        elif not _HUB_ID.match(location):
            raise ReviewError(f"{location}: no such file or folder")
        if kind == "adapter" and local_path is None:
            raise ReviewError(f"{location}: an adapter must be a local folder")

    spec = ModelSpec(kind=kind, location=location,
                     base_location=base_model.location if base_model else None, name=name)
    try:
        validate_model(spec)
    except GenerationError as exc:
        raise ReviewError(str(exc)) from None

    if local_path is not None:
        from review.registry.hashing import content_hash as hash_weights

        try:
            content_hash = hash_weights(local_path)
        except OSError as exc:
            raise ReviewError(f"{location}: cannot read model files: {exc.strerror or exc}") from None
        twin = session.scalar(select(Model).where(Model.content_hash == content_hash))
        if twin is not None:
            raise ReviewError(f"{location}: the same weights are already registered as model "
                              f"{twin.name!r}")
        if step is None and local_path.is_dir():
            step = training_step(local_path)

    model = Model(name=name, kind=kind, location=location, base_model=base_model,
                  content_hash=content_hash, training_step=step, run_name=run_name,
                  meta=meta or {})
    session.add(model)
    session.flush()
    return model


def model_summary(model: Model) -> dict[str, Any]:
    """A registered model as ``review models list --json`` shows it."""
    return {
        "name": model.name, "kind": model.kind, "location": model.location,
        "base": model.base_model.name if model.base_model else None,
        "content_hash": model.content_hash, "training_step": model.training_step,
        "run": model.run_name,
    }


def list_models(*, session: Session) -> list[dict[str, Any]]:
    """Every registered model, oldest first (see :func:`model_summary`)."""
    return [model_summary(m) for m in session.scalars(select(Model).order_by(Model.id))]
