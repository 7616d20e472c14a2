"""The admin tab (admins only): accounts, who works on which study, and study settings
(overlap, gold rate, seconds on screen before a vote counts, guidelines, decision thresholds,
model judge, and boilerplate stripped from one model's answers).

The services are in :mod:`review.campaign.administration`; every callback here looks the account
up again from ``gr.Request`` and refuses anyone but an admin, whatever the page shows.
The components start empty and are filled after login, so the page's config holds no
account or study.

Every event is one plain request to the page's event route, named ``admin_*`` in the page's
config; none is offered to API clients.
"""

from __future__ import annotations

import html
import json
from typing import Any

import gradio as gr

from apps.context import AppContext, user_errors
from review.auth.permissions import may
from review.campaign.administration import MAX_MIN_SECONDS
from review.campaign.boilerplate import MAX_BOILERPLATE_CHARS
from review.campaign.pairing import MAX_OVERLAP
from review.reporting.formatters import boilerplate_lines
from review.core.vocabulary import NAME_LENGTH, ROLES

ACCOUNT_COLUMNS = ["Account", "Role", "Active", "Studies"]
THRESHOLDS_HELP = (
    "Decision thresholds (JSON; keys left out take their defaults; rates are fractions, 0.05 is "
    "5%): `method` (`anytime`: valid however often anyone looks; `fixed`: one planned look), "
    "`margin` (ship needs a win rate of at least 50% plus the margin; 0 to 0.5), `min_judgments` "
    "(fewer: inconclusive), `max_both_bad_rate` (above: do not ship; 0 to 1), "
    "`guardrail_categories` (categories that must not be worse than 50% minus `guardrail_margin`, "
    "each with at least `min_category_prompts` prompts), `min_gold_accuracy` and "
    "`min_gold_answered` (reviewers below are left out of the verdict), `two_way` (fixed method: "
    "intervals that also hold for other reviewers), `confidence` (0.5 to 1) and `power` (for the "
    "judgments still needed)."
)

BOILERPLATE_HELP = (
    "When one model opens or closes nearly every answer with the same sentence, reviewers learn "
    "to recognise it and the study is not blind (the report's identifiability check flags it). "
    "Text set here is removed from that model's answers before reviewers see them: only an exact "
    "match at the very start (opening) or end (closing), then the spaces next to it. "
    "*Suggest* fills in the sentence most of one model's answers share; an empty field strips "
    "nothing on that side. The stored answers, exports and the report's items keep the models' "
    "own words."
)

NO_JUDGE = "(none)"
JUDGE_HELP = (
    "Judges appear here once `review judge` (or `import-judgments --rater-kind llm`) has judged "
    "the study. With a judge the verdict is prediction-powered and taken once, when the items "
    "for people have their votes. A human budget draws the items people see, those the judge is "
    "least sure of first; it is set before people start."
)


def _message(text: str) -> str:
    return f'<p class="admin-message">{html.escape(text)}</p>'


def build_admin_tab(ctx: AppContext) -> dict[str, Any]:
    """Create the admin tab's components and events; returns what server.py wires on login."""
    with gr.Row(equal_height=True, elem_id="admin-head"):
        gr.Markdown("### Accounts")
        reload = gr.Button("Refresh", size="sm", scale=0, min_width=100, elem_id="admin-refresh")
    with gr.Row(equal_height=False, elem_id="admin-new-account"):
        name = gr.Textbox(label="Name", max_length=NAME_LENGTH, scale=2, min_width=180, elem_id="admin-name")
        role = gr.Dropdown(list(ROLES), value="reviewer", label="Role", scale=1, min_width=140,
                           elem_id="admin-role")
        password = gr.Textbox(label="Password (empty: generate one)", type="password", max_length=NAME_LENGTH,
                              scale=2, min_width=180, elem_id="admin-password")
        create = gr.Button("Create account", variant="primary", scale=0, min_width=190,
                           elem_id="admin-create")
    account_message = gr.HTML("", js_on_load=None, elem_id="admin-account-message")
    accounts = gr.Dataframe(headers=ACCOUNT_COLUMNS, datatype="str", interactive=False, wrap=True,
                            max_height=320, elem_id="admin-accounts")

    gr.Markdown("### Studies")
    with gr.Row(equal_height=True):
        study = gr.Dropdown(label="Study", choices=[], value=None, allow_custom_value=True,
                            interactive=True, scale=3, min_width=240, elem_id="admin-study")
        status = gr.HTML("", js_on_load=None, elem_id="admin-status", min_width=200)
    with gr.Column(visible=False, elem_id="admin-study-settings") as settings_box:
        gr.Markdown("#### Reviewers on this study")
        members = gr.HTML("", js_on_load=None, elem_id="admin-members")
        with gr.Row(equal_height=False, elem_id="admin-assign-row"):
            add_names = gr.Dropdown(label="Put these accounts on the study", choices=[], value=[],
                                    multiselect=True, allow_custom_value=True, scale=3,
                                    elem_id="admin-add-reviewers")
            assign = gr.Button("Put on study", scale=0, min_width=190, elem_id="admin-assign")
        gr.Markdown("#### Settings")
        with gr.Row(equal_height=True):
            overlap = gr.Number(label="Overlap (reviewers per item)", precision=0, minimum=1,
                                maximum=MAX_OVERLAP, elem_id="admin-overlap")
            gold_rate = gr.Number(label="Gold rate (share of attention checks, 0 to 1)",
                                  minimum=0, maximum=1, step=0.05, elem_id="admin-gold-rate")
            min_seconds = gr.Number(label="Seconds on screen before a vote counts (0 to "
                                          f"{MAX_MIN_SECONDS:g})", minimum=0,
                                    maximum=MAX_MIN_SECONDS, step=0.5, elem_id="admin-min-seconds")
        guidelines = gr.Textbox(label="Guidelines for reviewers (markdown)", lines=6, max_lines=20,
                                elem_id="admin-guidelines")
        thresholds = gr.Code(label="Decision thresholds (JSON)", language="json", lines=9,
                             elem_id="admin-thresholds")
        gr.Markdown(THRESHOLDS_HELP, elem_classes="dash-muted")
        gr.Markdown("#### Model judge", elem_id="admin-judge-head")
        with gr.Row(equal_height=True, elem_id="admin-judge-row"):
            judge = gr.Dropdown(label="The verdict uses this judge (none: people only)", choices=[],
                                value=None, allow_custom_value=True, scale=3, min_width=220,
                                elem_id="admin-judge")
            budget = gr.Number(label="Human budget (judgments; empty: every item)", precision=0,
                               minimum=1, scale=2, min_width=200, elem_id="admin-budget")
            use_judge = gr.Button("Apply", scale=0, min_width=120, elem_id="admin-use-judge")
        gr.Markdown(JUDGE_HELP, elem_classes="dash-muted")
        with gr.Row():
            save = gr.Button("Save settings", variant="primary", elem_id="admin-save")
            pause = gr.Button("Pause study", elem_id="admin-pause")
            resume = gr.Button("Resume study", elem_id="admin-resume")
        study_message = gr.HTML("", js_on_load=None, elem_id="admin-study-message")
        gr.Markdown("#### Boilerplate stripped from answers", elem_id="admin-boilerplate-head")
        boilerplate = gr.HTML("", js_on_load=None, elem_id="admin-boilerplate")
        with gr.Row(equal_height=False, elem_id="admin-strip-row"):
            strip_model = gr.Dropdown(label="Model", choices=[], value=None, allow_custom_value=True,
                                      scale=2, min_width=260, elem_id="admin-strip-model")
            strip_opening = gr.Textbox(label="Opening to strip (exact text)", scale=3, min_width=220,
                                       max_length=MAX_BOILERPLATE_CHARS, elem_id="admin-strip-opening")
            strip_closing = gr.Textbox(label="Closing to strip (exact text)", scale=3, min_width=220,
                                       max_length=MAX_BOILERPLATE_CHARS, elem_id="admin-strip-closing")
        with gr.Row(elem_id="admin-strip-buttons"):
            suggest = gr.Button("Suggest from the answers", elem_id="admin-suggest")
            strip = gr.Button("Strip", variant="primary", elem_id="admin-strip")
            unstrip = gr.Button("Stop stripping", elem_id="admin-unstrip")
        gr.Markdown(BOILERPLATE_HELP, elem_classes="dash-muted")

    # ----------------------------------------------------------------- formatting

    def account_rows(session: Any) -> list[list[Any]]:
        from review.auth.accounts import list_accounts

        return [[a.name, a.role, "yes" if a.active else "no", ", ".join(a.studies)]
                for a in list_accounts(session=session)]

    def choices(session: Any) -> tuple[Any, Any]:
        from review.auth.accounts import list_accounts
        from review.campaign.administration import study_names

        return (gr.Dropdown(choices=study_names(session=session)),
                gr.Dropdown(choices=[a.name for a in list_accounts(session=session)]))

    def status_html(settings: Any) -> str:
        return (f'<p class="admin-status">Status: <span class="dash-status dash-status-'
                f'{html.escape(settings.status)}">{html.escape(settings.status)}</span></p>')

    def members_html(settings: Any) -> str:
        if not settings.reviewers:
            return '<p class="dash-empty">Nobody is on this study yet.</p>'
        return "<p>" + ", ".join(html.escape(n) for n in settings.reviewers) + "</p>"

    def boilerplate_html(settings: Any) -> str:
        lines = boilerplate_lines({"boilerplate_stripped": settings.boilerplate})
        if not lines:
            return ('<p class="dash-empty">Nothing is stripped: reviewers see the answers as the '
                    "models wrote them.</p>")
        return "".join(f'<p class="dash-notice">{html.escape(line[:1].upper() + line[1:])}.</p>'
                       for line in lines)

    def strip_values(settings: Any) -> tuple:
        """The model whose boilerplate is shown (the first stripped, else the candidate)."""
        current = next(iter(settings.boilerplate), None)
        model = current["model"] if current else next(iter(settings.models), None)
        return (boilerplate_html(settings), gr.Dropdown(choices=list(settings.models), value=model),
                (current or {}).get("opening") or "", (current or {}).get("closing") or "")

    def settings_values(settings: Any) -> tuple:
        return (gr.Column(visible=True), status_html(settings), members_html(settings),
                settings.overlap, settings.gold_rate, settings.min_seconds, settings.guidelines,
                json.dumps(settings.thresholds, indent=2),
                gr.Dropdown(choices=[NO_JUDGE, *settings.judges], value=settings.judge or NO_JUDGE),
                settings.human_budget, *strip_values(settings))

    # ----------------------------------------------------------------- callbacks

    @user_errors
    def refresh(request: gr.Request) -> tuple:
        with ctx.account(request, action="administer") as (session, _):
            return (account_rows(session), *choices(session))

    @user_errors
    def create_account(new_name: str, new_role: str, new_password: str, request: gr.Request) -> tuple:
        from review.auth.accounts import create_account as create

        with ctx.account(request, write=True, action="administer") as (session, _):
            made = create(session=session, name=new_name, role=new_role, password=new_password)
            text = f"Created {made.role} account {made.name!r}."
            if made.generated_password:
                text += f" Its password is {made.generated_password} (shown only now)."
            return (_message(text), account_rows(session), *choices(session)[1:], "", "")

    @user_errors
    def open_study(study_name: str | None, request: gr.Request) -> tuple:
        from review.campaign.administration import study_settings

        with ctx.account(request, action="administer") as (session, _):
            settings = study_settings(session=session, study=study_name)
            return (*settings_values(settings), "")

    @user_errors
    def assign_reviewers(study_name: str | None, names: list[str] | None, request: gr.Request) -> tuple:
        from review.campaign.administration import study_settings
        from review.campaign.membership import assign_reviewers as assign

        with ctx.account(request, write=True, action="administer") as (session, _):
            target = study_name
            added = assign(session=session, study=target, reviewers=list(names or []))
            settings = study_settings(session=session, study=target)
            text = (f"Added {', '.join(added)} to {target!r}." if added
                    else "They were already on the study.")
            return (_message(text), members_html(settings), [], account_rows(session))

    @user_errors
    def save_settings(study_name: str | None, new_overlap: Any, new_gold_rate: Any,
                      new_min_seconds: Any, new_guidelines: str | None, new_thresholds: str | None,
                      request: gr.Request) -> tuple:
        from review.campaign.administration import update_study_settings

        with ctx.account(request, write=True, action="administer") as (session, _):
            settings = update_study_settings(
                session=session, study=study_name, overlap=new_overlap,
                gold_rate=new_gold_rate, guidelines=new_guidelines,
                thresholds=new_thresholds, min_seconds=new_min_seconds)
            return (*settings_values(settings), _message(f"Saved the settings of {settings.study!r}."))

    @user_errors
    def apply_judge(study_name: str | None, judge_name: str | None, human_budget: Any,
                    request: gr.Request) -> tuple:
        from review.campaign.administration import study_settings
        from review.campaign.selection import use_judge as apply

        with ctx.account(request, write=True, action="administer") as (session, _):
            name = None if judge_name in (None, "", NO_JUDGE) else judge_name
            budget = None if human_budget in (None, "") else int(human_budget)
            selection = apply(session=session, study_name=study_name, judge_name=name,
                              human_budget=budget)
            settings = study_settings(session=session, study=study_name)
            text = ("The verdict uses people only." if selection.judge is None else
                    f"The verdict uses {selection.judge}; {selection.drawn} of {selection.items} "
                    "items are for people.")
            return (*settings_values(settings), _message(text))

    @user_errors
    def suggest_boilerplate(study_name: str | None, model: str | None, request: gr.Request) -> tuple:
        from review.campaign.boilerplate import suggested_boilerplate

        with ctx.account(request, action="administer") as (session, _):
            found = suggested_boilerplate(session=session, study=study_name)
        if not found:
            return (gr.skip(), gr.skip(), gr.skip(), _message(
                "No sentence opens or closes most of one model's answers: nothing to suggest."))
        chosen = model if any(s["model"] == model for s in found) else found[0]["model"]
        mine = {s["side"]: s for s in found if s["model"] == chosen}
        text = "; ".join(f"{s['count']} of {s['n']} answers of {s['model']} "
                         f"{'start' if s['side'] == 'opening' else 'end'} with {s['text']!r}" for s in found)
        return (chosen, mine["opening"]["text"] if "opening" in mine else "",
                mine["closing"]["text"] if "closing" in mine else "",
                _message(f"Suggested: {text}. Press Strip to strip it."))

    @user_errors
    def apply_strip(study_name: str | None, model: str | None, opening: str | None,
                    closing: str | None, request: gr.Request) -> tuple:
        from review.campaign.administration import study_settings
        from review.campaign.boilerplate import set_boilerplate

        with ctx.account(request, write=True, action="administer") as (session, _):
            result = set_boilerplate(session=session, study=study_name, model=model or "",
                                     opening=opening or "", closing=closing or "")
            settings = study_settings(session=session, study=study_name)
        text = (f"Reviewers see {result.changed} of the {result.answers} answers of {result.model} "
                "without it." if result.opening or result.closing
                else f"Reviewers see the answers of {result.model} as written.")
        return boilerplate_html(settings), _message(text)

    @user_errors
    def clear_strip(study_name: str | None, model: str | None, request: gr.Request) -> tuple:
        from review.campaign.administration import study_settings
        from review.campaign.boilerplate import clear_boilerplate

        with ctx.account(request, write=True, action="administer") as (session, _):
            result = clear_boilerplate(session=session, study=study_name, model=model or "")
            settings = study_settings(session=session, study=study_name)
        return (boilerplate_html(settings), "", "",
                _message(f"Reviewers see the answers of {result.model} as written."))

    def set_status(status: str):
        @user_errors
        def change(study_name: str | None, request: gr.Request) -> tuple:
            from review.campaign.administration import set_study_status

            with ctx.account(request, write=True, action="administer") as (session, _):
                settings = set_study_status(session=session, study=study_name,
                                            status=status)
                word = "paused: it hands out no new items" if status == "paused" else "active again"
                return status_html(settings), _message(f"{settings.study!r} is {word}.")

        return change

    events = {"api_visibility": "private", "queue": False}
    refresh_outputs = [accounts, study, add_names]
    settings_outputs = [settings_box, status, members, overlap, gold_rate, min_seconds, guidelines,
                        thresholds, judge, budget, boilerplate, strip_model, strip_opening,
                        strip_closing, study_message]
    create.click(create_account, [name, role, password],
                 [account_message, accounts, add_names, name, password],
                 api_name="admin_create_account", **events)
    study.input(open_study, [study], settings_outputs, api_name="admin_study", **events)
    assign.click(assign_reviewers, [study, add_names], [study_message, members, add_names, accounts],
                 api_name="admin_assign", **events)
    save.click(save_settings, [study, overlap, gold_rate, min_seconds, guidelines, thresholds],
               settings_outputs, api_name="admin_save_settings", **events)
    suggest.click(suggest_boilerplate, [study, strip_model],
                  [strip_model, strip_opening, strip_closing, study_message],
                  api_name="admin_suggest_boilerplate", **events)
    strip.click(apply_strip, [study, strip_model, strip_opening, strip_closing],
                [boilerplate, study_message], api_name="admin_strip", **events)
    unstrip.click(clear_strip, [study, strip_model],
                  [boilerplate, strip_opening, strip_closing, study_message],
                  api_name="admin_unstrip", **events)
    use_judge.click(apply_judge, [study, judge, budget], settings_outputs, api_name="admin_use_judge",
                    **events)
    pause.click(set_status("paused"), [study], [status, study_message], api_name="admin_pause", **events)
    resume.click(set_status("active"), [study], [status, study_message], api_name="admin_resume",
                 **events)
    reload.click(refresh, None, refresh_outputs, api_name="admin_refresh", **events)

    def on_login(role_name: str, request: gr.Request) -> list[Any]:
        """Values for :data:`login_outputs` when the page loads: filled only for admins."""
        if not may(role_name, "administer"):
            return [gr.skip() for _ in login_outputs]
        return list(refresh(request))  # checks the role again

    login_outputs = refresh_outputs
    return {"login_outputs": login_outputs, "on_login": on_login}
