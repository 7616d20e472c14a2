"""Model judges' verdicts in the MT-Bench schema, added to an existing study
(``review import-judgments FILE --study NAME --rater-kind llm``).

Each line is matched to an item of the study by ``question_id`` and ``turn`` (the prompt's id,
as :func:`~review.interchange.mtbench.prompt_external_id` names it) and its two models; the
model in ``model_a`` was shown first, as Assistant A, which gives the order (``ab`` when it is
the item's first answer). A judge may have one line per item and order. The ``judge`` names an
llm rater, created on first use; a person's name is refused (a rater's kind never changes).
All or nothing: a line that matches no item, or a verdict already stored, stops the import
with its line number and nothing is stored.

Example::

    rows = parse_mtbench_file(Path("gpt4_pair.jsonl"), both_orders=True)
    import_judge_verdicts(session=session, study_name="sft-vs-base", rows=rows, source=path)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.lookup import get_study
from review.core.models import Comparison, JudgeVerdict, Prompt, Reviewer
from review.core.queries import PairedItems, regular_item
from review.core.raters import existing_raters
from review.core.textfiles import line_error
from review.core.vocabulary import JUDGE_ORDERS, judge_left_right, judge_order
from review.interchange.mtbench import MTBenchRow, prompt_external_id

# A row's choice (``left`` = model_a, shown first) as the item's answer, per order.
_ANSWERS = {order: dict(zip(("left", "right"), judge_left_right(order, "a", "b"))) for order in JUDGE_ORDERS}


@dataclass(frozen=True)
class JudgeImportSummary:
    study: str
    verdicts: int
    items: int
    judges: list[str]


def import_judge_verdicts(*, session: Session, study_name: str, rows: list[MTBenchRow],
                          source: Path) -> JudgeImportSummary:
    """Add the verdicts of model judges to ``study_name``; the caller owns the transaction."""
    study = get_study(session=session, name=study_name)
    pairs = PairedItems()
    items = {}
    for comparison_id, external_id, first, second in session.execute(
            pairs.select_items(Comparison.id, Prompt.external_id, pairs.model_a.name, pairs.model_b.name)
            .where(Comparison.study_id == study.id, regular_item())):
        items[(external_id, *sorted((first, second)))] = (comparison_id, first)
    raters = existing_raters(session=session, names={row.judge for row in rows}, kind="llm",
                             remedy="give the judge another name")
    for name in {row.judge for row in rows} - set(raters):
        raters[name] = Reviewer(name=name, kind="llm", role="reviewer", password_hash=None,
                                active=False, judge_params={"source": "import-judgments"})
        session.add(raters[name])
    session.flush()
    existing = set(session.execute(
        select(JudgeVerdict.comparison_id, JudgeVerdict.reviewer_id, JudgeVerdict.judge_order)
        .where(JudgeVerdict.reviewer_id.in_([r.id for r in raters.values()]))).all())
    touched = set()
    for row in rows:
        key = (prompt_external_id(row.question_id, row.turn), *sorted((row.model_a, row.model_b)))
        if key not in items:
            raise line_error(source, row.line, f"question {row.question_id} turn {row.turn} with "
                             f"{row.model_a} and {row.model_b} matches no item of study {study.name!r}")
        comparison_id, first = items[key]
        order = judge_order(first_on_left=row.model_a == first)
        rater = raters[row.judge]
        if (comparison_id, rater.id, order) in existing:
            raise line_error(source, row.line, f"judge {row.judge!r} already has a verdict on this "
                             "item in this order")
        existing.add((comparison_id, rater.id, order))
        touched.add(comparison_id)
        session.add(JudgeVerdict(
            comparison_id=comparison_id, reviewer_id=rater.id, judge_order=order,
            choice=_ANSWERS[order].get(row.choice, row.choice), confidence=None, raw_output=None,
            meta={**row.meta, "source_line": row.line}))
    session.flush()
    return JudgeImportSummary(study=study.name, verdicts=len(rows), items=len(touched),
                              judges=sorted({row.judge for row in rows}))
