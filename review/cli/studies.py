"""``review studies list|assign|use-judge|strip|set-min-seconds`` and ``review import-judgments``."""

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
@click.option("--study", "study_name", required=True,
              help="A new study to hold the judgments (human), or the study judged (llm).")
@click.option("--candidate", help="The model the verdict is about (optional).")
@click.option("--baseline", help="The model it is compared with (optional).")
@click.option("--rater-kind", type=click.Choice(["human", "llm"]), default="human", show_default=True,
              help="llm: a model judge's verdicts, added to an existing study.")
@json_option
def import_judgments(file: Path, study_name: str, candidate: str | None, baseline: str | None,
                     rater_kind: str, as_json: bool) -> None:
    """Import judgments in the MT-Bench human-judgment schema, all or nothing.

    One JSON object per line: question_id, model_a, model_b, winner (model_a | model_b |
    tie | tie (bothbad)), judge, optional turn, conversation_a, conversation_b. model_a is
    the answer shown first (left).

    With --rater-kind llm the lines are a model judge's verdicts on an existing study's items
    (matched by question_id, turn and the two models; one line per item and order).

    Example: review import-judgments mt_bench_human.jsonl --study mt-bench --candidate gpt-4 --baseline vicuna-13b-v1.2
    """
    from review.interchange.mtbench import import_mtbench, parse_mtbench_file

    if rater_kind == "llm":
        from review.interchange.judge_import import import_judge_verdicts

        if candidate or baseline:
            raise click.UsageError("--candidate/--baseline belong to the study; not with --rater-kind llm")
        rows = parse_mtbench_file(file, both_orders=True)
        with current().session() as session:
            result = import_judge_verdicts(session=session, study_name=study_name, rows=rows, source=file)
        emit(result.__dict__, as_json, f"study {result.study!r}: {result.verdicts} verdicts of "
             f"{', '.join(result.judges)} on {result.items} items")
        return
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


@studies_app.command("use-judge")
@click.argument("study_name", metavar="STUDY")
@click.option("--judge", "judge_name", help="An llm rater that judged the study's items.")
@click.option("--off", is_flag=True, help="Stop using a judge: people only, every item.")
@click.option("--human-budget", type=int, help="Human judgments to spend (set before people start).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw of items.")
@json_option
def studies_use_judge(study_name: str, judge_name: str | None, off: bool, human_budget: int | None,
                      seed: int, as_json: bool) -> None:
    """Let a study's verdict use a model judge (prediction-powered), optionally under a budget.

    Example: review studies use-judge sft-vs-base --judge judge:qwen-7b --human-budget 150
    """
    from review.cli.generation import selection_text, apply_use_judge

    if off == bool(judge_name):
        raise click.UsageError("give --judge NAME, or --off")
    selection = apply_use_judge(study_name, None if off else judge_name, human_budget, seed)
    emit(selection.__dict__, as_json, selection_text(selection))


@studies_app.command("strip")
@click.option("--study", "study_name", required=True, help="The study whose answers reviewers see.")
@click.option("--model", "model_name", required=True, help="The study's candidate or baseline.")
@click.option("--opening", help="Exact text to remove from the start of its answers (\"\": stop).")
@click.option("--closing", help="Exact text to remove from the end of its answers (\"\": stop).")
@click.option("--clear", is_flag=True, help="Stop stripping anything from this model's answers.")
@json_option
def studies_strip(study_name: str, model_name: str, opening: str | None, closing: str | None,
                  clear: bool, as_json: bool) -> None:
    """Strip a fixed opening and/or closing from one model's answers before reviewers see them.

    When `review analyze` flags a study because one model starts (or ends) nearly every answer
    with the same sentence, it suggests the exact text. Only an exact match at the start (end)
    is removed; the stored answers, exports and the report's items are unchanged.

    Example: review studies strip --study sft-v1 --model sft --opening "Hi, thanks for contacting Lumora Support!"
    """
    from review.campaign.boilerplate import clear_boilerplate, set_boilerplate

    if clear and (opening is not None or closing is not None):
        raise click.UsageError("--clear takes no --opening or --closing")
    if not clear and opening is None and closing is None:
        raise click.UsageError("give --opening TEXT and/or --closing TEXT, or --clear")
    with current().session() as session:
        if clear:
            result = clear_boilerplate(session=session, study=study_name, model=model_name)
        else:
            result = set_boilerplate(session=session, study=study_name, model=model_name,
                                     opening=opening, closing=closing)
    emit({"study": study_name, **result.to_dict()}, as_json, _strip_text(study_name, result))


def _strip_text(study: str, result) -> str:  # noqa: ANN001 - review.campaign.boilerplate.Boilerplate
    parts = [f"the {side} {text!r}" for side, text in (("opening", result.opening),
                                                        ("closing", result.closing)) if text]
    if not parts:
        return f"study {study!r}: answers of {result.model} are shown as written"
    return (f"study {study!r}: answers of {result.model} are shown without {' and '.join(parts)} "
            f"({result.changed} of {result.answers} answers change)")


@studies_app.command("set-min-seconds")
@click.option("--study", "study_name", required=True, help="The study.")
@click.option("--seconds", required=True, metavar="SECONDS",
              help="From 0 to 600; a vote on an item shown for less is refused.")
@json_option
def studies_set_min_seconds(study_name: str, seconds: str, as_json: bool) -> None:
    """Set how long an item must be on screen before a vote on it counts.

    A double key press cannot vote on an unread item; 0 turns the check off.

    Example: review studies set-min-seconds --study sft-v1 --seconds 2.5
    """
    from review.campaign.administration import set_min_seconds

    with current().session() as session:
        settings = set_min_seconds(session=session, study=study_name, seconds=seconds)
    emit({"study": settings.study, "min_seconds": settings.min_seconds}, as_json,
         f"study {settings.study!r}: a vote counts once its item was on screen "
         f"{settings.min_seconds:g} s")
