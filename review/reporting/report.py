"""The analyst report of a study: its data, its plots and one self-contained HTML page.

Three layers, so that the web dashboard can show the same views as the HTML file:

* :func:`build_report_data` reads the study from the database and returns a plain,
  JSON-serialisable dict: the analysis of :func:`review.stats.analyze` plus what only a report
  needs (the vote distribution per model pair, Bradley-Terry ratings of a whole training run,
  the length-bias curve and, for the items reviewers disagreed on most, the prompt, both
  answers with the models revealed, and every vote).
* The figure builders (:mod:`review.reporting.figures`) turn that dict into plotly
  figures; each returns None when its view does not apply (e.g. no per-category win rate for
  a study of several model pairs).
* :func:`render_report_html` renders the dict and figures with the jinja2 template
  ``templates/report.html.j2`` into one HTML file that works offline: plotly's JavaScript is
  inlined once, nothing is fetched from the network. The report's sections are templates of
  their own (:mod:`review.reporting.sections`), which the dashboard renders one at a time.

Everything that comes from users (study, model, reviewer and category names, prompts, answers,
rationales) is escaped: by jinja2's autoescape in the page, and as HTML entities inside figure
labels, which plotly would otherwise read as markup.

Training runs: when the study's candidate belongs to a run (``Model.run_name``), the ratings
pool the judgments of every study in which a model of that run takes part, rate every model
they contain (anchored at the study's baseline = 1000) and plot score against training step.

Example::

    data = build_report_data(session=session, study=get_study(session=session, name="sft-v1"))
    Path("report-sft-v1.html").write_text(render_report_html(data), encoding="utf-8")
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from review.core.files import safe_file_name
from review.core.models import Comparison, Generation, Judgment, Model, Reviewer, Study
from review.reporting.dataset import study_judgments
from review.reporting.figures import report_figures
from review.reporting.sections import environment, section_context
from review.stats.defaults import DEFAULT_BOOTSTRAP
from review.stats.outcomes import side_chosen

TEMPLATE = "report.html.j2"

VOTE_LABELS = {"tie": "tie", "both_bad": "both bad"}


# --------------------------------------------------------------------------- data


def report_file_name(study: str) -> str:
    """The file name of a study's HTML report, safe to use on any file system.

    Example:
        >>> report_file_name("../sft v1")
        'report-sft-v1.html'
    """
    return safe_file_name(study, prefix="report-", suffix=".html")


def build_report_data(*, session: Session, study: Study, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                      seed: int = 0) -> dict[str, Any]:
    """Everything the report shows, as a JSON-serialisable dict.

    Args:
        session: a database session (only read).
        study: the study to report on.
        n_bootstrap: bootstrap rounds of every interval.
        seed: bootstrap seed; the same data and seed give the same figures.

    Returns:
        ``{"study", "generated_at", "analysis", "vote_pairs", "training_run", "length_bins",
        "disagreements"}``; ``analysis`` is the ``review analyze --json`` document.

    Example::

        data = build_report_data(session=session, study=study, n_bootstrap=200)
        data["analysis"]["decision"]["verdict"]
    """
    from review.reporting.runner import analyze_study
    from review.stats import encode
    from review.stats.bias import length_bins
    from review.stats.items import vote_pairs

    frame = study_judgments(session=session, study=study)
    candidate = study.candidate.name if study.candidate else None
    baseline = study.baseline.name if study.baseline else None
    analysis = analyze_study(session=session, study=study, n_bootstrap=n_bootstrap, seed=seed,
                             frame=frame)
    confidence = analysis["thresholds"]["confidence"]
    encoded = encode(frame)
    normal = encoded.loc[~encoded["is_gold"].to_numpy()]
    return {
        "study": {
            "name": study.name,
            "candidate": candidate,
            "baseline": baseline,
            "prompt_set": study.prompt_set.name if study.prompt_set else None,
            "overlap": study.overlap,
            "status": study.status,
            "created_at": study.created_at.isoformat() if study.created_at else None,
        },
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "analysis": analysis,
        "vote_pairs": vote_pairs(normal),
        "training_run": training_run_ratings(session=session, study=study, frame=frame,
                                             n_bootstrap=n_bootstrap, seed=seed,
                                             confidence=confidence),
        "length_bins": length_bins(normal, confidence=confidence),
        "disagreements": disagreement_details(session=session, rows=analysis["items_disagreement"]),
    }


def training_run_ratings(*, session: Session, study: Study, frame: pd.DataFrame | None = None,
                         n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                         confidence: float = 0.95) -> dict[str, Any] | None:
    """Bradley-Terry ratings of the candidate's training run, pooled over the run's studies.

    Returns None when the candidate belongs to no run. Otherwise ``{"run", "anchor",
    "studies", "n_judgments", "models": [{model, score, ci_low, ci_high, n, training_step,
    in_run, is_candidate}, ...]}`` with the checkpoints of the run by step, then the other
    models (e.g. the baseline) by score.

    Args:
        frame: this study's judgments when already loaded (saves one query).
    """
    from review.stats import bradley_terry

    candidate = study.candidate
    if candidate is None or not candidate.run_name:
        return None
    run_models = session.scalars(select(Model).where(Model.run_name == candidate.run_name)).all()
    ids = [model.id for model in run_models]
    studies = session.scalars(
        select(Study).where(or_(Study.candidate_model_id.in_(ids), Study.baseline_model_id.in_(ids)))
        .order_by(Study.id)
    ).all()
    frames = [frame if frame is not None and other.id == study.id
              else study_judgments(session=session, study=other) for other in studies]
    pooled = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(
        len(f) for f in frames) else None
    if pooled is None:
        return None
    anchor = study.baseline.name if study.baseline else None
    ratings = bradley_terry(pooled, anchor=anchor, n_bootstrap=n_bootstrap, seed=seed,
                            confidence=confidence)
    names = [rating.model for rating in ratings]
    models = {m.name: m for m in session.scalars(select(Model).where(Model.name.in_(names)))}
    rows = []
    for rating in ratings:
        model = models.get(rating.model)
        in_run = model is not None and model.run_name == candidate.run_name
        rows.append({**rating.to_dict(),
                     "training_step": model.training_step if model is not None else None,
                     "in_run": in_run, "is_candidate": rating.model == candidate.name})
    rows.sort(key=lambda r: (not (r["in_run"] and r["training_step"] is not None),
                             r["training_step"] if r["training_step"] is not None else 0,
                             -r["score"]))
    return {"run": candidate.run_name, "anchor": anchor, "studies": [s.name for s in studies],
            "n_judgments": int(len(pooled)), "models": rows}


def disagreement_details(*, session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``analysis["items_disagreement"]`` with prompt, both answers and votes.

    Unanimous items (disagreement 0) are left out.
    Each row gains ``messages`` (the prompt's chat), ``answers`` (``[{model, text}]`` for
    ``model_a`` then ``model_b``) and ``judgments`` (``[{reviewer, preferred, shown_left,
    strength, rationale, seconds}]``, ``preferred`` a model name, ``tie`` or ``both bad``).
    """
    ids = [int(row["item"]) for row in rows if str(row["item"]).isdigit()]
    if not ids:
        return []
    comparisons = {c.id: c for c in session.scalars(
        select(Comparison).where(Comparison.id.in_(ids)).options(
            selectinload(Comparison.prompt),
            selectinload(Comparison.generation_a).selectinload(Generation.model),
            selectinload(Comparison.generation_b).selectinload(Generation.model)))}
    votes: dict[int, list] = {}
    for item, reviewer, choice, left_id, strength, rationale, seconds in session.execute(
            select(Judgment.comparison_id, Reviewer.name, Judgment.choice,
                   Judgment.left_generation_id, Judgment.strength, Judgment.rationale,
                   Judgment.seconds)
            .join(Reviewer, Reviewer.id == Judgment.reviewer_id)
            .where(Judgment.comparison_id.in_(ids)).order_by(Judgment.id)):
        votes.setdefault(item, []).append((reviewer, choice, left_id, strength, rationale, seconds))
    details = []
    for row in rows:
        if not row["disagreement"]:
            continue  # unanimous: nothing to look at
        comparison = comparisons.get(int(row["item"])) if str(row["item"]).isdigit() else None
        if comparison is None:
            continue
        by_id = {g.id: g for g in (comparison.generation_a, comparison.generation_b)}
        by_model = {g.model.name: g for g in by_id.values()}
        judgments = []
        for reviewer, choice, left_id, strength, rationale, seconds in votes.get(comparison.id, []):
            left = by_id[left_id].model.name
            right = next(name for name in by_model if name != left)
            preferred = side_chosen(choice, left, right) or VOTE_LABELS[choice]
            judgments.append({"reviewer": reviewer, "preferred": preferred, "shown_left": left,
                              "strength": strength, "rationale": rationale, "seconds": seconds})
        details.append({
            **row,
            "messages": [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
                         for m in comparison.prompt.messages or []],
            "answers": [{"model": name, "text": by_model[name].output if name in by_model else ""}
                        for name in (row["model_a"], row["model_b"])],
            "judgments": judgments,
        })
    return details


def render_report_html(data: dict[str, Any]) -> str:
    """The report of :func:`build_report_data` as one self-contained HTML page.

    plotly's JavaScript is inlined once; the page requests nothing from the network.

    Example::

        html_text = render_report_html(build_report_data(session=session, study=study))
    """
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    # No plotly toolbar: it sits over the figures' titles, and a report is read, not edited.
    config = {"displayModeBar": False, "displaylogo": False, "responsive": True}
    figures = {
        name: Markup(figure.to_html(full_html=False, include_plotlyjs=False, config=config,
                                    div_id=f"figure-{name}", default_width="100%"))
        for name, figure in report_figures(data).items()
    }
    return environment().get_template(TEMPLATE).render(
        **section_context(data), figures=figures, plotly_js=Markup(get_plotlyjs()))
