"""``review analyze``, ``review report`` and ``review export``: reading results."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option
from review.core.errors import ReviewError


def _rounds(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    from review.reporting.runner import bootstrap_rounds

    try:
        return bootstrap_rounds(value)
    except ReviewError as exc:
        raise click.BadParameter(str(exc)) from None


bootstrap_option = click.option(
    "--bootstrap", "n_bootstrap", type=int, default=1000, show_default=True, callback=_rounds,
    help="Bootstrap rounds for the intervals (50 to 10,000).")


@app.command()
@click.option("--study", "study_name", required=True, help="The study to analyse.")
@bootstrap_option
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@json_option
def analyze(study_name: str, n_bootstrap: int, seed: int, as_json: bool) -> None:
    """Win rates with intervals, agreement, bias checks, ratings and the verdict.

    Example: review analyze --study sft-v1 --json
    """
    from review.reporting.formatters import format_analysis
    from review.reporting.runner import analyze_study
    from review.core.lookup import get_study

    with current().session(write=False) as session:
        result = analyze_study(session=session, study=get_study(session=session, name=study_name),
                               n_bootstrap=n_bootstrap, seed=seed)
    emit(result, as_json, format_analysis(result))


@app.command()
@click.option("--study", "study_name", required=True, help="The study to report on.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write (default: report-<study>.html).")
@bootstrap_option
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@json_option
def report(study_name: str, output: Path | None, n_bootstrap: int, seed: int, as_json: bool) -> None:
    """Write a self-contained HTML report with plots; it opens offline.

    Verdict, win rates per category, votes, agreement, position and length bias, ratings
    across the training run, reviewers, and the items reviewers disagreed on most.

    Example: review report --study sft-v1 -o report.html
    """
    from review.core.files import write_to_path
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data, render_report_html, report_file_name

    with current().session(write=False) as session:
        data = build_report_data(session=session, study=get_study(session=session, name=study_name),
                                 n_bootstrap=n_bootstrap, seed=seed)
    page = render_report_html(data).encode("utf-8")
    path = output or Path(report_file_name(study_name))
    write_to_path(path, lambda out: out.write(page))
    verdict = data["analysis"]["decision"].get("verdict") or "no verdict"
    emit({"study": study_name, "output": str(path), "bytes": len(page), "verdict": verdict},
          as_json, f"wrote {path} ({len(page) / 1e6:.1f} MB): verdict {verdict}")


@app.command()
@click.option("--study", "study_name", required=True, help="The study to export.")
@click.option("--format", "fmt", required=True,
              type=click.Choice(["jsonl", "csv", "parquet", "mtbench", "dpo"]),
              help="jsonl/csv/parquet: one row per judgment; mtbench: the import-judgments "
                   "format; dpo: preference pairs from each item's majority vote.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (default: stdout).")
def export(study_name: str, fmt: str, output: Path | None) -> None:
    """Export a study's judgments with prompts, answers, models and reviewers.

    Columns of jsonl/csv/parquet: study, judgment_id, item, prompt_id, category, prompt,
    messages, model_left, model_right, answer_left, answer_right, reviewer, choice,
    winner_model, strength, rationale, seconds, created_at, gold (see review/exports.py).

    Example: review export --study sft-v1 --format parquet -o judgments.parquet
    """
    from review.core.files import write_to_path
    from review.interchange.exports import write_export
    from review.core.lookup import get_study

    if output is None and fmt == "parquet" and sys.stdout.isatty():
        raise ReviewError("parquet is binary: give -o FILE or redirect stdout")
    with current().session(write=False) as session:
        study = get_study(session=session, name=study_name)
        if output is None:
            sys.stdout.flush()
            write_export(session=session, study=study, fmt=fmt, out=sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        count = write_to_path(output, lambda out: write_export(session=session, study=study,
                                                               fmt=fmt, out=out))
    click.echo(f"wrote {count} {'pairs' if fmt == 'dpo' else 'judgments'} to {output}", err=True)
