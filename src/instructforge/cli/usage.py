"""``instructforge usage PATH [--json]``: the usage ledger of a run dir, an out dir (usage.json)
or an experiment (its stages summed): requests, cache hits, tokens, cost, per stage and model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..api.usage import format_cost
from ..core import ui


def _cost(u: dict[str, Any], currency: str) -> str:
    if u.get("cost") is None:
        return "-"
    text = format_cost(u["cost"], currency) if currency != "mixed" else f"{u['cost']:.4f}"
    return text + (" (part)" if u.get("unpriced_tokens") else "")


def _row(name: str, u: dict[str, Any], currency: str) -> list[Any]:
    tps = u["tokens_per_second"]
    return [
        name,
        u["requests"],
        u["cache_hits"],
        f"{u['prompt_tokens']:,}",
        f"{u['completion_tokens']:,}",
        f"{u['refused']}/{u['retried']}",
        f"{u['wall_seconds']:.1f}",
        f"{tps:,.0f}" if tps is not None else "-",
        _cost(u, currency),
    ]


COLUMNS = ["", "requests", "cache hits", "prompt tok", "completion tok", "refused/retried", "seconds", "tok/s", "cost"]


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the ledger as JSON: total, stages, models (and rows).")
def usage(path: Path, as_json: bool) -> None:
    """What the model calls behind PATH cost: a run dir, an out dir with usage.json, or an
    experiment dir (every stage summed). Cache hits are not spend: their tokens are shown as saved.

    Example: instructforge usage runs/si --json
    """
    from ..api.usage import read_usage

    led = read_usage(path)
    if as_json:
        click.echo(
            json.dumps({k: led[k] for k in ("total", "stages", "models", "currency", "rows", "stops")}, indent=2)
        )
        return
    cur = led["currency"]
    rows = [_row(k, v, cur) for k, v in led["stages"].items()]
    rows += [_row(f"model {k}", v, cur) for k, v in led["models"].items()]
    rows.append(_row("total", led["total"], cur))
    ui.console.print(ui.table(f"usage: {path} ({cur})", COLUMNS, rows))
    t = led["total"]
    saved = f"{t['saved_prompt_tokens'] + t['saved_completion_tokens']:,} tokens"
    if t["cost"] is not None:
        saved += f", {format_cost(t['saved_cost'], cur)}"
    click.echo(
        f"total: {t['requests']} requests, {t['cache_hits']} cache hits (saved {saved}), "
        f"{t['total_tokens']:,} tokens (counted by: {t.get('tokens_from') or '-'}), cost {_cost(t, cur)}"
    )
    for s in led["stops"]:
        click.echo(
            f"stopped at a cap in {s.get('stage') or '-'}: {s.get('total_tokens', 0):,} tokens"
            + (f", cost {s['cost']}" if s.get("cost") is not None else "")
        )
