"""The analyst report of a study: its data, its plots and one self-contained HTML page.

Three layers, so that the web dashboard can show the same views as the HTML file:

* :func:`build_report_data` reads the study from the database and returns a plain,
  JSON-serialisable dict: the analysis of :func:`review.stats.analyze` plus what only a report
  needs (the vote distribution per model pair, Bradley-Terry ratings of a whole training run,
  the length-bias curve and, for the items reviewers disagreed on most, the prompt, both
  answers with the models revealed, and every vote).
* The figure builders (:data:`FIGURES`, :func:`report_figures`) turn that dict into plotly
  figures; each returns None when its view does not apply (e.g. no per-category win rate for
  a study of several model pairs).
* :func:`render_report_html` renders the dict and figures with the jinja2 template
  ``templates/report.html.j2`` into one HTML file that works offline: plotly's JavaScript is
  inlined once, nothing is fetched from the network.

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

import html
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from review.dataset import study_judgments
from review.models import Comparison, Generation, Judgment, Model, Reviewer, Study

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
MIN_LENGTH_VOTES = 10
LENGTH_BINS = 4

COLORS = {
    "candidate": "#2e7d32",
    "baseline": "#c62828",
    "tie": "#9e9e9e",
    "both_bad": "#6d4c41",
    "accent": "#1565c0",
    "reference": "#757575",
}
VOTE_LABELS = {"tie": "tie", "both_bad": "both bad"}


# --------------------------------------------------------------------------- data


def build_report_data(*, session: Session, study: Study, n_bootstrap: int = 1000,
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
    from review.stats import DecisionThresholds, analyze, encode

    frame = study_judgments(session=session, study=study)
    candidate = study.candidate.name if study.candidate else None
    baseline = study.baseline.name if study.baseline else None
    thresholds = DecisionThresholds.from_dict(study.thresholds or {})
    analysis = analyze(frame, candidate=candidate, baseline=baseline, thresholds=thresholds,
                       n_bootstrap=n_bootstrap, seed=seed, study=study.name)
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
                                             confidence=thresholds.confidence),
        "length_bins": length_bins(normal, confidence=thresholds.confidence),
        "disagreements": disagreement_details(session=session, rows=analysis["items_disagreement"]),
    }


def vote_pairs(encoded: pd.DataFrame) -> list[dict[str, Any]]:
    """Vote counts per model pair (models sorted), most judged pair first.

    Args:
        encoded: non-gold judgments, as :func:`review.stats.encode` returns them.

    Returns:
        ``[{model_a, model_b, model_a_wins, model_b_wins, tie, both_bad, n}, ...]``.
    """
    if len(encoded) == 0:
        return []
    plain = pd.DataFrame({"model_a": encoded["model_a"].astype(str).to_numpy(dtype=object),
                          "model_b": encoded["model_b"].astype(str).to_numpy(dtype=object),
                          "code": encoded["code"].to_numpy(dtype=np.int64)})
    counts = (plain.groupby(["model_a", "model_b", "code"]).size()
              .unstack("code", fill_value=0).reindex(columns=range(4), fill_value=0))
    rows = []
    for (model_a, model_b), row in counts.iterrows():
        values = [int(v) for v in row.to_numpy()]
        rows.append({"model_a": str(model_a), "model_b": str(model_b), "model_a_wins": values[0],
                     "model_b_wins": values[1], "tie": values[2], "both_bad": values[3],
                     "n": sum(values)})
    return sorted(rows, key=lambda r: (-r["n"], r["model_a"], r["model_b"]))


def training_run_ratings(*, session: Session, study: Study, frame: pd.DataFrame | None = None,
                         n_bootstrap: int = 1000, seed: int = 0,
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


def length_bins(encoded: pd.DataFrame, *, confidence: float = 0.95,
                bins: int = LENGTH_BINS) -> list[dict[str, Any]]:
    """Share of decisive votes won by the longer answer, by how much longer it was.

    Votes are grouped into up to ``bins`` quantile groups of the absolute length difference
    (characters); each group has the share and its Wilson interval. Empty when fewer than
    :data:`MIN_LENGTH_VOTES` decisive votes compare answers of different lengths.

    Example:
        >>> frame = pd.DataFrame({"left_won": [1.0, 0.0] * 10, "length_left": [300.0, 100.0] * 10,
        ...                       "length_right": [100.0] * 20})
        >>> [(row["n"], row["longer_win_rate"]) for row in length_bins(frame, bins=1)]
        [(10, 1.0)]
    """
    from review.stats import wilson_interval

    left_won = encoded["left_won"].to_numpy(dtype=float)
    length_left = encoded["length_left"].to_numpy(dtype=float)
    length_right = encoded["length_right"].to_numpy(dtype=float)
    difference = length_left - length_right
    usable = ~np.isnan(left_won) & ~np.isnan(difference) & (difference != 0)
    if usable.sum() < MIN_LENGTH_VOTES:
        return []
    gap = np.abs(difference[usable])
    longer_won = (difference[usable] > 0) == (left_won[usable] == 1.0)
    codes = (pd.qcut(gap, q=bins, labels=False, duplicates="drop") if bins > 1
             else np.zeros(len(gap), dtype=int))
    rows = []
    for code in np.unique(codes):
        members = codes == code
        n = int(members.sum())
        wins = int(longer_won[members].sum())
        low, high = wilson_interval(wins, n, confidence)
        rows.append({"min_chars": int(gap[members].min()), "max_chars": int(gap[members].max()),
                     "n": n, "longer_win_rate": wins / n, "ci_low": low, "ci_high": high})
    return rows


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
            preferred = {"left": left, "right": right}.get(choice, VOTE_LABELS.get(choice, choice))
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


# --------------------------------------------------------------------------- figures


def _label(text: Any) -> str:
    """User text made safe for plotly labels, which read ``<b>``, ``<a href>`` etc. as markup."""
    return html.escape(str(text), quote=False)


def _layout(figure: go.Figure, *, title: str, height: int = 360, **extra: Any) -> go.Figure:
    layout = {
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "template": "plotly_white", "height": height,
        "margin": {"l": 10, "r": 20, "t": 50, "b": 40},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "showlegend": False,
    }
    figure.update_layout(**{**layout, **extra})
    return figure


def _errors(rows: list[dict], value: str) -> tuple[list[float], list[float]]:
    plus = [(r["ci_high"] - r[value]) if r.get("ci_high") is not None else 0.0 for r in rows]
    minus = [(r[value] - r["ci_low"]) if r.get("ci_low") is not None else 0.0 for r in rows]
    return plus, minus


def win_rate_figure(data: dict[str, Any]) -> go.Figure | None:
    """Forest plot: the candidate's win rate with its interval, overall and per category."""
    analysis = data["analysis"]
    overall = analysis.get("win_rate")
    if not overall or overall.get("estimate") is None:
        return None
    rows = [{"label": f"<b>overall</b> (n={overall['n']})", "win_rate": overall["estimate"],
             "ci_low": overall["ci_low"], "ci_high": overall["ci_high"], "n": overall["n"]}]
    for row in analysis.get("by_category") or []:
        if row.get("win_rate") is not None:
            rows.append({**row, "label": f"{_label(row['category'])} (n={row['n']})"})
    plus, minus = _errors(rows, "win_rate")
    labels = [r["label"] for r in rows]
    figure = go.Figure(go.Scatter(
        x=[r["win_rate"] for r in rows], y=labels, mode="markers",
        marker={"size": [14] + [9] * (len(rows) - 1), "symbol": ["diamond"] + ["circle"] * (len(rows) - 1),
                "color": [COLORS["accent"]] + ["#37474f"] * (len(rows) - 1)},
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 2, "width": 5,
                 "color": "#37474f"},
        customdata=[[r["ci_low"], r["ci_high"]] for r in rows],
        hovertemplate="%{y}<br>win rate %{x:.1%}<br>interval %{customdata[0]:.1%} to "
                      "%{customdata[1]:.1%}<extra></extra>"))
    margin = (analysis.get("thresholds") or {}).get("margin")
    labels_above = {"annotation_yanchor": "bottom", "annotation_y": 1.0, "annotation_yref": "paper",
                    "annotation_font": {"size": 11, "color": COLORS["reference"]}}
    figure.add_vline(x=0.5, line={"dash": "dash", "color": COLORS["reference"]},
                     annotation_text="no difference", annotation_xanchor="right", **labels_above)
    if margin:
        figure.add_vline(x=0.5 + margin, line={"dash": "dot", "color": COLORS["candidate"]},
                         annotation_text="ship margin", annotation_xanchor="left", **labels_above)
    candidate, baseline = _label(analysis.get("candidate")), _label(analysis.get("baseline"))
    return _layout(
        figure, title=f"Win rate of {candidate} over {baseline} (ties count half)",
        height=max(230, 130 + 34 * len(rows)), margin={"l": 10, "r": 20, "t": 70, "b": 40},
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "win rate", "zeroline": False},
        yaxis={"range": [len(rows) - 0.5, -0.5], "automargin": True})


def votes_figure(data: dict[str, Any]) -> go.Figure | None:
    """The vote distribution: candidate / baseline / tie / both_bad, or per model pair."""
    analysis = data["analysis"]
    counts = analysis.get("counts")
    if counts and sum(counts.values()):
        labels = [_label(analysis["candidate"]) + " better", _label(analysis["baseline"]) + " better",
                  "tie", "both bad"]
        values = [counts["candidate"], counts["baseline"], counts["tie"], counts["both_bad"]]
        total = sum(values)
        figure = go.Figure(go.Bar(
            x=labels, y=values, marker_color=[COLORS[k] for k in ("candidate", "baseline", "tie", "both_bad")],
            text=[f"{v} ({v / total:.0%})" for v in values], textposition="outside",
            hovertemplate="%{x}: %{y} votes<extra></extra>", cliponaxis=False))
        return _layout(figure, title="Votes", yaxis={"title": "judgments"}, height=340)
    pairs = data.get("vote_pairs") or []
    if not pairs:
        return None
    pairs = pairs[:40]
    names = [f"{_label(p['model_a'])} vs {_label(p['model_b'])}" for p in pairs]
    figure = go.Figure()
    for key, label, color in (("model_a_wins", "first model better", COLORS["accent"]),
                              ("model_b_wins", "second model better", "#ef6c00"),
                              ("tie", "tie", COLORS["tie"]), ("both_bad", "both bad", COLORS["both_bad"])):
        figure.add_trace(go.Bar(
            y=names, x=[p[key] for p in pairs], name=label, orientation="h", marker_color=color,
            hovertemplate="%{y}<br>" + label + ": %{x}<extra></extra>"))
    _layout(figure, title="Votes per model pair (first model = first in the label)",
            height=max(260, 90 + 26 * len(pairs)), barmode="stack",
            yaxis={"autorange": "reversed", "automargin": True}, xaxis={"title": "judgments"})
    figure.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.15, "traceorder": "normal"})
    return figure


def agreement_figure(data: dict[str, Any]) -> go.Figure | None:
    """Heatmap of Cohen's kappa for every pair of reviewers who judged the same items."""
    pairs = (data["analysis"].get("agreement") or {}).get("cohen_kappa") or []
    if not pairs:
        return None
    raters = sorted({p["rater_a"] for p in pairs} | {p["rater_b"] for p in pairs})
    index = {name: i for i, name in enumerate(raters)}
    z = [[None] * len(raters) for _ in raters]
    shared = [[0] * len(raters) for _ in raters]
    for pair in pairs:
        a, b = index[pair["rater_a"]], index[pair["rater_b"]]
        z[a][b] = z[b][a] = pair["kappa"]
        shared[a][b] = shared[b][a] = pair["n"]
    labels = [_label(name) for name in raters]
    figure = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, zmin=-1, zmax=1, zmid=0, colorscale="RdBu",
        customdata=shared, texttemplate="%{z:.2f}" if len(raters) <= 15 else None,
        hovertemplate="%{y} / %{x}<br>kappa %{z:.3f}<br>%{customdata} shared items<extra></extra>",
        colorbar={"title": "kappa", "thickness": 12}, hoverongaps=False))
    side = min(900, 160 + 32 * len(raters))
    return _layout(figure, title="Cohen's kappa per pair of reviewers", height=side,
                   yaxis={"autorange": "reversed", "automargin": True},
                   xaxis={"automargin": True, "tickangle": -30})


def ratings_figure(data: dict[str, Any]) -> go.Figure | None:
    """Bradley-Terry scores: against training step for a run, else one row per model."""
    run = data.get("training_run")
    checkpoints = [m for m in (run or {}).get("models", []) if m["in_run"] and m["training_step"] is not None]
    if run and checkpoints:
        plus, minus = _errors(checkpoints, "score")
        figure = go.Figure(go.Scatter(
            x=[m["training_step"] for m in checkpoints], y=[m["score"] for m in checkpoints],
            mode="lines+markers", text=[_label(m["model"]) for m in checkpoints],
            line={"color": COLORS["accent"]},
            marker={"size": [15 if m["is_candidate"] else 9 for m in checkpoints],
                    "symbol": ["star" if m["is_candidate"] else "circle" for m in checkpoints],
                    "color": [COLORS["candidate"] if m["is_candidate"] else COLORS["accent"]
                              for m in checkpoints]},
            error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5,
                     "color": COLORS["accent"]},
            customdata=[[m["ci_low"], m["ci_high"], m["n"]] for m in checkpoints],
            hovertemplate="%{text}<br>step %{x}<br>score %{y:.0f} (%{customdata[0]:.0f} to "
                          "%{customdata[1]:.0f})<br>%{customdata[2]} judgments<extra></extra>"))
        for other in (m for m in run["models"] if m not in checkpoints):
            figure.add_hline(y=other["score"], line={"dash": "dash", "color": COLORS["reference"]},
                             annotation_text=_label(other["model"]), annotation_position="top left")
        return _layout(figure, title=f"Bradley-Terry score by training step, run {_label(run['run'])}",
                       xaxis={"title": "training step"}, yaxis={"title": "score (Elo scale)"})
    ratings = data["analysis"].get("ratings") or []
    if not ratings:
        return None
    plus, minus = _errors(ratings, "score")
    candidate = data["analysis"].get("candidate")
    figure = go.Figure(go.Scatter(
        x=[r["score"] for r in ratings], y=[_label(r["model"]) for r in ratings], mode="markers",
        marker={"size": 11, "color": [COLORS["candidate"] if r["model"] == candidate else COLORS["accent"]
                                      for r in ratings]},
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 2, "width": 5,
                 "color": "#37474f"},
        customdata=[[r["ci_low"], r["ci_high"], r["n"]] for r in ratings],
        hovertemplate="%{y}<br>score %{x:.0f} (%{customdata[0]:.0f} to %{customdata[1]:.0f})"
                      "<br>%{customdata[2]} judgments<extra></extra>"))
    return _layout(figure, title="Bradley-Terry scores (Elo scale)", height=max(220, 100 + 34 * len(ratings)),
                   yaxis={"autorange": "reversed", "automargin": True}, xaxis={"title": "score"})


def position_bias_figure(data: dict[str, Any]) -> go.Figure | None:
    """Share of decisive votes that went to the left answer: all reviewers, then each one."""
    analysis = data["analysis"]
    overall = analysis.get("position_bias") or {}
    rows = [r for r in analysis.get("position_bias_by_reviewer") or [] if r.get("left_rate") is not None]
    if overall.get("left_rate") is None:
        return None
    labels = ["<b>all reviewers</b>"] + [_label(r["reviewer"]) for r in rows]
    values = [overall["left_rate"]] + [r["left_rate"] for r in rows]
    details = [[overall["n_decisive"], overall["p_value"]]] + [[r["n_decisive"], r["p_value"]] for r in rows]
    colors = [COLORS["accent"]] + [COLORS["baseline"] if (r["p_value"] or 1) < 0.05 else "#90a4ae" for r in rows]
    figure = go.Figure(go.Bar(
        x=labels, y=values, marker_color=colors, customdata=details,
        hovertemplate="%{x}<br>left chosen in %{y:.1%} of %{customdata[0]} decisive votes"
                      "<br>p = %{customdata[1]:.3g}<extra></extra>"))
    figure.add_hline(y=0.5, line={"dash": "dash", "color": COLORS["reference"]})
    return _layout(figure, title="Position bias: share of decisive votes for the left answer",
                   yaxis={"range": [0, 1], "tickformat": ".0%"}, xaxis={"automargin": True},
                   height=340)


def length_bias_figure(data: dict[str, Any]) -> go.Figure | None:
    """Share of decisive votes won by the longer answer, by length difference."""
    rows = data.get("length_bins") or []
    if not rows:
        return None
    plus, minus = _errors(rows, "longer_win_rate")
    labels = [f"{r['min_chars']}-{r['max_chars']} chars" for r in rows]
    figure = go.Figure(go.Scatter(
        x=labels, y=[r["longer_win_rate"] for r in rows], mode="lines+markers",
        marker={"size": 10, "color": COLORS["accent"]},
        error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5,
                 "color": COLORS["accent"]},
        customdata=[r["n"] for r in rows],
        hovertemplate="longer by %{x}<br>longer answer won %{y:.1%} of %{customdata} votes"
                      "<extra></extra>"))
    figure.add_hline(y=0.5, line={"dash": "dash", "color": COLORS["reference"]})
    return _layout(figure, title="Length bias: the longer answer's share of decisive votes",
                   yaxis={"range": [0, 1], "tickformat": ".0%"},
                   xaxis={"title": "how much longer (characters)"}, height=340)


FIGURES: dict[str, Callable[[dict[str, Any]], go.Figure | None]] = {
    "win_rate": win_rate_figure,
    "votes": votes_figure,
    "agreement": agreement_figure,
    "ratings": ratings_figure,
    "position_bias": position_bias_figure,
    "length_bias": length_bias_figure,
}


def report_figures(data: dict[str, Any]) -> dict[str, go.Figure]:
    """Every figure that applies to ``data``, by name (the keys of :data:`FIGURES`)."""
    figures = {}
    for name, build in FIGURES.items():
        figure = build(data)
        if figure is not None:
            figures[name] = figure
    return figures


# --------------------------------------------------------------------------- HTML


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def p_value(value: float | None) -> str:
    """``p = 0.123`` or ``p < 0.001``."""
    if value is None:
        return "p n/a"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _odds_per_100_chars(coefficient_per_1000: float | None) -> str:
    """The length odds ratio per 100 characters (answers are usually far shorter than 1000)."""
    if coefficient_per_1000 is None:
        return "n/a"
    odds = float(np.exp(np.clip(coefficient_per_1000 / 10, -50, 50)))
    if odds > 1000:
        return "over 1000"
    if odds < 0.001:
        return "under 0.001"
    return f"{odds:.3g}"


@lru_cache(maxsize=1)
def _environment():  # noqa: ANN202 - jinja2.Environment
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(pct=pct, num=num, p_value=p_value,
                               odds_per_100_chars=_odds_per_100_chars)
    return environment


def render_report_html(data: dict[str, Any]) -> str:
    """The report of :func:`build_report_data` as one self-contained HTML page.

    plotly's JavaScript is inlined once; the page requests nothing from the network.

    Example::

        html_text = render_report_html(build_report_data(session=session, study=study))
    """
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    config = {"displaylogo": False, "responsive": True,
              "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}
    figures = {
        name: Markup(figure.to_html(full_html=False, include_plotlyjs=False, config=config,
                                    div_id=f"figure-{name}", default_width="100%"))
        for name, figure in report_figures(data).items()
    }
    return _environment().get_template(TEMPLATE).render(
        data=data, study=data["study"], analysis=data["analysis"], figures=figures,
        plotly_js=Markup(get_plotlyjs()))
