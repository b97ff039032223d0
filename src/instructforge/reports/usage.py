"""The report's usage section: the ledger (models/usage.py) of a run store or an out dir's
usage.json, per stage and per model, and the spend over time (cumulative tokens and cost of each
command, resumes included, a gap where the run was stopped)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from ..models.usage import dir_ledger, format_cost, summarize

COLUMNS = ["", "requests", "cache hits", "prompt tok", "completion tok", "counted by", "refused", "retried"]
COLUMNS += ["seconds", "tok/s", "cost"]


def from_store(store: Any) -> dict[str, Any]:
    """The usage section's data of a run store (``{"available": False}`` without a ledger)."""
    from ..models.usage import StoreSink

    return _section(StoreSink(store).load())


def from_dir(path: Path) -> dict[str, Any]:
    """... of an out dir with usage.json (an evaluation dir; a refine dir: its ranks' files summed)."""
    return _section(dir_ledger(path))


def from_experiment(path: Path) -> dict[str, Any]:
    """... of a whole experiment dir: every stage dir's ledger, summed (api.usage.read_usage)."""
    from ..core.errors import InputError
    from .ledgers import read_usage

    try:
        u = read_usage(path)
    except InputError:  # no stage has a ledger (no stage called a model)
        return {"available": False}
    return {"available": bool(u["rows"]), **u}


def _section(data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("rows"):
        return {"available": False}
    return {"available": True, **summarize(data)}


def _cost(u: dict[str, Any], currency: str) -> str:
    return "-" if u.get("cost") is None else format_cost(u["cost"], currency)


def _row(name: str, u: dict[str, Any], currency: str) -> list[Any]:
    tps = u.get("tokens_per_second")
    return [
        name,
        u["requests"],
        u["cache_hits"],
        f"{u['prompt_tokens']:,}",
        f"{u['completion_tokens']:,}",
        u.get("tokens_from") or "-",
        u["refused"],
        u["retried"],
        u["wall_seconds"],
        "-" if tps is None else f"{tps:,.0f}",
        _cost(u, currency),
    ]


def over_time(u: dict[str, Any]) -> go.Figure:
    """Cumulative tokens (and cost, when priced) of each command against wall-clock minutes."""
    series = u.get("series") or []
    fig = go.Figure()
    if series:
        t0 = min(p["time"] for p in series)
        for stage in dict.fromkeys(p["stage"] for p in series):
            pts = [p for p in series if p["stage"] == stage]
            fig.add_trace(
                go.Scatter(
                    x=[(p["time"] - t0) / 60 for p in pts],
                    y=[p["prompt_tokens"] + p["completion_tokens"] for p in pts],
                    mode="lines+markers",
                    name=f"{stage or 'run'}: tokens",
                )
            )
            if any(p.get("cost") is not None for p in pts):
                fig.add_trace(
                    go.Scatter(
                        x=[(p["time"] - t0) / 60 for p in pts],
                        y=[p.get("cost") for p in pts],
                        mode="lines",
                        name=f"{stage or 'run'}: cost ({u.get('currency', 'USD')})",
                        yaxis="y2",
                        line={"dash": "dot"},
                    )
                )
    fig.update_layout(
        title={"text": "Spend over time (all runs of each command, resumes included)", "x": 0.01},
        template="plotly_white",
        height=360,
        margin={"l": 60, "r": 60, "t": 50, "b": 50},
        xaxis={"title": "minutes since the first request"},
        yaxis={"title": "tokens (prompt + completion)"},
        yaxis2={"title": "cost", "overlaying": "y", "side": "right", "showgrid": False},
    )
    return fig


def render(
    page: Any, u: dict[str, Any], table: Any, *, title: str = "Usage", sid: str = "usage", explain: str = ""
) -> None:
    """Append the usage section to ``page`` (reports/html.Page); ``table``: html.html_table;
    ``explain``: said before the usual explanation."""
    if not u.get("available"):
        return
    cur = u.get("currency", "USD")
    rows = [_row(k, v, cur) for k, v in u["stages"].items()]
    rows += [_row(f"model {k}", v, cur) for k, v in u["models"].items()]
    rows.append(_row("total", u["total"], cur))
    t = u["total"]
    stops = "".join(
        f"<p>Stopped at a cap in {html.escape(str(s.get('stage') or '-'))}: {s.get('total_tokens', 0):,} tokens"
        + (f", cost {s['cost']}" if s.get("cost") is not None else "")
        + "; resumed by the same command under a higher cap.</p>"
        for s in u.get("stops", [])
    )
    page.section(
        title,
        table(COLUMNS, rows),
        stops,
        page.fig(over_time(u)),
        sid=sid,
        explain=explain
        + (
            f"The usage ledger, summed over every run of each command (a resume adds to it). Requests are "
            f"answers the model gave; cache hits cost nothing (they saved "
            f"{t['saved_prompt_tokens'] + t['saved_completion_tokens']:,} tokens). Tokens are the server's "
            "usage where it reports one, else the tokenizer's count (counted by). `instructforge usage DIR` "
            "prints the same table."
        ),
    )
