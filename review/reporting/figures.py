"""The report's plotly figures, from the dict of :func:`review.reporting.report.build_report_data`.

Each builder returns None when its view does not apply (e.g. no per-category win rate for a
study of several model pairs). User text in labels is escaped: plotly reads ``<b>``,
``<a href>`` and the like in labels as markup.

Example::

    figures = report_figures(build_report_data(session=session, study=study))
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

COLORS = {
    "candidate": "#2e7d32",
    "baseline": "#c62828",
    "tie": "#9e9e9e",
    "both_bad": "#6d4c41",
    "accent": "#1565c0",
    "reference": "#757575",
}


def _label(text: Any) -> str:
    """User text made safe for plotly labels, which read ``<b>``, ``<a href>`` etc. as markup."""
    return html.escape(str(text), quote=False)


def _layout(figure: go.Figure, *, title: str, height: int = 360, **extra: Any) -> go.Figure:
    """The report's look. Long titles are two lines (``<br>``) so that they fit a phone's width;
    the top margin makes room for them."""
    layout = {
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "template": "plotly_white", "height": height,
        "margin": {"l": 10, "r": 20, "t": 70 if "<br>" in title else 50, "b": 40},
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
    # Two title lines: long model names still fit a phone's width.
    return _layout(
        figure, title=f"Win rate of {candidate}<br>over {baseline}",
        height=max(250, 150 + 34 * len(rows)), margin={"l": 10, "r": 20, "t": 90, "b": 40},
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
    _layout(figure, title="Votes per model pair<br>(first model = first in the label)",
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
        return _layout(figure, title=f"Bradley-Terry score by training step<br>run {_label(run['run'])}",
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
    return _layout(figure, title="Position bias:<br>share of decisive votes for the left answer",
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
    return _layout(figure, title="Length bias:<br>decisive votes won by the longer answer",
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


