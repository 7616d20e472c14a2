"""``review prompts import|list``: prompt sets."""

from __future__ import annotations

from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option


@app.group("prompts", no_args_is_help=True)
def prompts_app() -> None:
    """Prompt sets."""


@prompts_app.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--set", "set_name", required=True, help="The prompt set to add to (created if new).")
@json_option
def prompts_import(file: Path, set_name: str, as_json: bool) -> None:
    """Import prompts into a named set; importing the same file again changes nothing.

    Example: review prompts import sample_data/prompts.jsonl --set demo
    """
    from review.campaign.prompts import import_prompts, parse_prompt_file

    records = parse_prompt_file(file)
    with current().session() as session:
        result = import_prompts(session=session, set_name=set_name, records=records, source=str(file))
    emit(result.__dict__, as_json,
          f"prompt set {result.prompt_set!r}: {result.added} added, {result.unchanged} already present")


@prompts_app.command("list")
@json_option
def prompts_list(as_json: bool) -> None:
    """List prompt sets with their sizes.

    Example: review prompts list --json
    """
    from review.campaign.prompts import prompt_set_sizes

    with current().session(write=False) as session:
        data = prompt_set_sizes(session=session)
    emit(data, as_json, "\n".join(f"{d['set']}\t{d['prompts']}" for d in data) or "no prompt sets")
