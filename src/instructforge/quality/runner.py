"""The ``instructforge score`` runner: read and check the input (a run store, or a data file that
becomes one), open the judge, score every accepted instance (scoring.py), then write
``scores.jsonl``, ``summary.json`` and ``config.yaml`` and the store's ``score`` meta.

``api.evaluate.score`` builds the settings and calls ``run_score``; docs/score.md.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.io import write_json, write_jsonl
from ..core.settings import as_dict
from ..data import outdir
from ..data.formats import read_triples
from ..data.store import RunStore
from ..feedback.scorers import reward_model_dir
from ..models.modelconfig import ModelConfig
from ..models.usage import StoreSink, track
from .config import ScoreConfig
from .data import SOURCE_META, check_out_dir, import_data
from .scoring import Item, build_scorer, current_scores, score_store, store_items
from .summary import row, score_section


def run_items(run_dir: Path) -> list[Item]:
    """The accepted instances of a run dir to score; an InputError when there are none."""
    try:
        with RunStore(run_dir, create=False) as st:
            items = store_items(st)
    except sqlite3.DatabaseError as e:
        raise InputError.at(run_dir / outdir.RUN_DB, None, f"not a readable run store ({e})") from None
    if not items:
        raise InputError(
            f"{run_dir / outdir.RUN_DB}: the run has no accepted instances to score yet "
            "(run `instructforge generate` first)"
        )
    return items


def write_outputs(
    out: Path, pairs: list[tuple[Any, Any]], items: int, cfg: ScoreConfig, lines: list[int] | None
) -> dict[str, Any]:
    """scores.jsonl and summary.json in ``out``; returns the summary."""

    def extra(it: Any) -> dict[str, Any]:
        if lines is None:
            return {}
        n = int(it.task_key[1:])  # `score --data` task keys are d<record number>
        return {"record": n, "line": lines[n - 1]}

    write_jsonl(out / outdir.SCORES, [row(i, r, extra(i)) for i, r in pairs])
    summary = score_section(pairs, items, cfg.report_records)
    write_json(out / outdir.SUMMARY, summary)
    return summary


def run_score(
    mcfg: ModelConfig, cfg: ScoreConfig, *, run_dir: Path | None, data: Path | None, out: Path | None
) -> dict[str, Any]:
    """Score the run ``run_dir`` or the data file ``data`` (then ``out`` holds its run store) with
    the judge ``mcfg`` (already reconciled with ``cfg.judge``); see ``api.evaluate.score``."""
    # Everything is read and checked before anything is written.
    rm_dir = reward_model_dir(cfg.reward_model) if cfg.reward_model else None
    if data is not None:
        if out is None:
            raise InputError("score: data=FILE needs out=DIR")
        fmt, recs = read_triples(data)
        store_dir = out_dir = out
        check_out_dir(out_dir, data)
    else:
        assert run_dir is not None
        store_dir = run_dir
        run_items(store_dir)
        out_dir = out if out is not None else store_dir / outdir.SCORE_DIR
    llm = mcfg.open()
    try:
        scorer, label = build_scorer(llm, rm_dir, cfg)
        store = RunStore(store_dir)
        try:
            track("score", StoreSink(store), llm)  # the usage ledger lives in the run store
            if data is not None:
                import_data(store, data, fmt, recs)
            lines = (store.get_meta(SOURCE_META) or {}).get("lines")
            items = store_items(store)
            outdir.write_config(
                out_dir / outdir.CONFIG,
                {
                    "command": "score",
                    "run_dir": str(run_dir) if run_dir is not None else None,
                    "data": str(data) if data is not None else None,
                    "judge": mcfg.public(),
                    "judge_id": llm.model_id,
                    "reward_model": cfg.reward_model,
                    "rew_source": label,
                    "fingerprint": scorer.fingerprint,
                    "score": as_dict(cfg),
                },
            )
            ui.info(
                f"score: {len(items)} instances; judge {mcfg.model}; Rew = {label}"
                + ("" if rm_dir else " (the judge stands in for the reward model: no --reward-model)")
            )
            counts = score_store(store, scorer, items, on_chunk=lambda done, total: ui.info(f"scored {done}/{total}"))
            store.set_meta(
                "score",
                {
                    "judge": mcfg.model,
                    "judge_id": llm.model_id,
                    "reward_model": cfg.reward_model,
                    "rew_source": label,
                    "fingerprint": scorer.fingerprint,
                    "threshold": cfg.threshold,
                    **counts,
                },
            )
            summary = write_outputs(out_dir, current_scores(store, items), len(items), cfg, lines)
        finally:
            store.close()
    finally:
        llm.close()
    return {
        "summary": summary,
        "counts": counts,
        "judge": mcfg.model,
        "judge_id": llm.model_id,
        "reward_model": cfg.reward_model,
        "rew_source": label,
        "out": str(out_dir),
        "store": str(store_dir),
        "calls": llm.stats.as_dict(),
    }
