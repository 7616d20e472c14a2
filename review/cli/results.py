"""``review analyze``, ``review report`` and ``review export``: reading results."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option
from review.core.errors import ReviewError
from review.stats.defaults import DEFAULT_BOOTSTRAP


def _rounds(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    from review.reporting.runner import bootstrap_rounds

    try:
        return bootstrap_rounds(value)
    except ReviewError as exc:
        raise click.BadParameter(str(exc)) from None


bootstrap_option = click.option(
    "--bootstrap", "n_bootstrap", type=int, default=DEFAULT_BOOTSTRAP, show_default=True, callback=_rounds,
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


@app.command()
@click.option("--win-rate", "win_rate", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
              required=True, help="The true win rate to plan for (ties count one half).")
@click.option("--method", type=click.Choice(["anytime", "fixed"]), default="anytime", show_default=True,
              help="anytime: valid however often you look; fixed: one planned look.")
@click.option("--margin", type=float, default=0.05, show_default=True)
@click.option("--overlap", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Reviewers per item.")
@click.option("--confidence", type=click.FloatRange(0.5, 1.0, max_open=True), default=0.95,
              show_default=True)
@click.option("--power", type=click.FloatRange(0.5, 1.0, max_open=True), default=0.8, show_default=True)
@json_option
def plan(win_rate: float, method: str, margin: float, overlap: int, confidence: float, power: float,
         as_json: bool) -> None:
    """How many judgments a study needs to ship with the given power at a true win rate.

    Counts both conditions of shipping (the interval above 0.5 and the estimate at least
    0.5 + margin); assumes the prompt clustering typical of side-by-side review (design effect
    1.5, score variance 0.2). The anytime figure is simulated with the study's own rule.

    Example: review plan --win-rate 0.6 --method anytime --overlap 3
    """
    from review.stats.planning import judgments_for_power

    if not 0.0 <= margin < 0.5:
        raise ReviewError("--margin must be from 0 to below 0.5")
    needed = judgments_for_power(win_rate, method=method, margin=margin, confidence=confidence,
                                 power=power, k=overlap)
    data = {"win_rate": win_rate, "method": method, "margin": margin, "overlap": overlap,
            "confidence": confidence, "power": power, "judgments": needed,
            "items": None if needed is None else -(-needed // overlap)}
    text = (f"at a true win rate of {win_rate:.0%} the study cannot be expected to ship "
            f"(it must exceed {0.5 + margin:.0%})" if needed is None else
            f"{needed} judgments ({data['items']} items x {overlap} reviewers) for {power:.0%} power "
            f"at a true win rate of {win_rate:.0%} ({method} method, margin {margin:.0%})")
    emit(data, as_json, text)
