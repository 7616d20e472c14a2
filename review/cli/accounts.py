"""``review reviewers add``: reviewer, analyst and admin accounts."""

from __future__ import annotations

import click

from review.cli.base import app, current, emit, json_option
from review.core.vocabulary import ROLES


@app.group("reviewers", no_args_is_help=True)
def reviewers_app() -> None:
    """Reviewer, analyst and admin accounts."""


@reviewers_app.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reviewer",
              show_default=True)
@click.option("--password", help="Password (a random one is generated and printed when omitted).")
@json_option
def reviewers_add(name: str, role: str, password: str | None, as_json: bool) -> None:
    """Create an account; the password is stored as a salted scrypt hash only.

    Example: review reviewers add ana --role reviewer --password s3cret
    """
    from review.auth.accounts import add_reviewer, generate_password

    generated = password is None
    password = generate_password() if generated else password
    with current().session() as session:
        reviewer = add_reviewer(session=session, name=name, role=role, password=password)
        data = {"name": reviewer.name, "role": reviewer.role}
    if generated:
        data["password"] = password
    text = f"created {data['role']} {data['name']!r}" + (f" with password {password}" if generated else "")
    emit(data, as_json, text)
