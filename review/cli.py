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

    def engine(self, *, require_schema: bool = True):  # noqa: ANN201 - sqlalchemy.Engine
        if self._engine is None:
            from sqlalchemy.engine import make_url

            from review.db import check_connection, make_engine
            from review.schema import current_revision, head_revision

            url = self.settings.database_url
            engine = make_engine(self.settings)
            if engine.dialect.name == "sqlite":
                database = make_url(url).database
                if database and database != ":memory:" and not Path(database).exists():
                    if require_schema:
                        raise ReviewError(f"no database at {database}: run `review init` first")
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
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
