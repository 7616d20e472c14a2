"""`review studies assign` and `review serve` from the command line."""

from __future__ import annotations

import json

from sqlalchemy import select

from review.core.db import session_scope
from review.core.models import Reviewer, StudyReviewer
from tests.factories import make_reviewer
from tests.web.studydata import make_blind_study


def test_studies_assign_puts_reviewers_on_a_study(cli, engine):
    with session_scope(engine) as session:
        make_blind_study(session, name="sft-vs-base", n_items=1, reviewers=())
        make_reviewer(session, "ana")
        make_reviewer(session, "bo")
    code, out, err = cli("studies", "assign", "sft-vs-base", "ana", "bo", "--json")
    assert code == 0, err
    assert json.loads(out) == {"study": "sft-vs-base", "added": ["ana", "bo"], "already_assigned": []}
    code, out, _ = cli("studies", "assign", "sft-vs-base", "ana")
    assert code == 0 and "already on it: ana" in out
    with session_scope(engine) as session:
        members = session.scalars(select(Reviewer.name).join(
            StudyReviewer, StudyReviewer.reviewer_id == Reviewer.id).order_by(Reviewer.name)).all()
    assert members == ["ana", "bo"]

    code, _, err = cli("studies", "assign", "sft-vs-base", "zed")
    assert code == 1 and err.startswith("error: no reviewer named 'zed'") and err.count("\n") == 1
    code, _, err = cli("studies", "assign", "nope", "ana")
    assert code == 1 and "no study named 'nope'" in err
    code, _, err = cli("studies", "assign", "sft-vs-base")
    assert code == 1 and "Missing argument" in err


def test_serve_refuses_a_database_without_schema(cli):
    code, out, err = cli("serve", "--port", "7999")
    assert code == 1 and out == "" and "review init" in err and err.count("\n") == 1
