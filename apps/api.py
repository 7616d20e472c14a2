"""Named API endpoints for scripts and ``gradio_client`` (the same rules as the browser).

Log in first (``POST /login`` with form fields ``username`` and ``password``, or
``Client(url, auth=(name, password))``). Answers are positional: ``left`` is the answer
labelled "A", ``right`` the one labelled "B"; votes use the same words (``left`` |
``right`` | ``tie`` | ``both_bad``). Assignments are named by opaque ids; nothing in a
response names a model. Every endpoint checks the logged-in account against the
assignment's reviewer.

Example::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/", auth=("ana", "s3cret"))
    item = client.predict(None, api_name="/next_item")
    client.predict(item["assignment_id"], "left", 2, "more precise", api_name="/vote")
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors


def _item(session: Any, reviewer: Any, study: Any, assignment_id: str | None) -> dict:
    from review.assignment import item_view, reviewer_progress

    counts = reviewer_progress(session=session, reviewer=reviewer, study=study)
    progress = {"done": counts.done, "remaining": counts.remaining}
    if assignment_id is None:
        return {"assignment_id": None, "messages": [], "left": None, "right": None,
                "progress": progress}
    view = item_view(session=session, reviewer=reviewer, assignment_id=assignment_id)
    return {"assignment_id": view.assignment_id, "status": view.status, "messages": view.messages,
            "left": view.left, "right": view.right, "progress": progress}


def _vote_dict(judgment: Any, assignment_id: str) -> dict:
    return {"assignment_id": assignment_id, "choice": judgment.choice,
            "strength": judgment.strength, "rationale": judgment.rationale, "recorded": True}


def build_api(ctx: AppContext) -> None:
    """Register the endpoints on the Blocks being built (call inside its ``with``)."""
    @user_errors
    def studies(request: gr.Request) -> list:
        """Labels of the studies you are on."""
        from review.assignment import reviewer_studies

        with ctx.account(request) as (session, reviewer):
            return [c.label for c in reviewer_studies(session=session, reviewer=reviewer)]

    @user_errors
    def next_item(study: str | None = None, request: gr.Request = None) -> dict:
        """Your current item in the study (leasing the next one); assignment_id is null when done."""
        from review.assignment import next_assignment, study_for_reviewer

        with ctx.account(request, write=True) as (session, reviewer):
            target = study_for_reviewer(session=session, reviewer=reviewer, label=study)
            lease = next_assignment(session=session, reviewer=reviewer, study=target,
                                    lease_minutes=ctx.settings.lease_minutes)
            ctx.done_writing(session)
            return _item(session, reviewer, target, lease.id if lease else None)

    @user_errors
    def item(assignment_id: str, request: gr.Request = None) -> dict:
        """One of your assignments again (prompt and answers)."""
        from review.assignment import own_assignment

        with ctx.account(request) as (session, reviewer):
            assignment = own_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id)
            return _item(session, reviewer, assignment.comparison.study, assignment.id)

    @user_errors
    def vote(assignment_id: str, choice: str, strength: int | None = None,
             rationale: str | None = None, seconds: float | None = None,
             request: gr.Request = None) -> dict:
        """Vote on your assignment: left (A), right (B), tie or both_bad; strength 1-3 for A or B."""
        from review.judgments import record_vote

        with ctx.account(request, write=True) as (session, reviewer):
            judgment = record_vote(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                   choice=choice, strength=strength, rationale=rationale,
                                   seconds=seconds)
            return _vote_dict(judgment, assignment_id)

    @user_errors
    def change_vote(assignment_id: str, choice: str, strength: int | None = None,
                    rationale: str | None = None, request: gr.Request = None) -> dict:
        """Change your vote on an assignment within two minutes of casting it."""
        from review.judgments import change_vote as change

        with ctx.account(request, write=True) as (session, reviewer):
            judgment = change(session=session, reviewer=reviewer, assignment_id=assignment_id,
                              choice=choice, strength=strength, rationale=rationale)
            return _vote_dict(judgment, assignment_id)

    @user_errors
    def skip(assignment_id: str, request: gr.Request = None) -> dict:
        """Give an assignment back without voting; you will not get that item again."""
        from review.assignment import skip_assignment

        with ctx.account(request, write=True) as (session, reviewer):
            skip_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id)
            return {"assignment_id": assignment_id, "skipped": True}

    @user_errors
    def study_progress(request: gr.Request) -> list:
        """Items, judgments and judgments still needed per study (analysts and admins)."""
        from dataclasses import asdict

        from apps.dashboard import ANALYST_ROLES
        from review.assignment import study_progress as progress

        with ctx.account(request, roles=ANALYST_ROLES) as (session, _):
            return [asdict(row) for row in progress(session=session)]

    for fn in (studies, next_item, item, vote, change_vote, skip, study_progress):
        # No queue: one plain POST /gradio_api/run/<name> answers with JSON.
        gr.api(fn, api_name=fn.__name__, queue=False)
