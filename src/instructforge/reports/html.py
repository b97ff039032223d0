"""The self-contained HTML report of a run or an evaluation (``instructforge report``).

One file that opens offline: plotly's JS inlined once, each figure's JSON and the table sample
inlined as ``application/json`` script blocks, the table driven by templates/table.js. The chart
data is also written as JSON next to the page (``report.json`` for ``report.html``).
Sections follow Self-Instruct's data analysis (Wang et al. 2023, section 3.2) for runs and the
papers' result tables for evaluations (see plots.py).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from string import Template
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from .._version import __version__
from ..core.errors import InputError
from ..core.io import atomic_write
from . import plots
from . import usage as usage_section
from .evaldata import load_eval, load_experiment, resolve
from .rundata import ReportConfig, collect_run

TEMPLATES = Path(__file__).parent / "templates"


def _script_json(obj: Any) -> str:
    """JSON safe inside <script>: '<' never appears raw, so '</script>' in data cannot end it."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class Page:
    """Collects sections; figures become placeholders filled by one boot script in the page."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n_figs = 0

    def fig(self, figure: go.Figure) -> str:
        self.n_figs += 1
        fid = f"fig-{self.n_figs}"
        data = _script_json(pio.to_json(figure, validate=False, pretty=False))
        return (
            f'<div class="chart" data-fig="{fid}-data"></div>'
            f'<script type="application/json" id="{fid}-data">{data}</script>'
        )

    def section(self, title: str, *items: str, explain: str = "", sid: str = "") -> None:
        head = f'<section id="{sid}">' if sid else "<section>"
        text = f'<p class="explain">{html.escape(explain)}</p>' if explain else ""
        self.parts.append(f"{head}<h2>{html.escape(title)}</h2>{text}{''.join(items)}</section>")

    def grid(self, *items: str) -> str:
        return f'<div class="grid">{"".join(f"<div>{i}</div>" for i in items)}</div>'


def note(text: str) -> str:
    return f'<div class="note">{html.escape(text)}</div>'


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def kpis(pairs: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f'<div class="kpi"><div class="v">{html.escape(_fmt(v))}</div><div class="k">{html.escape(k)}</div></div>'
        for k, v in pairs
    )
    return f'<div class="kpis">{cells}</div>'


# -- run report ---------------------------------------------------------------------------------


def _run_page(d: dict[str, Any], page: Page) -> None:
    st = d["status"]
    if st["message"]:
        page.parts.append(f'<div class="banner" id="run-status">{html.escape(st["message"])}</div>')
    f = d["funnel"]
    page.section(
        "Overview",
        kpis(
            [
                ("seed tasks", f["seeds"]),
                ("candidate instructions", f["candidates"]),
                ("accepted instructions", f["accepted_instructions"]),
                ("tasks with instances", f["tasks_with_instances"]),
                ("instances", f["instances"]),
            ]
        ),
        sid="overview",
    )
    if st["empty"]:
        page.section(
            "Nothing to chart",
            note(
                "The run store holds no candidates or tasks yet, so there are "
                "no charts. Run generate (again) and rebuild the report."
            ),
        )
        return
    page.section(
        "Funnel and rejections",
        page.grid(
            page.fig(plots.funnel(f)),
            page.fig(plots.rejections(d["rejections"])) if any(d["rejections"].values()) else note("No rejections."),
        ),
        explain="Every candidate is kept with the first filter that rejected it; task and instance "
        "rejections come from the instance filters (Self-Instruct section 2.2).",
        sid="funnel",
    )
    v = d["verbs"]
    if v["available"]:
        shown = f"{v['parsed']:,} of {v['of']:,} accepted instructions parsed" + (
            " (a random sample)" if v["parsed"] < v["of"] else ""
        )
        explain = (
            f"Parser: {v['parser']}. {shown}; {v['with_structure']:,} have a verb with a direct noun "
            f"object ({v['distinct_verbs']:,} distinct verbs, {v['distinct_pairs']:,} distinct pairs). "
            "Inner ring: root verbs; outer ring: their most common direct-object nouns "
            "(Self-Instruct Figure 2; the paper used the Berkeley Neural Parser)."
        )
        body = page.fig(plots.sunburst(v)) if v["top"] else note("No instruction has a verb-object structure.")
        page.section("Verb-noun diversity", body, explain=explain, sid="verbs")
    else:
        page.section("Verb-noun diversity", note(v["message"]), sid="verbs")
    r = d["rouge_to_seed"]
    if r["available"]:
        explain = (
            f"ROUGE-L F (rouge_score rougeL, no stemming) of each accepted instruction to its most "
            f"similar of {r['seeds']} seed instructions; {r['scored']:,} of {r['of']:,} scored, "
            f"median {r['hist']['median']} (Self-Instruct Figure 3)."
        )
        rouge = page.fig(plots.rouge_to_seed(r))
    else:
        explain, rouge = "", note(f"ROUGE-L to the seeds unavailable: {r['message']}.")
    pool = (
        page.fig(plots.pool_rouge(d["pool_rouge"]))
        if (d["pool_rouge"]["accepted"]["n"] or d["pool_rouge"]["rejected"]["n"])
        else ""
    )
    page.section("Novelty", page.grid(rouge, pool) if pool else rouge, explain=explain, sid="rouge")
    clf = d["classification"]
    clf_item = (
        page.fig(plots.classification(clf))
        if clf["classification"] + clf["non_classification"]
        else note("No classification labels yet (the classify stage has not run).")
    )
    page.section(
        "Lengths and task types",
        page.grid(page.fig(plots.lengths(d["lengths"])), clf_item),
        explain="Word counts (whitespace split) of accepted instructions and of the instances kept; "
        "the last bar of each histogram also holds the longest 1% (Self-Instruct Figure 4).",
        sid="lengths",
    )
    c = d["cost"]
    if c["available"]:
        page.section(
            "Cost",
            kpis(
                [
                    ("backend requests", c["requests"]),
                    ("prompt tokens", c["prompt_tokens"]),
                    ("completion tokens", c["completion_tokens"]),
                    ("cache hits", c["cache_hits"]),
                    ("cache hit rate", None if c["cache_hit_rate"] is None else f"{100 * c['cache_hit_rate']:.1f}%"),
                    ("wall seconds", c["wall_seconds"]),
                    ("completion tokens/s", c["completion_tokens_per_s"]),
                    ("all tokens/s", c["total_tokens_per_s"]),
                ]
            ),
            page.fig(plots.cost(c)),
            sid="cost",
            explain="From the run store's stats, summed over resumes; tokens/s = tokens / wall time.",
        )
    else:
        page.section("Cost", note("The run store has no stats yet."), sid="cost")
    usage_section.render(page, d.get("usage") or {}, html_table)
    if d["scores"]["available"]:
        _score_page(d["scores"], page)
    if d.get("contamination"):
        c = d["contamination"]
        page.section(
            "Contamination",
            kpis([("records", c["records"]), ("flagged", c["flagged"])] + list((c["by_benchmark"] or {}).items())),
            html_table(
                ["record", "benchmark", "item", "test", "score"],
                [[r["index"], r["benchmark"], r["item"], r["kind"], r["score"]] for r in c["rows"]],
            ),
            sid="contamination",
            explain="instructforge decontaminate: records sharing a word 13-gram with a benchmark, or "
            f"whose instruction has ROUGE-L >= 0.7 with a benchmark instruction (first {len(c['rows'])} "
            f"shown; all in {c['path']}). export --drop-contaminated leaves them out.",
        )
    t = d["table"]
    page.section(
        "Records",
        f'<div id="records"></div><script type="application/json" id="table-data">'
        f"{_script_json({'columns': t['columns'], 'rows': t['rows']})}</script>",
        explain=f"{t['shown']:,} of {t['total']:,} candidates (a random sample with accepted and "
        "rejected ones when there are more). Filter by status or reason, search, sort by a "
        "column header.",
        sid="table",
    )


def html_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A static table; every cell is escaped text."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f'<div class="table-wrap"><table class="records"><tr>{head}</tr>{body}</table></div>'


def _share(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _score_page(s: dict[str, Any], page: Page) -> None:
    meta = s.get("meta", {})
    d = s["distributions"]
    page.section(
        "Scores",
        kpis(
            [
                ("instances scored", f"{s['scored']:,} of {s['items']:,}"),
                ("judge", meta.get("judge")),
                ("mean reward", d["reward"]["mean"]),
                ("all fields valid", _share(s["audit"]["all"]["share_yes"])),
                ("flagged by checks", s["checks"]["flagged_records"]),
            ]
        ),
        page.fig(plots.score_distributions(d)),
        sid="scores",
        explain="instructforge score: REFINE-AF's automated feedback (naturalness, coherence, "
        "understandability asked of the judge; Rew = "
        + str(meta.get("rew_source") or "?")
        + ") combined by the linear rule into reward; p_* are the judge's P(yes) to the "
        "three audit questions. The judge substitutes for UniEval, the reward model and the "
        "paper's expert; see docs/score.md.",
    )
    rows = [
        [q, a["yes"], a["no"], a["undecided"], _share(a["share_yes"]), _share(a["paper"]), a["paper_source"]]
        for q, a in s["audit"].items()
    ]
    c = s["checks"]
    checks = (
        html_table(["reason", "records"], [[k, v] for k, v in c["by_reason"].items()])
        if c["by_reason"]
        else note("No record failed a deterministic check.")
    )
    page.section(
        "Audit and checks",
        page.grid(
            html_table(["question", "yes", "no", "undecided", "share yes", "paper", "paper figure from"], rows), checks
        ),
        explain="Self-Instruct's quality review (200 samples by an expert: 92% valid instructions, 79% appropriate "
        "inputs, 58% correct outputs, 54% all valid) next to the judge's answers (yes when P(yes) >= "
        f"{meta.get('threshold', '?')}). Checks: deterministic, counted per reason.",
        sid="audit",
    )
    cols = ["key", "reward", "instruction", "input", "output", "flags"]

    def recs(items: list[dict[str, Any]]) -> str:
        return html_table(
            cols,
            [[r["key"], r["reward"], r["instruction"], r["input"], r["output"], ", ".join(r["flags"])] for r in items],
        )

    page.section(
        "Lowest- and highest-scoring records",
        "<h3>lowest reward</h3>",
        recs(s["lowest"]),
        "<h3>highest reward</h3>",
        recs(s["highest"]),
        sid="score-records",
    )


# -- evaluation reports -------------------------------------------------------------------------


def _eval_page(d: dict[str, Any], page: Page) -> None:
    _eval_sections(d, page)
    usage_section.render(page, d.get("usage") or {}, html_table)


def _eval_sections(d: dict[str, Any], page: Page) -> None:
    k = d["kind"]
    if k == "induction":
        o = d["overall"]
        page.section(
            "Overall",
            kpis(
                [
                    ("execution accuracy", o.get("execution_accuracy")),
                    ("human execution accuracy", o.get("human_execution_accuracy")),
                    ("% of human", o.get("percent_of_human")),
                    ("BERTScore", o.get("bertscore")),
                    ("tasks", len(d["tasks"])),
                ]
            ),
        )
        page.section(
            "Per task",
            page.fig(plots.induction_accuracy(d)),
            page.fig(plots.induction_bertscore(d)),
            explain="Instruction Induction (Honovich et al. 2023): accuracy of the model executing "
            "the induced instruction vs the human-written one, and BERTScore to the gold.",
        )
    elif k == "superni":
        o = d["overall"]
        page.section(
            "Overall",
            kpis(
                [
                    ("ROUGE-L", o.get("rougeL")),
                    ("exact match", o.get("exact_match")),
                    ("tasks", len(d["tasks"])),
                    ("categories", len(d["categories"])),
                ]
            ),
        )
        items = [page.fig(plots.superni_tasks(d))]
        if d["categories"]:
            items.append(page.fig(plots.superni_categories(d)))
        page.section(
            "Per task and category",
            *items,
            explain="SuperNI English test tasks, zero-shot with the definition; ROUGE-L and exact "
            "match x100, max over references.",
        )
    elif k == "user-oriented":
        page.section(
            "Ratings",
            page.fig(plots.user_oriented(d)),
            explain="Self-Instruct section 4.4 scale: A valid and satisfying, B acceptable with minor "
            "errors, C relevant but significant errors, D irrelevant or invalid.",
        )
    else:
        page.section(
            "Outcome",
            kpis(
                [
                    ("win", d["counts"]["win"]),
                    ("tie", d["counts"]["tie"]),
                    ("loss", d["counts"]["loss"]),
                    ("mean delta", d["mean_delta"]),
                ]
            ),
            page.fig(plots.compare_outcomes(d)),
            page.fig(plots.compare_deltas(d)),
            explain=f"B = {d.get('b_model') or d.get('b')} against A = {d.get('a_model') or d.get('a')}"
            f"; per-task {d.get('metric')}, win = B higher.",
        )


# -- entry point --------------------------------------------------------------------------------

TITLES = {
    "run": "Generated data",
    "induction": "Instruction Induction evaluation",
    "superni": "SuperNI evaluation",
    "user-oriented": "User-oriented evaluation",
    "compare": "Comparison",
    "experiment": "Experiment",
}


def _experiment_page(d: dict[str, Any], page: Page) -> None:
    """Every comparison and evaluation of an experiment, one after another, each headed by its
    stage, then the usage of the whole experiment (every stage's ledger, summed)."""
    for sec in d["sections"]:
        page.parts.append(
            f'<h1 class="stage">{html.escape(str(sec["stage"]))}: {html.escape(TITLES[sec["kind"]])}</h1>'
        )
        _eval_page(sec, page)
    usage_section.render(
        page,
        d.get("usage") or {},
        html_table,
        title="Usage of the whole experiment",
        sid="experiment-usage",
        explain="Every stage's ledger (generate, refine and evaluate stages too), summed; stage names are "
        "STAGE/COMMAND. ",
    )


def build_report(path: Path, out: Path, cfg: ReportConfig | None = None) -> Path:
    """Write ``out`` (the HTML page) and its chart data as JSON next to it; returns ``out``."""
    path, out = Path(path), Path(out)
    json_out = out.with_suffix(".json")
    if json_out == out:
        raise InputError.at(out, None, "the report must not end in .json (the chart data goes there)")
    kind, src = resolve(path)
    if kind == "run":
        data, render = collect_run(src, cfg), _run_page
    elif kind == "experiment":
        data, render = load_experiment(src), _experiment_page
    else:
        data, render = load_eval(kind, src), _eval_page
    page = Page()
    render(data, page)
    model = data.get("model") or data.get("config", {}).get("model")
    meta = " · ".join(
        html.escape(str(x))
        for x in (
            f"{kind}: {src}",
            f"model {model}" if model else None,
            f"built {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by instructforge {__version__}",
        )
        if x
    )
    footer = (
        "Self-contained page: plotly.js and all data are inlined; no network needed. "
        f"Chart data: {html.escape(json_out.name)}."
    )
    from plotly.offline import get_plotlyjs

    doc = Template((TEMPLATES / "page.html").read_text(encoding="utf-8")).substitute(
        title=html.escape(f"instructforge report — {TITLES[kind]}"),
        version=__version__,
        meta=meta,
        body="\n".join(page.parts),
        footer=footer,
        plotlyjs=get_plotlyjs(),
        tablejs=(TEMPLATES / "table.js").read_text(encoding="utf-8") if kind == "run" else "",
    )
    data["charts"] = page.n_figs
    # The table sample lives in the page only; the JSON keeps what the charts show.
    saved = {**data, "table": {k: v for k, v in data["table"].items() if k != "rows"}} if "table" in data else data
    atomic_write(json_out, json.dumps(saved, ensure_ascii=False, indent=1) + "\n")
    atomic_write(out, doc)
    return out
