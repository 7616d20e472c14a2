"""`review demo`, the main job, end to end on the real demo model (short answers to keep it quick)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Comparison, Generation, Reviewer, Study, StudyReviewer
from review.core.queries import regular_item
from review.auth.passwords import verify_password


@pytest.mark.slow
def test_demo_prepares_a_study_and_a_second_start_is_instant(cli, engine, tmp_path):
    data_dir = tmp_path / "data"
    args = ("demo", "--no-serve", "--data-dir", data_dir, "--max-new-tokens", "4", "--json")
    code, out, err = cli(*args)
    assert code == 0, err
    first = json.loads(out)
    assert first["study"] == "demo" and first["items"] == 42 and first["answers_generated"] == 84
    assert [(a["name"], a["role"]) for a in first["logins"]] == [
        ("alice", "reviewer"), ("bob", "reviewer"), ("carol", "reviewer"), ("dana", "analyst")]
    assert first["url"] == "http://127.0.0.1:7860/"
    assert (data_dir / "models" / "SmolLM2-135M-Instruct" / "config.json").is_file()

    code, out, err = cli(*args)
    assert code == 0, err
    assert json.loads(out)["answers_generated"] == 0  # cached: nothing is generated again

    with session_scope(engine) as session:
        study = session.scalar(select(Study).where(Study.name == "demo"))
        assert study.overlap == 3 and "How to judge" in study.guidelines
        assert study.candidate.kind == "adapter" and study.baseline.kind == "base"
        assert set(study.thresholds["guardrail_categories"]) == {"general_knowledge", "reasoning_math", "writing"}
        # 42 items, plus 4 gold items of planted correct and wrong answers, served at 10%.
        gold = session.scalars(select(Comparison).where(Comparison.gold_label.is_not(None))).all()
        assert session.scalar(select(func.count()).select_from(Comparison)) == 42 + 4
        assert [g.gold_label for g in gold] == ["a"] * 4 and study.gold_rate == 0.1
        assert {g.generation_a.model.name for g in gold} == {"gold-correct"}
        assert "102" in next(g.generation_a.output for g in gold if g.prompt.external_id == "math-01")
        assert session.scalar(select(func.count()).select_from(Generation)) == 84 + 8
        on_study = session.scalars(select(Reviewer.name).join(StudyReviewer)
                                   .where(StudyReviewer.study_id == study.id)).all()
        assert sorted(on_study) == ["alice", "bob", "carol"]
        alice = session.scalar(select(Reviewer).where(Reviewer.name == "alice"))
        assert verify_password("alice-demo", alice.password_hash)
        # The fine-tune really answers differently from its base.
        items = session.scalars(select(Comparison).where(regular_item())).all()
        assert sum(i.generation_a.output != i.generation_b.output for i in items) >= 30


def test_public_demo_passwords_are_flagged_off_loopback(cli, engine, database_url, capsys):
    from review.cli.base import Context
    from review.cli.web import _warn_public_demo_passwords
    from review.demo.setup import demo_passwords_in_use, is_loopback

    assert cli("init")[0] == 0
    assert cli("reviewers", "add", "alice", "--password", "alice-demo")[0] == 0
    assert cli("reviewers", "add", "bob", "--password", "a-better-one")[0] == 0
    with session_scope(engine) as session:
        assert demo_passwords_in_use(session=session) == ["alice"]
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.7")
    capsys.readouterr()
    _warn_public_demo_passwords(Context(database_url), "127.0.0.1")
    assert capsys.readouterr().err == ""
    _warn_public_demo_passwords(Context(database_url), "0.0.0.0")
    err = capsys.readouterr().err
    assert "WARNING: serving on 0.0.0.0" in err and "alice" in err and "bob" not in err
