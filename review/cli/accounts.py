"""``review reviewers add|deactivate|activate|reset-password``: reviewer, analyst and admin
accounts."""

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


@reviewers_app.command("deactivate")
@click.argument("name")
@json_option
def reviewers_deactivate(name: str, as_json: bool) -> None:
    """Deactivate an account: it can no longer sign in, its sessions end at once and its
    known devices are forgotten, so reactivating it later revives none of them.

    Example: review reviewers deactivate ana
    """
    _set_active(name, active=False, as_json=as_json)


@reviewers_app.command("activate")
@click.argument("name")
@json_option
def reviewers_activate(name: str, as_json: bool) -> None:
    """Let a deactivated account sign in again (with a new login; no old session returns).

    Example: review reviewers activate ana
    """
    _set_active(name, active=True, as_json=as_json)


def _set_active(name: str, *, active: bool, as_json: bool) -> None:
    from review.auth.accounts import set_active

    with current().session() as session:
        reviewer = set_active(session=session, name=name, active=active)
        data = {"name": reviewer.name, "active": reviewer.active}
    emit(data, as_json, f"{'activated' if active else 'deactivated'} {data['name']!r}")


@reviewers_app.command("reset-password")
@click.argument("name")
@click.option("--password", help="The new password (a random one is generated and printed when omitted).")
@json_option
def reviewers_reset_password(name: str, password: str | None, as_json: bool) -> None:
    """Give an account a new password; its sessions end and its known devices are forgotten.

    Example: review reviewers reset-password ana --password n3w-s3cret
    """
    from review.auth.accounts import reset_password

    with current().session() as session:
        generated = reset_password(session=session, name=name, password=password)
    data = {"name": name.strip()}
    if generated is not None:
        data["password"] = generated
    text = f"reset the password of {data['name']!r}" + (f" to {generated}" if generated else "")
    emit(data, as_json, text)
