"""The ``review`` command line: each command parses, calls ``review.*`` and prints.

One module per command group (:mod:`~review.cli.database`, :mod:`~review.cli.prompts`,
:mod:`~review.cli.models`, :mod:`~review.cli.accounts`, :mod:`~review.cli.generation`,
:mod:`~review.cli.studies`, :mod:`~review.cli.results`, :mod:`~review.cli.web`,
:mod:`~review.cli.answers`), all on the group of :mod:`~review.cli.base`.

Errors are one line on stderr and exit code 1; nothing is half-written because every
command runs in one transaction that commits only at the end. Heavy libraries (torch,
transformers, gradio) are imported inside the commands that need them, so
``review --help`` is fast.
"""

from __future__ import annotations

import os
import sys

import click

from review.cli import accounts, answers, database, generation, models, prompts, results, studies, web  # noqa: F401 - they register the commands
from review.cli.base import Context, app
from review.core.errors import ReviewError

__all__ = ["app", "main"]


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

