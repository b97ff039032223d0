"""Plotly figures of the report, built from the aggregates of rundata.py / evaldata.py.

Run charts follow Self-Instruct's data analysis (Wang et al. 2023, section 3.2: Figure 2 verb-noun
sunburst, Figure 3 ROUGE-L to the most similar seed, Figure 4 lengths); evaluation charts follow
the papers' result tables (Instruction Induction execution accuracy vs human, SuperNI ROUGE-L,
user-oriented A-D ratings, REFINE-AF per-task win share). Every function takes plain dicts and
returns a ``go.Figure``; nothing here reads files.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#4C78A8", "#F58518", "#54A24B", "#E45756", "#9D9D9D", "#B279A2"
LEVEL_COLORS = {"instruction": BLUE, "task": ORANGE, "instance": PURPLE}
OUTCOME_COLORS = {"win": GREEN, "tie": GREY, "loss": RED}
GRADE_COLORS = {"A": GREEN, "B": BLUE, "C": ORANGE, "D": RED}


def _layout(fig: go.Figure, title: str, height: int = 380, **kw: Any) -> go.Figure:
    kw.setdefault("margin", {"l": 60, "r": 20, "t": 50, "b": 50})
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=height, **kw)
    return fig


def _hist_trace(h: dict[str, Any], name: str, color: str, unit: str = "") -> go.Bar:
    edges, counts = h["edges"], h["counts"]
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels = [f"{a:g}-{b:g}{unit}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if h.get("overflow") and labels:
        labels[-1] = f">= {edges[-2]:g}{unit} (incl. {h['overflow']} above {edges[-1]:g})"
    return go.Bar(
        x=centers,
        y=counts,
        width=widths,
        name=name,
        marker_color=color,
        customdata=labels,
        hovertemplate="%{customdata}: %{y}<extra>" + name + "</extra>",
    )


# -- generate runs ---------------------------------------------------------------------------


def funnel(f: dict[str, int]) -> go.Figure:
    stages = [
        ("candidate instructions", f["candidates"]),
        ("accepted instructions", f["accepted_instructions"]),
        ("tasks with instances", f["tasks_with_instances"]),
    ]
    fig = go.Figure(
        go.Funnel(
            y=[s for s, _ in stages],
            x=[n for _, n in stages],
            textinfo="value+percent initial",
            marker={"color": [BLUE, GREEN, ORANGE]},
        )
    )
    return _layout(fig, f"Funnel ({f['seeds']} seed tasks; {f['instances']} instances kept)", height=320)


def rejections(r: dict[str, dict[str, int]]) -> go.Figure:
    fig = go.Figure()
    for level, counts in r.items():
        if counts:
            names = list(counts)[::-1]
            fig.add_trace(
                go.Bar(
                    y=[f"{level}: {n}" for n in names],
                    x=[counts[n] for n in names],
                    orientation="h",
                    name=level,
                    marker_color=LEVEL_COLORS.get(level, GREY),
                    text=[counts[n] for n in names],
                    textposition="auto",
                )
            )
    rows = sum(len(c) for c in r.values())
    fig.update_yaxes(automargin=True)
    return _layout(fig, "Rejections by reason", height=max(260, 60 + 28 * rows), xaxis_title="records", showlegend=True)


def sunburst(v: dict[str, Any]) -> go.Figure:
    ids, labels, parents, values = [], [], [], []
    for item in v["top"]:
        ids.append(item["verb"])
        labels.append(item["verb"])
        parents.append("")
        values.append(item["count"])
        for n in item["nouns"]:
            ids.append(f"{item['verb']}/{n['noun']}")
            labels.append(n["noun"])
            parents.append(item["verb"])
            values.append(n["count"])
    # branchvalues="total": a verb's count includes nouns outside its top ones (the gap shows that).
    fig = go.Figure(
        go.Sunburst(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            hovertemplate="%{label}: %{value}<extra></extra>",
            insidetextorientation="radial",
        )
    )
    return _layout(
        fig,
        f"Top {len(v['top'])} root verbs and their direct-object nouns",
        height=560,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )


def rouge_to_seed(r: dict[str, Any]) -> go.Figure:
    fig = go.Figure(_hist_trace(r["hist"], "instructions", BLUE))
    return _layout(
        fig,
        "ROUGE-L to the most similar seed instruction",
        xaxis_title="ROUGE-L F",
        yaxis_title="instructions",
        xaxis_range=[0, 1],
        bargap=0.05,
    )


def pool_rouge(p: dict[str, dict[str, Any]]) -> go.Figure:
    fig = go.Figure()
    for status, color in (("accepted", GREEN), ("rejected", RED)):
        if p[status]["n"]:
            fig.add_trace(_hist_trace(p[status], status, color))
    fig.update_traces(opacity=0.75)
    return _layout(
        fig,
        "ROUGE-L to the pool when generated (the novelty filter's view)",
        xaxis_title="max ROUGE-L F to the pool",
        yaxis_title="candidates",
        barmode="overlay",
        xaxis_range=[0, 1],
    )


def lengths(h: dict[str, dict[str, Any]]) -> go.Figure:
    names = [k for k in ("instruction", "input", "output")]
    titles = [f"{k} (n={h[k]['n']:,}, median {h[k]['median']:g})" if h[k]["n"] else f"{k} (none yet)" for k in names]
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles)
    for i, (k, color) in enumerate(zip(names, (BLUE, ORANGE, GREEN), strict=True), start=1):
        if h[k]["n"]:
            fig.add_trace(_hist_trace(h[k], k, color, " words"), row=1, col=i)
        fig.update_xaxes(title_text="words", row=1, col=i)
    return _layout(fig, "Lengths in words", showlegend=False, bargap=0.05, margin={"l": 50, "r": 20, "t": 90, "b": 50})


def classification(c: dict[str, Any]) -> go.Figure:
    fig = go.Figure(
        go.Pie(
            labels=["classification", "non-classification"],
            values=[c["classification"], c["non_classification"]],
            hole=0.45,
            marker={"colors": [ORANGE, BLUE]},
            sort=False,
        )
    )
    return _layout(fig, f"Classification share ({c['source']})", height=320)


def cost(c: dict[str, Any]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=["tokens", "model calls"])
    fig.add_trace(
        go.Bar(
            x=["prompt", "completion"],
            y=[c["prompt_tokens"] or 0, c["completion_tokens"] or 0],
            marker_color=[BLUE, ORANGE],
            name="tokens",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=["backend requests", "cache hits", "cache misses"],
            y=[c["requests"] or 0, c["cache_hits"] or 0, c["cache_misses"] or 0],
            marker_color=[PURPLE, GREEN, GREY],
            name="calls",
        ),
        row=1,
        col=2,
    )
    return _layout(fig, "Cost", height=340, showlegend=False, margin={"l": 60, "r": 20, "t": 90, "b": 50})


def score_distributions(dists: dict[str, dict[str, Any]]) -> go.Figure:
    """Histograms of every stored score of ``instructforge score`` (quality/summary.py)."""
    names = list(dists)
    cols = 4
    rows = (len(names) + cols - 1) // cols
    titles = [
        f"{n} (n={dists[n]['n']:,}, mean {dists[n]['mean']:.3g})" if dists[n]["n"] else f"{n} (none)" for n in names
    ]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles)
    colors = [BLUE, ORANGE, GREEN, PURPLE, RED, GREY]
    for k, n in enumerate(names):
        if dists[n]["n"]:
            fig.add_trace(
                _hist_trace(dists[n]["hist"], n, colors[k % len(colors)]), row=k // cols + 1, col=k % cols + 1
            )
    fig.update_annotations(font_size=11)
    return _layout(
        fig,
        "Score distributions",
        height=260 * rows + 60,
        showlegend=False,
        bargap=0.05,
        margin={"l": 50, "r": 20, "t": 90, "b": 40},
    )


# -- evaluations ------------------------------------------------------------------------------


def induction_accuracy(d: dict[str, Any]) -> go.Figure:
    names = list(d["tasks"])
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[d["tasks"][n]["execution_accuracy"] for n in names],
                name="induced instruction",
                marker_color=BLUE,
            ),
            go.Bar(
                x=names,
                y=[d["tasks"][n]["human_execution_accuracy"] for n in names],
                name="human instruction",
                marker_color=GREY,
            ),
        ]
    )
    return _layout(
        fig,
        "Execution accuracy per task",
        barmode="group",
        yaxis_title="execution accuracy",
        height=440,
        xaxis_tickangle=-40,
    )


def induction_bertscore(d: dict[str, Any]) -> go.Figure:
    names = list(d["tasks"])
    fig = go.Figure(
        go.Bar(x=names, y=[d["tasks"][n]["bertscore"] for n in names], marker_color=PURPLE, name="BERTScore")
    )
    return _layout(
        fig,
        "BERTScore of the induced instruction to the gold ones",
        yaxis_title="BERTScore F1",
        height=420,
        xaxis_tickangle=-40,
    )


def superni_tasks(d: dict[str, Any]) -> go.Figure:
    names = list(d["tasks"])
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[d["tasks"][n]["rougeL"] for n in names],
                name="ROUGE-L",
                marker_color=BLUE,
                customdata=[d["tasks"][n]["category"] for n in names],
                hovertemplate="%{x}<br>%{customdata}<br>ROUGE-L %{y}<extra></extra>",
            ),
            go.Bar(x=names, y=[d["tasks"][n]["exact_match"] for n in names], name="exact match", marker_color=ORANGE),
        ]
    )
    return _layout(
        fig, "SuperNI per task", barmode="group", height=480, xaxis_tickangle=-45, yaxis_title="score (x100)"
    )


def superni_categories(d: dict[str, Any]) -> go.Figure:
    cats = list(d["categories"])
    fig = go.Figure(
        [
            go.Bar(
                y=cats,
                x=[d["categories"][c]["rougeL"] for c in cats],
                name="ROUGE-L",
                orientation="h",
                marker_color=BLUE,
            ),
            go.Bar(
                y=cats,
                x=[d["categories"][c]["exact_match"] for c in cats],
                name="exact match",
                orientation="h",
                marker_color=ORANGE,
            ),
        ]
    )
    return _layout(
        fig,
        "SuperNI per category",
        barmode="group",
        height=max(300, 80 + 40 * len(cats)),
        xaxis_title="score (x100)",
        margin={"l": 220, "r": 20, "t": 50, "b": 50},
    )


def user_oriented(d: dict[str, Any]) -> go.Figure:
    grades = list("ABCD")
    n = max(1, sum(d["distribution"].values()))
    vals = [d["distribution"][g] for g in grades]
    fig = go.Figure(
        go.Bar(
            x=grades,
            y=vals,
            marker_color=[GRADE_COLORS[g] for g in grades],
            text=[f"{v} ({100 * v / n:.1f}%)" for v in vals],
            textposition="auto",
        )
    )
    return _layout(
        fig,
        f"User-oriented ratings (n={d['n']}, judge {d.get('judge') or '?'})",
        xaxis_title="A: valid and satisfying ... D: irrelevant or invalid",
        yaxis_title="responses",
    )


def compare_deltas(d: dict[str, Any]) -> go.Figure:
    names = list(d["tasks"])
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[d["tasks"][n]["delta"] for n in names],
            marker_color=[OUTCOME_COLORS.get(d["tasks"][n]["outcome"], GREY) for n in names],
            customdata=[[d["tasks"][n]["a"], d["tasks"][n]["b"], d["tasks"][n]["outcome"]] for n in names],
            hovertemplate="%{x}<br>A %{customdata[0]} -> B %{customdata[1]}"
            "<br>delta %{y} (%{customdata[2]})<extra></extra>",
        )
    )
    return _layout(
        fig,
        f"Per-task delta B - A ({d.get('metric') or 'metric'})",
        height=460,
        xaxis_tickangle=-45,
        yaxis_title="delta",
    )


def compare_outcomes(d: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for k in ("win", "tie", "loss"):
        fig.add_trace(
            go.Bar(
                y=["B vs A"],
                x=[d["share"][k]],
                orientation="h",
                name=f"{k} ({d['counts'][k]})",
                marker_color=OUTCOME_COLORS[k],
                text=[f"{100 * d['share'][k]:.1f}%"],
                textposition="inside",
            )
        )
    ci = (d.get("ci95") or {}).get("win")
    title = "Win / tie / loss share of tasks"
    if ci:
        title += f" (win 95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f}%)"
    return _layout(fig, title, barmode="stack", height=240, xaxis_range=[0, 1], xaxis_tickformat=".0%")
