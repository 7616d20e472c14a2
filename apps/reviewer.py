"""The blind side-by-side view: prompt, answers "A" and "B", choose a verdict, then submit it.

Choose, then submit (as in Argilla and Label Studio): the four choice buttons (keys 1-4,
a / b / t / x) only *select* a verdict, highlighted and changeable; the strength ("how much
better", for A or B only) and the reason can be given before or after; "Submit vote"
(Enter) records it in one server round trip. Selecting happens in the browser (a hidden
``choice`` field the buttons set), so it costs no round trip; while a vote is in flight
every button is disabled, so a double press records one vote.

A choice, strength and reason not yet submitted are kept in the tab's ``sessionStorage``
under the item's opaque assignment id (nothing else: no model name is ever on the page),
so a reload of the page shows them again; the draft is dropped once its vote is recorded.

What is on screen is one small dict the page holds and sends back with each event (a
hidden field, ``screen-state``): the opaque assignment id on screen and the screen's mode
(``vote`` or ``change``, as the server's screen said). Nothing else: when the item was shown
and whose it is are the database's (the assignment's lease and reviewer). No server process
keeps anything of a page, so any replica behind a round-robin balancer can answer any
event. The state grants nothing: every callback looks the signed-in user up again
(``gr.Request.username``), the services check that the assignment is theirs (another
account's id is treated as no item), and the server's own clock times the vote and decides
whether the item was on screen long enough. Each action is one service of
:mod:`review.campaign.screen` (``submit_vote``, ``skip_item``, ...), the same the API calls.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors
from apps.render import render_answer, render_conversation, render_guidelines, render_reference
from review.campaign.judgments import MAX_RATIONALE_LENGTH
from review.campaign.screen import SCREEN_MODES
from review.stats.choices import GRADED_CHOICES, STRENGTHS, takes_strength

VOTES = (  # (choice, button label, elem_id, keys)
    ("left", "A is better", "vote-left", "1 / a"),
    ("right", "B is better", "vote-right", "2 / b"),
    ("tie", "Tie", "vote-tie", "3 / t"),
    ("both_bad", "Both are bad", "vote-both-bad", "4 / x"),
)
CHOICE_WORDS = {choice: label for choice, label, _, _ in VOTES}

EMPTY_ANSWER = '<div class="answer-body answer-empty"></div>'

# --- The form in the browser: Gradio runs these ``js=`` functions without a server call.
# The drafts live in sessionStorage ({assignment id: {choice, strength, rationale}}); the
# page itself (window, so a reload starts afresh) remembers the item whose draft its form
# holds and the item whose vote is in flight.
DRAFT_KEYS = {"@DRAFTS@": "review-drafts", "@OPEN@": "reviewDraftOpen", "@SENT@": "reviewDraftSent"}
_STORE = """
  const load = () => { try { return JSON.parse(sessionStorage.getItem('@DRAFTS@') || '{}'); }
                       catch (e) { return {}; } };
  const store = (drafts) => { try { sessionStorage.setItem('@DRAFTS@', JSON.stringify(drafts)); }
                              catch (e) {} };
"""


def _js(source: str, **values: object) -> str:
    """A ``js=`` function with the storage helpers, the draft keys and ``values`` (as JSON,
    in place of ``@NAME@``) filled in."""
    source = source.replace("@STORE@", _STORE)
    for placeholder, value in [*DRAFT_KEYS.items(), *((f"@{k}@", json.dumps(v)) for k, v in values.items())]:
        source = source.replace(placeholder, value)
    return source


# Saved only into the draft the form was opened with (see RESTORE), so that the empty form
# of the next item never overwrites a draft.
SAVE_DRAFT_JS = _js("""(key, choice, strength, rationale) => { @STORE@
  if (!key || key !== window['@OPEN@']) return;
  const drafts = load();
  if (choice || strength || (rationale || '').trim()) drafts[key] = {choice, strength, rationale};
  else delete drafts[key];
  store(drafts);
}""")
RESTORE_DRAFT_JS = _js("""(key) => { @STORE@
  window['@OPEN@'] = key || '';
  const draft = key ? load()[key] : null;
  if (!draft) return [undefined, undefined, undefined];
  return [draft.choice || undefined, draft.strength || undefined, draft.rationale || undefined];
}""")
# The choice shown: its button highlighted, Submit on once there is one, the strength
# only for A or B.
SHOW_CHOICE_JS = _js("""(choice) => {
  const pick = (value) => ({__type__: 'update', variant: choice === value ? 'primary' : 'secondary',
                            elem_classes: choice === value ? ['vote-choice', 'chosen'] : ['vote-choice']});
  return [...@CHOICES@.map(pick), {__type__: 'update', interactive: Boolean(choice)},
          {__type__: 'update', visible: !choice || @GRADED@.includes(choice)}];
}""", CHOICES=[choice for choice, *_ in VOTES], GRADED=list(GRADED_CHOICES))
# Filled in by _js with the number of buttons (LOCKED: the CHOICES first, then Submit, then
# the others).
LOCK_JS = """(key) => {
  window['@SENT@'] = key || '';
  return Array(@LOCKED@).fill({__type__: 'update', interactive: false});
}"""
UNLOCK_JS = """(key, choice) => { @STORE@
  const sent = window['@SENT@'];
  window['@SENT@'] = '';
  // Another item on screen: the vote was recorded, its draft is done with.
  if (sent && sent !== key) { const drafts = load(); delete drafts[sent]; store(drafts); }
  const top = document.getElementById('notice');
  if (top) top.scrollIntoView({block: 'start'});
  const on = {__type__: 'update', interactive: true};
  return [...Array(@CHOICES@).fill(on), {__type__: 'update', interactive: Boolean(choice)},
          ...Array(@LOCKED@ - @CHOICES@ - 1).fill(on)];
}"""


def vote_words(choice: str, strength: int | None) -> str:
    """A vote as the reviewer chose it: "A is better (clearly)", "Tie"."""
    words = CHOICE_WORDS[choice]
    return f"{words} ({STRENGTHS[strength]})" if strength in STRENGTHS else words


def no_study_screen() -> tuple:
    """The screen of an account that is on no study (values for the screen outputs)."""
    return ("", "You are not on any study yet.", "", render_guidelines(None),
            gr.Column(visible=False), "", "", EMPTY_ANSWER, EMPTY_ANSWER, "", None, None, "",
            gr.Button(visible=False))


def build_review_tab(ctx: AppContext) -> dict[str, Any]:
    """Create the review tab's components and wire their events; returns the pieces server.py needs."""
    state = gr.Textbox("", visible="hidden", elem_id="screen-state", label="Screen")
    with gr.Row(elem_id="review-header", equal_height=True):
        # Its choices arrive at login; any value is checked again against the account's
        # studies (a replica that did not serve the login has no list to check against).
        study = gr.Dropdown(label="Study", choices=[], value=None, interactive=True, scale=2,
                            min_width=220, elem_id="study-choice", allow_custom_value=True)
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
            buttons = {choice: gr.Button(label, elem_id=elem_id, min_width=140, variant="secondary",
                                         elem_classes=["vote-choice"])
                       for choice, label, elem_id, _ in VOTES}
        gr.Markdown("Keyboard: " + " · ".join(f"**{keys}** {label}" for _, label, _, keys in VOTES)
                    + " · **Enter** submit", elem_id="key-hint")
        with gr.Row(elem_id="vote-details"):
            strength = gr.Radio([(word, value) for value, word in STRENGTHS.items()], value=None, elem_id="strength", min_width=300,
                                label="How much better? (optional, for A or B)")
            rationale = gr.Textbox(label="Why? (optional)", lines=2, max_lines=6, max_length=MAX_RATIONALE_LENGTH,
                                   elem_id="rationale", min_width=300, scale=2)
        with gr.Row(elem_id="submit-row"):
            submit_button = gr.Button("Submit vote", elem_id="submit-vote", variant="primary", interactive=False,
                               scale=0, min_width=220)
            skip_button = gr.Button("Skip this item", size="sm", elem_id="skip", variant="secondary",
                             scale=0, min_width=160)
    # Never shown: the chosen verdict (set in the browser by the buttons) and the opaque id
    # of the item whose draft the form keeps ("" when none is kept). Outside the item, whose
    # showing would show them too.
    with gr.Column(elem_id="form-state"):
        choice = gr.Radio([(label, value) for value, label, _, _ in VOTES], value=None,
                          visible="hidden", elem_id="choice", label="Your choice")
        draft = gr.Textbox("", visible="hidden", elem_id="draft-key", label="Draft")
    # Outside the item: the last vote can be changed from the "all done" screen too.
    with gr.Row(elem_id="item-actions"):
        change = gr.Button("Change my last vote", size="sm", elem_id="change-last", variant="secondary",
                           scale=0, min_width=200)
        revisit = gr.Button("Review my skipped items", size="sm", elem_id="revisit-skipped",
                            variant="secondary", visible=False, scale=0, min_width=220)

    # The draft key comes before the form it keys (outputs are applied in order).
    screen = [state, notice, progress, guidelines, item_box, prompt, reference, left, right,
              draft, choice, strength, rationale, revisit]

    def screen_of(current: str | None) -> dict | None:
        """The page's state (see the module), if it is well-formed."""
        try:
            state = json.loads(current or "null")
        except ValueError:
            return None
        if not isinstance(state, dict) or not isinstance(state.get("assignment"), str) \
                or state.get("mode") not in SCREEN_MODES:
            return None
        return state

    def show(screen: Any, message: str = "", current: dict | None = None) -> tuple:
        """The page's outputs for a :class:`review.campaign.screen.Screen`.

        When ``current`` is the item still on screen (a vote was refused), the form keeps
        what the reviewer chose and wrote.
        """
        left = f"{screen.progress.remaining:,}" + ("+" if screen.progress.capped else "")
        progress_text = f"**{screen.progress.done:,}** done · **{left}** remaining"
        skipped = screen.progress.skipped
        if skipped:
            progress_text += f" · **{skipped}** skipped"
        revisit_button = gr.Button(f"Review my skipped items ({skipped})", visible=bool(skipped))
        rules = render_guidelines(screen.study.guidelines)
        view = screen.item
        if view is None:
            idle = screen.notice or "Nothing left for you to review right now. Thank you!"
            if skipped and not screen.notice:
                idle += f" You skipped {skipped}: review them when you are ready."
            return ("", " ".join(filter(None, [message, idle])), progress_text, rules,
                    gr.Column(visible=False), "", "", EMPTY_ANSWER, EMPTY_ANSWER, "", None, None, "",
                    revisit_button)
        page = (render_conversation(view.messages), render_reference(view.reference),
                render_answer(view.left, "A"), render_answer(view.right, "B"))
        if current and (current["assignment"], current["mode"]) == (view.assignment_id, screen.mode):
            return (json.dumps(current), message, progress_text, rules, gr.Column(visible=True), *page,
                    gr.skip(), gr.skip(), gr.skip(), gr.skip(), revisit_button)
        new_state = json.dumps({"assignment": view.assignment_id, "mode": screen.mode})
        # Changing a vote starts from it (its strength and reason stay unless changed), and
        # keeps no draft: the stored vote is the starting point.
        if screen.mode == "change":
            form = ("", screen.previous_choice, screen.previous_strength, screen.previous_rationale or "")
        else:
            form = (view.assignment_id, None, None, "")
        return (new_state, message, progress_text, rules, gr.Column(visible=True), *page, *form,
                revisit_button)

    def next_screen(session: Any, reviewer: Any, label: str | None, message: str = "",
                    current: dict | None = None) -> tuple:
        from review.campaign.screen import next_screen as screen

        return show(screen(session=session, reviewer=reviewer, study_label=label,
                           lease_minutes=ctx.settings.lease_minutes), message, current)

    @user_errors
    def open_study(label: str | None, request: gr.Request) -> tuple:
        with ctx.account(request, write=True) as (session, reviewer):
            return next_screen(session, reviewer, label)

    @user_errors
    def submit(current: str | None, label: str | None, chosen: str | None, how_much: int | None,
               why: str | None, request: gr.Request) -> tuple:
        from review.campaign.screen import submit_vote
        from review.core.errors import NotFound, ReviewError

        with ctx.account(request, write=True) as (session, reviewer):
            current = screen_of(current)
            if not current:
                return next_screen(session, reviewer, label, "There is no item on screen to vote on.")
            if chosen is None:
                return next_screen(session, reviewer, label,
                                   "Choose A, B, Tie or Both are bad first, then submit.", current)
            try:
                outcome = submit_vote(session=session, reviewer=reviewer,
                                      assignment_id=current["assignment"], mode=current["mode"],
                                      choice=chosen, strength=how_much, rationale=why,
                                      lease_minutes=ctx.settings.lease_minutes)
            except NotFound:  # not this account's item (another login in this browser)
                return next_screen(session, reviewer, label)
            except ReviewError as exc:
                return next_screen(session, reviewer, label, f"Not recorded: {exc}", current)
            words = vote_words(outcome.judgment.choice, outcome.judgment.strength)
            message = (f"Your previous vote is now: {words}." if outcome.action == "changed"
                       else f"Vote recorded: {words}.")
            return show(outcome.screen, message)

    @user_errors
    def skip(current: str | None, label: str | None, request: gr.Request) -> tuple:
        from review.campaign.screen import skip_item
        from review.core.errors import NotFound

        with ctx.account(request, write=True) as (session, reviewer):
            current = screen_of(current)
            if not current:
                return next_screen(session, reviewer, label)
            try:
                outcome = skip_item(session=session, reviewer=reviewer,
                                    assignment_id=current["assignment"], mode=current["mode"],
                                    lease_minutes=ctx.settings.lease_minutes)
            except NotFound:
                return next_screen(session, reviewer, label)
            return show(outcome.screen, "Your previous vote was kept." if outcome.action == "kept"
                        else "Skipped.")

    @user_errors
    def revisit_skipped(label: str | None, request: gr.Request) -> tuple:
        from review.campaign.screen import revisit_skipped_items

        with ctx.account(request, write=True) as (session, reviewer):
            count, screen = revisit_skipped_items(session=session, reviewer=reviewer, study_label=label,
                                                  lease_minutes=ctx.settings.lease_minutes)
            return show(screen, f"{count} skipped item{'s' if count != 1 else ''} back in your queue.")

    @user_errors
    def change_last(label: str | None, request: gr.Request) -> tuple:
        from review.campaign.judgments import change_window_words
        from review.campaign.screen import change_screen

        with ctx.account(request, write=True) as (session, reviewer):
            screen = change_screen(session=session, reviewer=reviewer, study_label=label)
            if screen is None:
                return next_screen(session, reviewer, label,
                                   f"Only a vote cast in the last {change_window_words()} can be changed.")
            previous = vote_words(screen.previous_choice, screen.previous_strength)
            return show(screen, f"Changing your previous vote (it was: {previous}). "
                                "Choose again and submit, or press Skip to keep it.")

    # The page's own events: not offered to API clients (apps.api has the named endpoints),
    # though every one of them checks the account like the API does.
    events = {"api_visibility": "private", "queue": False}
    study.input(open_study, [study], screen, api_name="ui_open_study", **events)
    wire_form(buttons, submit_button, choice, strength, rationale, draft)
    # Submitting: every button off while the vote is in flight, one round trip, then on
    # again (Submit only with a choice), the draft dropped once recorded, and the next item
    # starts at its top, on a phone too.
    locked = [*buttons.values(), submit_button, skip_button, change, revisit]
    submit_button.click(None, [draft], locked, js=_js(LOCK_JS, LOCKED=len(locked)), **events) \
        .then(submit, [state, study, choice, strength, rationale], screen,
              api_name="ui_submit_vote", **events) \
        .then(None, [draft, choice], locked,
              js=_js(UNLOCK_JS, LOCKED=len(locked), CHOICES=len(buttons)), **events)
    skip_button.click(skip, [state, study], screen, api_name="ui_skip", **events)
    change.click(change_last, [study], screen, api_name="ui_change_last", **events)
    revisit.click(revisit_skipped, [study], screen, api_name="ui_revisit_skipped", **events)
    return {"study": study, "screen": screen, "open_study": open_study}


def wire_form(buttons: dict[str, Any], submit: Any, choice: Any, strength: Any, rationale: Any,
              draft: Any) -> None:
    """The form's events in the browser: choosing, showing the choice, keeping the draft.

    None of them calls the server. The draft is restored when an item comes on screen and
    saved on every change of the form after that.
    """
    events = {"api_visibility": "private", "queue": False}
    form = [draft, choice, strength, rationale]
    for value, button in buttons.items():
        # A tie or "both bad" has no strength: choosing one clears it.
        if takes_strength(value):
            pick, outputs = f"() => {json.dumps(value)}", [choice]
        else:
            pick, outputs = f"() => [{json.dumps(value)}, null]", [choice, strength]
        button.click(None, None, outputs, js=pick, **events)
    choice.change(None, [choice], [*buttons.values(), submit, strength], js=SHOW_CHOICE_JS, **events)
    for field in (choice, strength, rationale):
        field.change(None, form, None, js=SAVE_DRAFT_JS, **events)
    draft.change(None, [draft], [choice, strength, rationale], js=RESTORE_DRAFT_JS, **events)
