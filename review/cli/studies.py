"""``review studies list|assign`` and ``review import-judgments``."""

from __future__ import annotations

from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option


@app.group("studies", no_args_is_help=True)
def studies_app() -> None:
    """Studies (candidate vs baseline campaigns)."""


@studies_app.command("list")
@json_option
def studies_list(as_json: bool) -> None:
    """List studies with their items and judgments.

    Example: review studies list --json
    """
    from review.campaign.progress import list_studies

    with current().session(write=False) as session:
        data = list_studies(session=session)
    emit(data, as_json, "\n".join(
        f"{d['study']}\t{d['candidate']} vs {d['baseline']}\t{d['items']} items\t{d['judgments']} judgments"
        for d in data) or "no studies")


@app.command("import-judgments")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--study", "study_name", required=True, help="A new study to hold the judgments.")
@click.option("--candidate", help="The model the verdict is about (optional).")
@click.option("--baseline", help="The model it is compared with (optional).")
@json_option
def import_judgments(file: Path, study_name: str, candidate: str | None, baseline: str | None,
                     as_json: bool) -> None:
    """Import judgments in the MT-Bench human-judgment schema, all or nothing.

    One JSON object per line: question_id, model_a, model_b, winner (model_a | model_b |
    tie | tie (bothbad)), judge, optional turn, conversation_a, conversation_b. model_a is
    the answer shown first (left).

    Example: review import-judgments mt_bench_human.jsonl --study mt-bench --candidate gpt-4 --baseline vicuna-13b-v1.2
    """
    from review.interchange.mtbench import import_mtbench, parse_mtbench_file

    rows = parse_mtbench_file(file)
    with current().session() as session:
        summary = import_mtbench(session=session, study_name=study_name, rows=rows,
                                 candidate=candidate, baseline=baseline)
    emit(summary.__dict__, as_json,
          f"study {summary.study!r}: {summary.judgments} judgments on {summary.items} items "
          f"from {summary.judges} judges, {len(summary.models)} models")


@studies_app.command("assign")
@click.argument("study_name", metavar="STUDY")
@click.argument("reviewers", metavar="REVIEWER...", nargs=-1, required=True)
@json_option
def studies_assign(study_name: str, reviewers: tuple[str, ...], as_json: bool) -> None:
    """Put reviewers on a study: they see its items in `review serve` (idempotent).

    Example: review studies assign sft-vs-base ana bo
    """
    from review.campaign.membership import assign_reviewers

    with current().session() as session:
        added = assign_reviewers(session=session, study=study_name, reviewers=list(reviewers))
    data = {"study": study_name, "added": added,
            "already_assigned": [r for r in dict.fromkeys(reviewers) if r not in added]}
    emit(data, as_json, f"study {study_name!r}: added {', '.join(added) or 'nobody'}"
          + (f"; already on it: {', '.join(data['already_assigned'])}" if data["already_assigned"] else ""))
