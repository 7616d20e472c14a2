"""``review answers import``: answers generated elsewhere, as the answers of an external model."""

from __future__ import annotations

from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option


@app.group("answers", no_args_is_help=True)
def answers_app() -> None:
    """Answers generated elsewhere (models of kind external)."""


@answers_app.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model", "model_name", required=True,
              help="The external model these are the answers of (registered on first import).")
@click.option("--set", "set_name", required=True, help="The prompt set the answers answer.")
@json_option
def answers_import(file: Path, model_name: str, set_name: str, as_json: bool) -> None:
    """Import answers made elsewhere; all or nothing, and the same file again changes nothing.

    FILE is AlpacaEval's model_outputs.json (a JSON list of {instruction, output, generator},
    each matched to the prompt whose single user message is exactly its instruction) or JSON
    lines of {prompt_id, output} (prompt_id: the prompt's id in the set). A different answer
    to a prompt the model already answered is refused. `review pair` then pairs the model on
    these answers and generates nothing for it.

    Example: review answers import model_outputs.json --model vendor-a --set demo
    """
    from review.core.textfiles import read_bytes
    from review.interchange.answers import import_answers

    source = read_bytes(file, expected="an answers file")
    with current().session() as session:
        result = import_answers(session=session, source=source, file_name=file.name,
                                model=model_name, prompt_set=set_name)
    registered = ", registered" if result.created_model else ""
    text = (f"external model {result.model!r}{registered}: {result.imported} answers imported, "
            f"{result.unchanged} unchanged")
    emit(result.__dict__, as_json, text)
