"""``review models add|list``: the model registry."""

from __future__ import annotations

import click

from review.cli.base import app, current, emit, json_option
from review.core.vocabulary import MODEL_KINDS


@app.group("models", no_args_is_help=True)
def models_app() -> None:
    """The model registry."""


@models_app.command("add")
@click.argument("name")
@click.argument("location")
@click.option("--base", help="Registered base model (required for adapters).")
@click.option("--kind", type=click.Choice(MODEL_KINDS),
              help="Inferred when omitted: endpoint for URLs, adapter for PEFT folders.")
@json_option
def models_add(name: str, location: str, base: str | None, kind: str | None, as_json: bool) -> None:
    """Register a model; the same weights under a second name are refused.

    Example: review models add sft-v1 runs/sft/checkpoint-400 --base smollm2
    """
    from review.registry.checkpoints import model_summary, register_model

    with current().session() as session:
        model = register_model(session=session, name=name, location=location, kind=kind, base=base)
        data = model_summary(model)
    emit(data, as_json, f"registered {data['kind']} model {data['name']!r} at {data['location']}")


@models_app.command("list")
@json_option
def models_list(as_json: bool) -> None:
    """List registered models.

    Example: review models list
    """
    from review.registry.checkpoints import list_models

    with current().session(write=False) as session:
        data = list_models(session=session)
    emit(data, as_json, "\n".join(
        f"{d['name']}\t{d['kind']}\t{d['location']}" + (f"\tbase={d['base']}" if d["base"] else "")
        for d in data) or "no models")
