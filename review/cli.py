"""The ``review`` command line: each command parses, calls ``review.*`` and prints.

Errors are one line on stderr and exit code 1; nothing is half-written because every
command runs in one transaction that commits only at the end. Heavy libraries (torch,
transformers, gradio) are imported inside the commands that need them, so
``review --help`` is fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from review.errors import ReviewError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS, no_args_is_help=True)
def app() -> None:
    """Blind side-by-side human review of fine-tuned language models.

    Database: --db URL (anywhere on the line) or REVIEW_DATABASE_URL; default
    sqlite:///review.db in the working directory.
    """


@app.group("prompts", no_args_is_help=True)
def prompts_app() -> None:
    """Prompt sets."""


@app.group("models", no_args_is_help=True)
def models_app() -> None:
    """The model registry."""


@app.group("reviewers", no_args_is_help=True)
def reviewers_app() -> None:
    """Reviewer, analyst and admin accounts."""


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


class Context:
    """What every command needs: the settings (with --db applied) and, lazily, an engine."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._settings = None
        self._engine = None

    @property
    def settings(self):  # noqa: ANN201 - review.config.Settings
        if self._settings is None:
            from pydantic import ValidationError

            from review.config import Settings

            overrides = {"database_url": self.database_url} if self.database_url else {}
            try:
                self._settings = Settings(**overrides)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                raise ReviewError(f"invalid setting REVIEW_{field.upper()}: {first['msg']}") from None
        return self._settings

    def use_database(self, url: str) -> None:
        """Point this command at another database (before the engine is made)."""
        self.database_url, self._settings, self._engine = url, None, None

    def engine(self, *, require_schema: bool = True):  # noqa: ANN201 - sqlalchemy.Engine
        if self._engine is None:
            from review.db import check_connection, make_engine, sqlite_file
            from review.schema import current_revision, head_revision

            engine = make_engine(self.settings)
            if engine.dialect.name == "sqlite":
                database = sqlite_file(engine.url)
                if database is not None and not database.exists():
                    if require_schema:
                        raise ReviewError(f"no database at {database}: run `review init` first")
                    database.parent.mkdir(parents=True, exist_ok=True)
            check_connection(engine)
            if require_schema:
                revision = current_revision(engine)
                if revision is None:
                    raise ReviewError("the database has no schema yet: run `review init` first")
                if revision != head_revision():
                    raise ReviewError("the database schema is out of date: run `review init` to upgrade it")
            self._engine = engine
        return self._engine

    def session(self, *, write: bool = True):  # noqa: ANN201 - context manager of Session
        from review.db import session_scope

        return session_scope(self.engine(), write=write)


def _ctx() -> Context:
    return click.get_current_context().find_object(Context)


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text)


# --------------------------------------------------------------------------- commands


@app.command()
@json_option
def init(as_json: bool) -> None:
    """Create or upgrade the database schema (alembic upgrade head).

    Example: review --db sqlite:///votes.db init
    """
    from review.schema import upgrade_head

    ctx = _ctx()
    engine = ctx.engine(require_schema=False)
    revision = upgrade_head(engine)
    url = engine.url.render_as_string(hide_password=True)
    _emit({"database": url, "revision": revision}, as_json, f"database {url} is at revision {revision}")


@prompts_app.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--set", "set_name", required=True, help="The prompt set to add to (created if new).")
@json_option
def prompts_import(file: Path, set_name: str, as_json: bool) -> None:
    """Import prompts into a named set; importing the same file again changes nothing.

    Example: review prompts import sample_data/prompts.jsonl --set demo
    """
    from review.prompts import import_prompts, parse_prompt_file

    records = parse_prompt_file(file)
    with _ctx().session() as session:
        result = import_prompts(session=session, set_name=set_name, records=records, source=str(file))
    _emit(result.__dict__, as_json,
          f"prompt set {result.prompt_set!r}: {result.added} added, {result.unchanged} already present")


@prompts_app.command("list")
@json_option
def prompts_list(as_json: bool) -> None:
    """List prompt sets with their sizes.

    Example: review prompts list --json
    """
    from sqlalchemy import func, select

    from review.models import Prompt, PromptSet

    with _ctx().session(write=False) as session:
        rows = session.execute(
            select(PromptSet.name, func.count(Prompt.id))
            .outerjoin(Prompt, Prompt.prompt_set_id == PromptSet.id)
            .group_by(PromptSet.name).order_by(PromptSet.name)
        ).all()
    data = [{"set": name, "prompts": count} for name, count in rows]
    _emit(data, as_json, "\n".join(f"{d['set']}\t{d['prompts']}" for d in data) or "no prompt sets")


@models_app.command("add")
@click.argument("name")
@click.argument("location")
@click.option("--base", help="Registered base model (required for adapters).")
@click.option("--kind", type=click.Choice(["base", "finetune", "adapter", "endpoint"]),
              help="Inferred when omitted: endpoint for URLs, adapter for PEFT folders.")
@json_option
def models_add(name: str, location: str, base: str | None, kind: str | None, as_json: bool) -> None:
    """Register a model; the same weights under a second name are refused.

    Example: review models add sft-v1 runs/sft/checkpoint-400 --base smollm2
    """
    from review.checkpoints import register_model

    with _ctx().session() as session:
        model = register_model(session=session, name=name, location=location, kind=kind, base=base)
        data = _model_dict(model)
    _emit(data, as_json, f"registered {data['kind']} model {data['name']!r} at {data['location']}")


def _model_dict(model) -> dict[str, Any]:  # noqa: ANN001
    return {
        "name": model.name, "kind": model.kind, "location": model.location,
        "base": model.base_model.name if model.base_model else None,
        "content_hash": model.content_hash, "training_step": model.training_step,
        "run": model.run_name,
    }


@models_app.command("list")
@json_option
def models_list(as_json: bool) -> None:
    """List registered models.

    Example: review models list
    """
    from sqlalchemy import select

    from review.models import Model

    with _ctx().session(write=False) as session:
        data = [_model_dict(m) for m in session.scalars(select(Model).order_by(Model.id))]
    _emit(data, as_json, "\n".join(
        f"{d['name']}\t{d['kind']}\t{d['location']}" + (f"\tbase={d['base']}" if d["base"] else "")
        for d in data) or "no models")


@reviewers_app.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["reviewer", "analyst", "admin"]), default="reviewer",
              show_default=True)
@click.option("--password", help="Password (a random one is generated and printed when omitted).")
@json_option
def reviewers_add(name: str, role: str, password: str | None, as_json: bool) -> None:
    """Create an account; the password is stored as a salted scrypt hash only.

    Example: review reviewers add ana --role reviewer --password s3cret
    """
    from review.accounts import add_reviewer, generate_password

    generated = password is None
    password = generate_password() if generated else password
    with _ctx().session() as session:
        reviewer = add_reviewer(session=session, name=name, role=role, password=password)
        data = {"name": reviewer.name, "role": reviewer.role}
    if generated:
        data["password"] = password
    text = f"created {data['role']} {data['name']!r}" + (f" with password {password}" if generated else "")
    _emit(data, as_json, text)


@app.command()
@json_option
def status(as_json: bool) -> None:
    """Counts of models, prompts, generations, studies, items and judgments.

    Example: review status --json
    """
    from review.status import database_counts

    with _ctx().session(write=False) as session:
        counts = database_counts(session=session)
    _emit(counts, as_json, "\n".join(f"{key:<12} {value}" for key, value in counts.items()))


def _generation_options(function):  # noqa: ANN001, ANN202
    """The decoding options shared by generate, pair and watch."""
    options = [
        click.option("--batch-size", type=int, default=8, show_default=True, help="Prompts per batch."),
        click.option("--max-new-tokens", type=int, default=256, show_default=True),
        click.option("--temperature", type=float, default=0.0, show_default=True,
                     help="0 is greedy decoding."),
        click.option("--top-p", type=float, default=1.0, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Sampling seed (used when temperature > 0)."),
        click.option("--no-chat-template", is_flag=True, help="Join messages as plain text."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _params(max_new_tokens: int, temperature: float, top_p: float, seed: int, no_chat_template: bool):
    from review.generation import GenerationParams

    return GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                            seed=seed, use_chat_template=not no_chat_template)


@app.command()
@click.option("--model", "model_name", required=True, help="A registered model.")
@click.option("--set", "set_name", required=True, help="A prompt set.")
@_generation_options
@json_option
def generate(model_name: str, set_name: str, batch_size: int, max_new_tokens: int,
             temperature: float, top_p: float, seed: int, no_chat_template: bool,
             as_json: bool) -> None:
    """Generate a model's answers for a prompt set (only those not generated yet).

    Rerunning does nothing for prompts already answered; after an interruption it finishes
    the rest. A progress bar shows prompts done, tokens per second and time left.

    Example: review generate --model smollm2 --set demo --batch-size 16 --max-new-tokens 200
    """
    from review.answers import generate_answers

    params = _params(max_new_tokens, temperature, top_p, seed, no_chat_template)
    summary = generate_answers(engine=_ctx().engine(), model_name=model_name, set_name=set_name,
                               params=params, batch_size=batch_size, show_progress=not as_json)
    data = {**summary.__dict__, "tokens_per_second": round(summary.tokens_per_second, 2)}
    _emit(data, as_json, f"{model_name}: {summary.generated} answers generated "
                         f"({summary.tokens_per_second:.1f} tokens/s), "
                         f"{summary.already_present} already present")


@app.command()
@click.option("--study", "study_name", required=True, help="Name of the study to create.")
@click.option("--candidate", required=True, help="The fine-tuned model.")
@click.option("--baseline", required=True, help="The model it must beat.")
@click.option("--set", "set_name", required=True, help="The prompt set.")
@click.option("--overlap", type=int, default=3, show_default=True, help="Reviewers per item (k).")
@click.option("--gold-rate", type=float, default=0.0, show_default=True,
              help="Share of gold (attention-check) items mixed into each reviewer's queue.")
@click.option("--guidelines", "guidelines_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A markdown file of reviewer guidelines.")
@_generation_options
@json_option
def pair(study_name: str, candidate: str, baseline: str, set_name: str, overlap: int,
         gold_rate: float, guidelines_file: Path | None, batch_size: int, max_new_tokens: int,
         temperature: float, top_p: float, seed: int, no_chat_template: bool, as_json: bool) -> None:
    """Create a study of candidate vs baseline, generating any missing answers first.

    Example: review pair --study sft-v1 --candidate sft-v1 --baseline smollm2 --set demo --overlap 3
    """
    from review.answers import generate_answers, get_prompt_set
    from review.checkpoints import get_model
    from review.pairing import create_study

    params = _params(max_new_tokens, temperature, top_p, seed, no_chat_template)
    ctx = _ctx()
    guidelines = guidelines_file.read_text(encoding="utf-8") if guidelines_file else ""
    with ctx.session(write=False) as session:  # fail on unknown names before generating
        for name in (candidate, baseline):
            get_model(session=session, name=name)
        get_prompt_set(session=session, name=set_name)
    for name in (baseline, candidate):
        generate_answers(engine=ctx.engine(), model_name=name, set_name=set_name, params=params,
                         batch_size=batch_size, show_progress=not as_json)
    with ctx.session() as session:
        result = create_study(
            session=session, name=study_name, candidate=get_model(session=session, name=candidate),
            baseline=get_model(session=session, name=baseline),
            prompt_set=get_prompt_set(session=session, name=set_name),
            params_hash=params.params_hash(), overlap=overlap, gold_rate=gold_rate,
            guidelines=guidelines)
    _emit(result.__dict__, as_json,
          f"study {result.study!r}: {result.items_total} items ({result.items_added} new), "
          f"{overlap} reviewers per item")


@app.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--baseline", required=True, help="The registered model every checkpoint is compared with.")
@click.option("--set", "set_name", required=True, help="The prompt set.")
@click.option("--base", help="Base model of adapter checkpoints (default: the baseline).")
@click.option("--run", "run_name", help="Run name (default: the folder's name).")
@click.option("--overlap", type=int, default=3, show_default=True)
@click.option("--interval", type=float, default=10.0, show_default=True,
              help="Seconds between looks; a checkpoint must be unchanged over one interval.")
@click.option("--once", is_flag=True, help="Look twice (one interval apart), handle what is complete, exit.")
@_generation_options
@json_option
def watch(directory: Path, baseline: str, set_name: str, base: str | None, run_name: str | None,
          overlap: int, interval: float, once: bool, batch_size: int, max_new_tokens: int,
          temperature: float, top_p: float, seed: int, no_chat_template: bool, as_json: bool) -> None:
    """Register, generate and pair each new checkpoint-* folder of a training run.

    Each complete checkpoint (weights and trainer_state.json written, unchanged for one
    interval) is handled once, in step order: a study against the baseline and one against
    the best earlier checkpoint. Restarting never pairs anything twice.

    Example: review watch runs/sft --baseline smollm2 --set demo --interval 30
    """
    import time

    from review.watcher import CheckpointWatcher

    watcher = CheckpointWatcher(
        engine=_ctx().engine(), directory=directory, baseline=baseline, set_name=set_name,
        params=_params(max_new_tokens, temperature, top_p, seed, no_chat_template), base=base,
        run_name=run_name, overlap=overlap, batch_size=batch_size, settle_seconds=interval,
        show_progress=not as_json)
    if once:
        watcher.complete_checkpoints()
        time.sleep(interval)
        handled = watcher.poll()
        _emit({"handled": handled}, as_json,
              "\n".join(f"handled {name}" for name in handled) or "no new complete checkpoint")
        return
    click.echo(f"watching {watcher.directory} every {interval:g}s (Ctrl-C to stop)", err=True)
    while True:
        for name in watcher.poll():
            click.echo(f"handled {name}", err=True)
        time.sleep(interval)


@app.group("studies", no_args_is_help=True)
def studies_app() -> None:
    """Studies (candidate vs baseline campaigns)."""


@studies_app.command("list")
@json_option
def studies_list(as_json: bool) -> None:
    """List studies with their items and judgments.

    Example: review studies list --json
    """
    from sqlalchemy import func, select

    from review.models import Comparison, Judgment, Study

    with _ctx().session(write=False) as session:
        items = dict(session.execute(select(Comparison.study_id, func.count()).group_by(Comparison.study_id)).all())
        votes = dict(session.execute(
            select(Comparison.study_id, func.count()).join(Judgment, Judgment.comparison_id == Comparison.id)
            .group_by(Comparison.study_id)).all())
        data = [{
            "study": s.name, "candidate": s.candidate.name if s.candidate else None,
            "baseline": s.baseline.name if s.baseline else None, "overlap": s.overlap,
            "status": s.status, "items": items.get(s.id, 0), "judgments": votes.get(s.id, 0),
        } for s in session.scalars(select(Study).order_by(Study.id))]
    _emit(data, as_json, "\n".join(
        f"{d['study']}\t{d['candidate']} vs {d['baseline']}\t{d['items']} items\t{d['judgments']} judgments"
        for d in data) or "no studies")


@app.command()
@click.option("--study", "study_name", required=True, help="The study to analyse.")
@click.option("--bootstrap", "n_bootstrap", type=int, default=1000, show_default=True,
              help="Bootstrap rounds for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@json_option
def analyze(study_name: str, n_bootstrap: int, seed: int, as_json: bool) -> None:
    """Win rates with intervals, agreement, bias checks, ratings and the verdict.

    Example: review analyze --study sft-v1 --json
    """
    from review.analysis import analyze_study, format_analysis
    from review.pairing import get_study

    if n_bootstrap < 50:
        raise ReviewError("--bootstrap must be at least 50")
    with _ctx().session(write=False) as session:
        result = analyze_study(session=session, study=get_study(session=session, name=study_name),
                               n_bootstrap=n_bootstrap, seed=seed)
    _emit(result, as_json, format_analysis(result))


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
    from review.io import import_mtbench, parse_mtbench_file

    rows = parse_mtbench_file(file)
    with _ctx().session() as session:
        summary = import_mtbench(session=session, study_name=study_name, rows=rows,
                                 candidate=candidate, baseline=baseline)
    _emit(summary.__dict__, as_json,
          f"study {summary.study!r}: {summary.judgments} judgments on {summary.items} items "
          f"from {summary.judges} judges, {len(summary.models)} models")


@app.command()
@click.option("--study", "study_name", required=True, help="The study to report on.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write (default: report-<study>.html).")
@click.option("--bootstrap", "n_bootstrap", type=int, default=1000, show_default=True,
              help="Bootstrap rounds for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@json_option
def report(study_name: str, output: Path | None, n_bootstrap: int, seed: int, as_json: bool) -> None:
    """Write a self-contained HTML report with plots; it opens offline.

    Verdict, win rates per category, votes, agreement, position and length bias, ratings
    across the training run, reviewers, and the items reviewers disagreed on most.

    Example: review report --study sft-v1 -o report.html
    """
    from review.exports import safe_file_name, write_to_path
    from review.pairing import get_study
    from review.reports import build_report_data, render_report_html

    if n_bootstrap < 50:
        raise ReviewError("--bootstrap must be at least 50")
    with _ctx().session(write=False) as session:
        data = build_report_data(session=session, study=get_study(session=session, name=study_name),
                                 n_bootstrap=n_bootstrap, seed=seed)
    page = render_report_html(data).encode("utf-8")
    path = output or Path(safe_file_name(study_name, prefix="report-", suffix=".html"))
    write_to_path(path, lambda out: out.write(page))
    verdict = data["analysis"]["decision"].get("verdict") or "no verdict"
    _emit({"study": study_name, "output": str(path), "bytes": len(page), "verdict": verdict},
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
    from review.exports import write_export, write_to_path
    from review.pairing import get_study

    if output is None and fmt == "parquet" and sys.stdout.isatty():
        raise ReviewError("parquet is binary: give -o FILE or redirect stdout")
    with _ctx().session(write=False) as session:
        study = get_study(session=session, name=study_name)
        if output is None:
            sys.stdout.flush()
            write_export(session=session, study=study, fmt=fmt, out=sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        count = write_to_path(output, lambda out: write_export(session=session, study=study,
                                                               fmt=fmt, out=out))
    click.echo(f"wrote {count} {'pairs' if fmt == 'dpo' else 'judgments'} to {output}", err=True)


@studies_app.command("assign")
@click.argument("study_name", metavar="STUDY")
@click.argument("reviewers", metavar="REVIEWER...", nargs=-1, required=True)
@json_option
def studies_assign(study_name: str, reviewers: tuple[str, ...], as_json: bool) -> None:
    """Put reviewers on a study: they see its items in `review serve` (idempotent).

    Example: review studies assign sft-vs-base ana bo
    """
    from review.assignment import assign_reviewers

    with _ctx().session() as session:
        added = assign_reviewers(session=session, study=study_name, reviewers=list(reviewers))
    data = {"study": study_name, "added": added,
            "already_assigned": [r for r in dict.fromkeys(reviewers) if r not in added]}
    _emit(data, as_json, f"study {study_name!r}: added {', '.join(added) or 'nobody'}"
          + (f"; already on it: {', '.join(data['already_assigned'])}" if data["already_assigned"] else ""))


def _warn_public_demo_passwords(ctx: Context, host: str) -> None:
    """Say so, loudly, when the demo's public passwords would be reachable from other machines."""
    from review.demo import demo_passwords_in_use, is_loopback

    if is_loopback(host):
        return
    with ctx.session(write=False) as session:
        names = demo_passwords_in_use(session=session)
    if names:
        click.echo("!" * 78, err=True)
        click.echo(f"WARNING: serving on {host}, reachable from other machines, while the accounts "
                   f"{', '.join(names)} still have their public demo passwords. Anyone who has read "
                   "the README can log in. Change them or serve on 127.0.0.1.", err=True)
        click.echo("!" * 78, err=True)


@app.command()
@click.option("--host", help="Interface to listen on (default REVIEW_HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default REVIEW_PORT, else 7860).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the reviewer app and the analyst dashboard (log in with a reviewer account).

    Example: review serve --host 0.0.0.0 --port 7860
    """
    import importlib

    ctx = _ctx()
    ctx.engine()  # a missing or outdated schema is reported here, before the server starts
    _warn_public_demo_passwords(ctx, host or ctx.settings.host)
    # The web adapter (apps/, Gradio) is looked up by name when this command runs: the
    # review package itself has no import dependency on the UI layer.
    web = importlib.import_module("apps.server")
    web.serve(ctx.settings, host=host, port=port)


@app.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo keeps its database and converted model (default REVIEW_DATA_DIR, "
                   "else ./review-data).")
@click.option("--max-new-tokens", type=int, default=160, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default 7860).")
@click.option("--no-serve", is_flag=True, help="Prepare everything, print the logins, do not serve.")
@json_option
def demo(data_dir: Path | None, max_new_tokens: int, batch_size: int, host: str | None,
         port: int | None, no_serve: bool, as_json: bool) -> None:
    """The embedded default: sample prompts, SmolLM2-135M-Instruct vs the sample LoRA fine-tune.

    Imports the sample prompts, registers both models, generates their answers (cached: a
    second start is instant), creates the study "demo" with overlap 3 and three reviewer
    accounts plus an analyst, prints the logins and serves the app. The database is
    DATA_DIR/demo.db unless --db or REVIEW_DATABASE_URL names another.

    Example: review demo --port 7860
    """
    import importlib

    from review.config import Settings
    from review.demo import prepare_demo

    # Everything the demo needs is on this machine: never ask a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ctx = _ctx()
    data_dir = (data_dir or ctx.settings.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not ctx.database_url and not os.environ.get("REVIEW_DATABASE_URL"):
        ctx.use_database(f"sqlite:///{data_dir / 'demo.db'}")
    setup = prepare_demo(engine=ctx.engine(require_schema=False), data_dir=data_dir,
                         max_new_tokens=max_new_tokens, batch_size=batch_size,
                         show_progress=not as_json)
    settings: Settings = ctx.settings
    host, port = host or settings.host, port or settings.port
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    data = {"database": setup.database_url, "study": setup.study, "items": setup.items,
            "answers_generated": setup.generated, "url": url,
            "logins": [{"name": n, "role": r, "password": p} for n, r, p in setup.accounts]}
    lines = [f"Demo study {setup.study!r}: {setup.items} items, 3 reviewers per item "
             f"({setup.generated} answers generated now; database {setup.database_url})",
             "", "Log in with (demo passwords, for this machine only):"]
    lines += [f"  {n:<8} {p:<14} {r}" for n, r, p in setup.accounts]
    lines += ["", f"Reviewer app and dashboard: {url}" if not no_serve
              else f"Start the app with: review --db {setup.database_url} serve"]
    _emit(data, as_json, "\n".join(lines))
    if not no_serve:
        _warn_public_demo_passwords(ctx, host)
        web = importlib.import_module("apps.server")
        web.serve(settings, host=host, port=port)


@app.group("db", no_args_is_help=True)
def db_app() -> None:
    """Back up and restore the database (a SQLite file or PostgreSQL)."""


@db_app.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def db_backup(file: Path, as_json: bool) -> None:
    """Write a consistent backup of the database to FILE; safe while the app is running.

    SQLite: a copy made with SQLite's online backup API (an ordinary SQLite file).
    PostgreSQL: a pg_dump custom-format archive (needs pg_dump on PATH). FILE appears only
    when the backup is complete; an existing FILE is replaced then, not before.

    Example: review db backup backups/review-2025-01-31.db
    """
    from review.backup import backup_database

    result = backup_database(_ctx().settings.database_url, file)
    _emit(result.to_dict(), as_json,
          f"backed up {result.database} to {result.output} ({result.bytes} bytes, "
          f"schema revision {result.revision or 'none'})")


@db_app.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@json_option
def db_restore(file: Path, force: bool, as_json: bool) -> None:
    """Restore a backup made by `review db backup` into the database (all or nothing).

    A SQLite backup goes into a SQLite database, a pg_dump archive into PostgreSQL (with
    pg_restore --clean --if-exists --no-owner, in one transaction). A database that already
    holds data is replaced only with --force. Stop `review serve` and `review watch` first.

    Example: review --db sqlite:///restored.db db restore backups/review-2025-01-31.db
    """
    from review.backup import restore_database

    result = restore_database(_ctx().settings.database_url, file, force=force)
    hint = "" if result.up_to_date else "; run `review init` to upgrade its schema"
    _emit(result.to_dict(), as_json,
          f"restored {result.source} into {result.database} "
          f"(schema revision {result.revision}){hint}")


# --------------------------------------------------------------------------- entry point


def _pop_db_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--db URL`` / ``--db=URL`` from anywhere on the command line."""
    rest: list[str] = []
    url = None
    args = iter(argv)
    for arg in args:
        if arg == "--":
            rest.append(arg)
            rest.extend(args)
            break
        if arg == "--db":
            url = next(args, None)
            if url is None:
                raise ReviewError("--db needs a database URL, e.g. --db sqlite:///review.db")
        elif arg.startswith("--db="):
            url = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return url, rest


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        url, argv = _pop_db_option(argv)
        app.main(args=argv, prog_name="review", standalone_mode=False, obj=Context(url))
    except ReviewError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except click.exceptions.NoArgsIsHelpError:
        return 0
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        click.echo(f"error: database error: {reason}", err=True)
        return 1
    except SQLAlchemyError as exc:
        click.echo(f"error: database error: {exc}", err=True)
        return 1
    except Exception as exc:  # a bug: still one line, with a way to get the details
        if os.environ.get("REVIEW_DEBUG"):
            raise
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} "
                   "(set REVIEW_DEBUG=1 for the traceback)", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
