"""The CLI contract: init, status, reviewers; clear one-line errors; fast start-up."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from review.core.db import session_scope
from review.core.models import Reviewer
from review.auth.passwords import verify_password


def test_status_before_init_says_what_to_do(cli):
    code, out, err = cli("status")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "review init" in err and err.count("\n") == 1


def test_init_and_status_json(cli):
    code, out, err = cli("init", "--json")
    assert code == 0, err
    assert json.loads(out)["revision"] is not None
    code, out, _ = cli("status", "--json")
    assert json.loads(out) == {"models": 0, "prompt_sets": 0, "prompts": 0, "generations": 0,
                               "studies": 0, "items": 0, "judgments": 0, "reviewers": 0}
    assert cli("init")[0] == 0  # upgrading an up-to-date database is a no-op


def test_reviewers_add_stores_a_hash_only(cli, engine):
    assert cli("init")[0] == 0
    code, out, err = cli("reviewers", "add", "ana", "--role", "analyst", "--password", "pw-123", "--json")
    assert code == 0, err
    assert json.loads(out) == {"name": "ana", "role": "analyst"}
    code, out, _ = cli("reviewers", "add", "bo", "--json")
    generated = json.loads(out)["password"]
    with session_scope(engine) as session:
        ana = session.scalar(select(Reviewer).where(Reviewer.name == "ana"))
        bo = session.scalar(select(Reviewer).where(Reviewer.name == "bo"))
        assert "pw-123" not in ana.password_hash and verify_password("pw-123", ana.password_hash)
        assert verify_password(generated, bo.password_hash) and bo.role == "reviewer"
    code, _, err = cli("reviewers", "add", "ana")
    assert code == 1 and "already exists" in err
    code, _, err = cli("reviewers", "add", "cy", "--role", "boss")
    assert code == 1 and "--role" in err


def test_bad_database_urls_are_one_line_errors(cli):
    code, _, err = cli("--db", "nonsense", "status")
    assert code == 1 and err.startswith("error: invalid database URL") and err.count("\n") == 1
    code, _, err = cli("status", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1 and "cannot connect to database" in err and err.count("\n") == 1


def test_usage_errors_exit_1_with_one_line(cli):
    code, _, err = cli("frobnicate")
    assert code == 1 and "No such command" in err and err.count("\n") == 1
    code, _, err = cli("prompts", "import")
    assert code == 1 and "Missing argument" in err


def test_every_command_has_help_with_an_example():
    from review.cli import app

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, path + [name])
            else:
                yield path + [name], command

    commands = list(walk(app, []))
    assert len(commands) >= 6
    for path, command in commands:
        assert command.help and "Example: review" in command.help, " ".join(path)


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from review.cli import main; rc = main(['--help']); "
            "heavy = [m for m in ('torch', 'transformers', 'gradio', 'pandas', 'sklearn') if m in sys.modules]; "
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "Commands:" in result.stdout


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "review.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "init" in result.stdout
