"""The blind side-by-side view: prompt, answers "A" and "B", four vote buttons.

Per-session state is one small dict kept server-side in ``gr.State``: the opaque
assignment id on screen, whether a vote will record or change, when it was shown, and
the account it was shown to (a state presented under another login is ignored).
Every callback looks the logged-in user up again (``gr.Request.username``) and the
services check that the assignment is theirs.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors
from apps.render import render_answer, render_conversation, render_guidelines, render_reference
from review.campaign.judgments import MAX_RATIONALE_LENGTH, STRENGTHS

VOTES = (  # (choice, button label, elem_id, keys)
    ("left", "A is better", "vote-left", "1 / a"),
    ("right", "B is better", "vote-right", "2 / b"),
    ("tie", "Tie", "vote-tie", "3 / t"),
    ("both_bad", "Both are bad", "vote-both-bad", "4 / x"),
)
CHOICE_WORDS = {"left": "A is better", "right": "B is better", "tie": "Tie", "both_bad": "Both are bad"}

EMPTY_ANSWER = '<div class="answer-body answer-empty"></div>'


def no_study_screen() -> tuple:
    """The screen of an account that is on no study (values for the screen outputs)."""
    return (None, "You are not on any study yet.", "", render_guidelines(None),
            gr.Column(visible=False), "", "", EMPTY_ANSWER, EMPTY_ANSWER, None, "",
            gr.Button(visible=False))


def build_review_tab(ctx: AppContext) -> dict[str, Any]:
    """Create the review tab's components and wire their events; returns the pieces server.py needs."""
    state = gr.State(None)
    with gr.Row(elem_id="review-header", equal_height=True):
        study = gr.Dropdown(label="Study", choices=[], value=None, interactive=True, scale=2,
                            min_width=220, elem_id="study-choice", allow_custom_value=False)
        progress = gr.Markdown(elem_id="progress", min_height=0)
    with gr.Accordion("Guidelines", open=False, elem_id="guidelines"):
        guidelines = gr.HTML(render_guidelines(None), js_on_load=None)
    notice = gr.Markdown(elem_id="notice")
    with gr.Column(visible=False, elem_id="item") as item_box:
        prompt = gr.HTML("", elem_id="prompt", js_on_load=None)
        reference = gr.HTML("", elem_id="reference", js_on_load=None)
        with gr.Row(elem_id="answers", equal_height=False):
            left = gr.HTML(EMPTY_ANSWER, elem_id="answer-a", js_on_load=None, min_width=340)
            right = gr.HTML(EMPTY_ANSWER, elem_id="answer-b", js_on_load=None, min_width=340)
        with gr.Row(elem_id="vote-buttons"):
            buttons = {choice: gr.Button(label, elem_id=elem_id, min_width=140,
                                         variant="primary" if choice in ("left", "right") else "secondary")
                       for choice, label, elem_id, _ in VOTES}
        gr.Markdown("Keyboard: " + " · ".join(f"**{keys}** {label}" for _, label, _, keys in VOTES),
                    elem_id="key-hint")
        with gr.Row(elem_id="vote-details"):
            strength = gr.Radio([(word, value) for value, word in STRENGTHS.items()], value=None, elem_id="strength", min_width=300,
                                label="How much better? (optional, for A or B)")
            rationale = gr.Textbox(label="Why? (optional)", lines=2, max_lines=6, max_length=MAX_RATIONALE_LENGTH,
                                   elem_id="rationale", min_width=300, scale=2)
        with gr.Row(elem_id="skip-row"):
            skip = gr.Button("Skip this item", size="sm", elem_id="skip", variant="secondary",
                             scale=0, min_width=160)
    # Outside the item: the last vote can be changed from the "all done" screen too.
    with gr.Row(elem_id="item-actions"):
        change = gr.Button("Change my last vote", size="sm", elem_id="change-last", variant="secondary",
                           scale=0, min_width=200)
        revisit = gr.Button("Review my skipped items", size="sm", elem_id="revisit-skipped",
                            variant="secondary", visible=False, scale=0, min_width=220)

    screen = [state, notice, progress, guidelines, item_box, prompt, reference, left, right,
              strength, rationale, revisit]

    def screen_of(reviewer: Any, current: dict | None) -> dict | None:
        """The session's state if it belongs to this account (a state is never shared)."""
        return current if current and current.get("user") == reviewer.name else None

    def show(screen: Any, message: str = "") -> tuple:
        """The page's outputs for a :class:`review.campaign.screen.Screen`."""
        progress_text = f"**{screen.progress.done}** done · **{screen.progress.remaining}** remaining"
        skipped = screen.progress.skipped
        if skipped:
            progress_text += f" · **{skipped}** skipped"
        revisit_button = gr.Button(f"Review my skipped items ({skipped})", visible=bool(skipped))
        rules = render_guidelines(screen.study.guidelines)
        view = screen.item
        if view is None:
            idle = ("This study is paused." if screen.paused
                    else "Nothing left for you to review right now. Thank you!")
            if skipped and not screen.paused:
                idle += f" You skipped {skipped}: review them when you are ready."
            return (None, " ".join(filter(None, [message, idle])), progress_text, rules,
                    gr.Column(visible=False), "", "", EMPTY_ANSWER, EMPTY_ANSWER, None, "",
                    revisit_button)
        new_state = {"assignment": view.assignment_id, "mode": screen.mode, "shown_at": time.time(),
                     "user": screen.reviewer}
        # Changing a vote starts from it: its strength and reason stay unless changed.
        keep = screen.mode == "change"
        return (new_state, message, progress_text, rules, gr.Column(visible=True),
                render_conversation(view.messages), render_reference(view.reference),
                render_answer(view.left, "A"), render_answer(view.right, "B"),
                screen.previous_strength if keep else None,
                (screen.previous_rationale or "") if keep else "", revisit_button)

    def next_screen(session: Any, reviewer: Any, label: str | None, message: str = "") -> tuple:
        from review.campaign.screen import next_screen as screen

        return show(screen(session=session, reviewer=reviewer, study_label=label,
                           lease_minutes=ctx.settings.lease_minutes), message)

    @user_errors
    def open_study(label: str | None, request: gr.Request) -> tuple:
        with ctx.account(request, write=True) as (session, reviewer):
            return next_screen(session, reviewer, label)

    def make_vote(choice: str):
        @user_errors
        def vote(current: dict | None, label: str | None, how_much: int | None, why: str | None,
                 request: gr.Request) -> tuple:
            from review.core.errors import ReviewError
            from review.campaign.judgments import change_vote, record_vote

            with ctx.account(request, write=True) as (session, reviewer):
                current = screen_of(reviewer, current)
                message = "There is no item on screen to vote on." if not current else ""
                how_much = how_much if choice in ("left", "right") else None
                try:
                    if current and current.get("mode") == "change":
                        change_vote(session=session, reviewer=reviewer, choice=choice,
                                    assignment_id=current["assignment"], strength=how_much,
                                    rationale=why)
                        message = f"Your previous vote is now: {CHOICE_WORDS[choice]}."
                    elif current:
                        record_vote(session=session, reviewer=reviewer, choice=choice,
                                    assignment_id=current["assignment"], strength=how_much,
                                    rationale=why, seconds=time.time() - current["shown_at"])
                        message = f"Vote recorded: {CHOICE_WORDS[choice]}."
                except ReviewError as exc:
                    message = f"Not recorded: {exc}"
                return next_screen(session, reviewer, label, message)

        return vote

    @user_errors
    def skip_item(current: dict | None, label: str | None, request: gr.Request) -> tuple:
        from review.campaign.leases import skip_assignment

        with ctx.account(request, write=True) as (session, reviewer):
            current = screen_of(reviewer, current)
            if current and current.get("mode") == "change":
                message = "Your previous vote was kept."
            elif current:
                skip_assignment(session=session, reviewer=reviewer, assignment_id=current["assignment"])
                message = "Skipped."
            else:
                message = ""
            return next_screen(session, reviewer, label, message)

    @user_errors
    def revisit_skipped(label: str | None, request: gr.Request) -> tuple:
        from review.campaign.leases import revisit_skipped as give_back
        from review.campaign.membership import study_for_reviewer

        with ctx.account(request, write=True) as (session, reviewer):
            target = study_for_reviewer(session=session, reviewer=reviewer, label=label)
            count = give_back(session=session, reviewer=reviewer, study=target)
            return next_screen(session, reviewer, label,
                               f"{count} skipped item{'s' if count != 1 else ''} back in your queue.")

    @user_errors
    def change_last(label: str | None, request: gr.Request) -> tuple:
        from review.campaign.judgments import CHANGE_WINDOW_SECONDS
        from review.campaign.screen import change_screen

        with ctx.account(request, write=True) as (session, reviewer):
            screen = change_screen(session=session, reviewer=reviewer, study_label=label)
            if screen is None:
                return next_screen(session, reviewer, label,
                                   f"Only a vote cast in the last {int(CHANGE_WINDOW_SECONDS // 60)} "
                                   "minutes can be changed.")
            return show(screen, f"Changing your previous vote (it was: "
                                f"{CHOICE_WORDS[screen.previous_choice]}). "
                                "Vote again, or press Skip to keep it.")

    # The page's own events: not offered to API clients (apps.api has the named endpoints),
    # though every one of them checks the account like the API does.
    events = {"api_visibility": "private"}
    study.input(open_study, [study], screen, api_name="ui_open_study", **events)
    # After a vote the next item starts at its top, on a phone too (the buttons were at the
    # bottom of the last one).
    to_top = "() => { const top = document.getElementById('notice'); if (top) top.scrollIntoView({block: 'start'}); }"
    for choice, button in buttons.items():
        button.click(make_vote(choice), [state, study, strength, rationale], screen,
                     api_name=f"ui_vote_{choice}", **events).then(None, js=to_top)
    skip.click(skip_item, [state, study], screen, api_name="ui_skip", **events)
    change.click(change_last, [study], screen, api_name="ui_change_last", **events)
    revisit.click(revisit_skipped, [study], screen, api_name="ui_revisit_skipped", **events)
    return {"study": study, "screen": screen, "open_study": open_study}
