"""The report's sections, one template each, for the HTML report and any page that shows them.

``templates/section_<name>.html.j2`` is one jinja2 template per section of the report (the
study's facts, the verdict, the summary cards, the per-category table, the agreement,
position, length, identifiability and judge facts). The report includes them
(:func:`review.reporting.report.render_report_html`); the analyst dashboard renders each one
alone with :func:`render_section`, so that a section's markup is written once. A page gives
the sections its own class names with a :class:`SectionStyle`. One more section, the reviewer
warnings, is the dashboard's alone: the report flags reviewers in its reviewers table.

Every user-provided string is escaped by jinja2's autoescape.

Example::

    data = build_report_data(session=session, study=study)
    html_text = render_section("summary_cards", data)             # the report's class names
    html_text = render_section("verdict", data, style=my_style)   # another page's
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from review.reporting.formatters import (
    CHECK_MARKS,
    boilerplate_lines,
    category_rows,
    check_line,
    guardrail_text,
    identifiability_facts,
    interval_name,
    judge_facts,
    num,
    odds_per_100_chars,
    p_value,
    pct,
    verdict_word,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTIONS = ("study_facts", "verdict", "summary_cards", "category_table", "agreement_facts",
            "position_facts", "length_facts", "identifiability_facts", "judge_facts",
            "reviewer_warnings")


@dataclass(frozen=True)
class SectionStyle:
    """The class names (and the two ids) the sections' markup carries, by role; the defaults
    are the report's. ``verdict_variant`` and ``check`` are prefixes of the verdict's and the
    check's status (``verdict ship``, ``check-pass``); ``verdict_upper`` writes the verdict's
    word in capitals; ``notice_id`` (None: none) is the id of the boilerplate notice."""

    sub: str = "sub"
    notice: str = "notice"
    notice_id: str | None = "boilerplate-stripped"
    verdict: str = "verdict"
    verdict_variant: str = ""
    verdict_id: str = "verdict"
    verdict_word: str = "word"
    verdict_upper: bool = True
    more: str = "more"
    method: str = "method"
    checks: str = "checks"
    check: str = "check-"
    check_mark: str = "status"
    cards: str = "cards"
    card: str = "card"
    card_label: str = "label"
    card_value: str = "value"
    card_detail: str = "detail"
    categories: str = "categories"
    guardrail: str = "pill"
    guard: str = "guard-"
    facts: str = "facts"
    muted: str = "muted"
    empty: str = "empty"
    warning: str = "warning"


REPORT_STYLE = SectionStyle()


@lru_cache(maxsize=1)
def environment():  # noqa: ANN201 - jinja2.Environment
    """The jinja2 environment of the report and its sections, with the formatters as filters."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, num=num, p_value=p_value, odds_per_100_chars=odds_per_100_chars,
                       check_line=check_line, interval_name=interval_name, judge_facts=judge_facts,
                       identifiability_facts=identifiability_facts, boilerplate_lines=boilerplate_lines,
                       category_rows=category_rows, guardrail_text=guardrail_text,
                       verdict_word=verdict_word)
    env.globals.update(check_marks=CHECK_MARKS)
    return env


def section_context(data: dict[str, Any], style: SectionStyle = REPORT_STYLE) -> dict[str, Any]:
    """What every section reads: the report data, its study and analysis, the intervals'
    confidence in percent and the page's class names."""
    analysis = data["analysis"]
    confidence = (analysis.get("thresholds") or {}).get("confidence") or 0.95
    return {"data": data, "study": data["study"], "analysis": analysis,
            "confidence": int(round(100 * confidence)), "style": style}


def render_section(name: str, data: dict[str, Any], style: SectionStyle = REPORT_STYLE) -> str:
    """One section of the report for the data of :func:`~review.reporting.report.build_report_data`,
    as HTML ("" when the section has nothing to show).

    Raises:
        ValueError: ``name`` is not one of :data:`SECTIONS`.
    """
    if name not in SECTIONS:
        raise ValueError(f"no report section named {name!r} (sections: {', '.join(SECTIONS)})")
    template = environment().get_template(f"section_{name}.html.j2")
    return template.render(**section_context(data, style)).strip()
