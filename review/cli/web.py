"""``review serve`` and ``review demo``: the web app.

The web app itself (``apps/``, Gradio) is found through the ``review.web`` entry point
that the project declares, so this package never imports it: ``apps`` depends on
``review``, never the other way round.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from review.cli.base import Context, app, current, emit, json_option
from review.core.errors import ReviewError

if TYPE_CHECKING:
    from review.core.config import Settings

# The entry point group and name under which the web app registers its server.
WEB_ENTRY_POINTS = "review.web"
WEB_SERVER = "server"


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the web server registered under ``review.web`` / ``server`` (``apps.server:serve``)."""
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group=WEB_ENTRY_POINTS) if e.name == WEB_SERVER]
    if not found:
        raise ReviewError("the web app is not installed: install the project with "
                          "`pip install -e .` (it registers the `review.web` entry point)")
    found[0].load()(settings, host=host, port=port)


def _warn_public_demo_passwords(ctx: Context, host: str) -> None:
    """Say so, loudly, when the demo's public passwords would be reachable from other machines."""
    from review.demo.setup import demo_passwords_in_use, is_loopback

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
    ctx = current()
    ctx.engine()  # a missing or outdated schema is reported here, before the server starts
    _warn_public_demo_passwords(ctx, host or ctx.settings.host)
    _serve(ctx.settings, host, port)


@app.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo keeps its database and converted model (default REVIEW_DATA_DIR, "
                   "else ./review-data).")
@click.option("--max-new-tokens", type=int, default=160, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default 7860).")
@click.option("--no-serve", is_flag=True, help="Prepare everything, print the logins, do not serve.")
@click.option("--judge", "with_judge", is_flag=True,
              help="Also let SmolLM2-135M judge every item in both orders (a weak judge, shown as such).")
@json_option
def demo(data_dir: Path | None, max_new_tokens: int, batch_size: int, host: str | None,
         port: int | None, no_serve: bool, with_judge: bool, as_json: bool) -> None:
    """The embedded default: sample prompts, SmolLM2-135M-Instruct vs the sample LoRA fine-tune.

    Imports the sample prompts, registers both models, generates their answers (cached: a
    second start is instant), creates the study "demo" with overlap 3 and three reviewer
    accounts plus an analyst, prints the logins and serves the app. The database is
    DATA_DIR/demo.db unless --db or REVIEW_DATABASE_URL names another.

    With --judge the base model also judges every item (see the dashboard's "Model judge").

    Example: review demo --port 7860
    """
    from review.demo.setup import prepare_demo

    # Everything the demo needs is on this machine: never ask a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ctx = current()
    data_dir = (data_dir or ctx.settings.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not ctx.database_url and not os.environ.get("REVIEW_DATABASE_URL"):
        ctx.use_database(f"sqlite:///{data_dir / 'demo.db'}")
    setup = prepare_demo(engine=ctx.engine(require_schema=False), data_dir=data_dir,
                         max_new_tokens=max_new_tokens, batch_size=batch_size,
                         show_progress=not as_json, judge=with_judge)
    settings = ctx.settings
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
    emit(data, as_json, "\n".join(lines))
    if not no_serve:
        _warn_public_demo_passwords(ctx, host)
        _serve(settings, host, port)
