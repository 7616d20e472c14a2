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
    # or vote and get the next item in one call:
    answer = client.predict(item["assignment_id"], "left", 2, None, api_name="/vote_next")
    item = answer["next"]
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors


def _item(screen: Any) -> dict:
    progress = {"done": screen.progress.done, "remaining": screen.progress.remaining}
    item = screen.item
    if item is None:
        return {"assignment_id": None, "messages": [], "left": None, "right": None,
                "progress": progress}
    return {"assignment_id": item.assignment_id, "status": item.status, "messages": item.messages,
            "left": item.left, "right": item.right, "reference": item.reference, "progress": progress}


def _vote_dict(judgment: Any, assignment_id: str) -> dict:
    return {"assignment_id": assignment_id, "choice": judgment.choice,
            "strength": judgment.strength, "rationale": judgment.rationale, "recorded": True}


def build_api(ctx: AppContext) -> None:
    """Register the endpoints on the Blocks being built (call inside its ``with``)."""
    @user_errors
    def studies(request: gr.Request) -> list:
        """Labels of the studies you are on."""
        from review.campaign.membership import reviewer_studies

        with ctx.account(request) as (session, reviewer):
            return [c.label for c in reviewer_studies(session=session, reviewer=reviewer)]

    @user_errors
    def next_item(study: str | None = None, request: gr.Request = None) -> dict:
        """Your current item in the study (leasing the next one); assignment_id is null when done."""
        from review.campaign.screen import next_screen

        with ctx.account(request, write=True) as (session, reviewer):
            return _item(next_screen(session=session, reviewer=reviewer, study_label=study,
                                     lease_minutes=ctx.settings.lease_minutes))

    @user_errors
    def item(assignment_id: str, request: gr.Request = None) -> dict:
        """One of your assignments again (prompt and answers)."""
        from review.campaign.leases import own_assignment
        from review.campaign.screen import screen_for

        with ctx.account(request) as (session, reviewer):
            assignment = own_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id)
            return _item(screen_for(session=session, reviewer=reviewer,
                                    study=assignment.comparison.study, assignment_id=assignment.id))

    @user_errors
    def vote(assignment_id: str, choice: str, strength: int | None = None,
             rationale: str | None = None, seconds: float | None = None,
             request: gr.Request = None) -> dict:
        """Vote on your assignment: left (A), right (B), tie or both_bad; strength 1-3 for A or B."""
        from review.campaign.judgments import record_vote

        with ctx.account(request, write=True) as (session, reviewer):
            judgment = record_vote(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                   choice=choice, strength=strength, rationale=rationale,
                                   seconds=seconds)
            return _vote_dict(judgment, assignment_id)

    @user_errors
    def vote_next(assignment_id: str, choice: str, strength: int | None = None,
                  rationale: str | None = None, seconds: float | None = None,
                  request: gr.Request = None) -> dict:
        """Vote on your assignment (as ``vote``), and get your next item in the same study in
        the same answer, under ``next`` (as ``next_item``): one request per item."""
        from review.campaign.judgments import record_vote
        from review.campaign.screen import next_screen

        with ctx.account(request, write=True) as (session, reviewer):
            judgment = record_vote(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                   choice=choice, strength=strength, rationale=rationale,
                                   seconds=seconds)
            answer = _vote_dict(judgment, assignment_id)
            study = judgment.comparison.study  # loaded with the vote: no query
            answer["next"] = _item(next_screen(session=session, reviewer=reviewer, study_label=None,
                                               study=study, lease_minutes=ctx.settings.lease_minutes))
            return answer

    @user_errors
    def change_vote(assignment_id: str, choice: str, strength: int | None = None,
                    rationale: str | None = None, request: gr.Request = None) -> dict:
        """Change your vote on an assignment within two minutes of casting it."""
        from review.campaign.judgments import change_vote as change

        with ctx.account(request, write=True) as (session, reviewer):
            judgment = change(session=session, reviewer=reviewer, assignment_id=assignment_id,
                              choice=choice, strength=strength, rationale=rationale)
            return _vote_dict(judgment, assignment_id)

    @user_errors
    def skip(assignment_id: str, request: gr.Request = None) -> dict:
        """Give an assignment back without voting; you will not get that item again."""
        from review.campaign.leases import skip_assignment

        with ctx.account(request, write=True) as (session, reviewer):
            skip_assignment(session=session, reviewer=reviewer, assignment_id=assignment_id)
            return {"assignment_id": assignment_id, "skipped": True}

    @user_errors
    def study_progress(request: gr.Request) -> list:
        """Items, judgments and judgments still needed per study (analysts and admins)."""
        from dataclasses import asdict

        from review.campaign.progress import study_progress as progress

        with ctx.account(request, action="view_results") as (session, _):
            return [asdict(row) for row in progress(session=session)]

    for fn in (studies, next_item, item, vote, vote_next, change_vote, skip, study_progress):
        # No queue: one plain POST /gradio_api/run/<name> answers with JSON.
        gr.api(fn, api_name=fn.__name__, queue=False)
