"""The Python API of evaluation, comparison, reports and scoring.

``instructforge evaluate superni|user-oriented``, ``compare``, ``report`` and ``score`` are thin
shells over these functions. Each takes its settings as a config dataclass (the fields of the
command's flags, ``--set`` and ``--config``; ``instructforge config show COMMAND`` lists them),
the model as a spec or a ``ModelConfig`` plus its options as keywords, checks every input before
it writes anything, writes the resolved settings as ``config.yaml`` into the directory it fills,
and returns what the command prints::

    from instructforge.api.evaluate import evaluate_superni
    from instructforge.evaluate.superni import SuperNIConfig

    res = evaluate_superni("superni-test", out="eval/base", model="openai:llama",
                           base_url="http://localhost:8000/v1", config=SuperNIConfig(max_instances=10))
    res["overall"]["rougeL"]
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import write_json, write_jsonl
from ..core.settings import as_dict
from ..data import outdir
from ..data.outdir import RESULTS as RESULTS  # re-exported for cli/
from ..data.outdir import RUN_DB as RUN_DB
from ..data.outdir import SCORES as SCORES
from ..data.outdir import SUMMARY as SUMMARY
from ..data.outdir import write_config
from ..evaluate.compare import CompareConfig
from ..evaluate.compare import default_out as default_out  # re-exported for cli/
from ..evaluate.superni import SuperNIConfig
from ..evaluate.user_oriented import UserOrientedConfig
from ..models.modelconfig import ModelConfig
from ..quality.config import ScoreConfig
from ..reports.rundata import ReportConfig
from .run import model_config
from .usage import file_sink, track

__all__ = ["call_stats", "compare", "evaluate_superni", "evaluate_user_oriented", "report", "score"]


def call_stats(d: dict[str, Any]) -> Any:
    """The ``llm.Stats`` of a ``generation`` entry in a result (for ``print_llm_summary``)."""
    from ..models.client import Stats

    names = {f.name for f in dataclasses.fields(Stats)}
    return Stats(**{k: v for k, v in d.items() if k in names})


# -- evaluation ------------------------------------------------------------------------------------


def evaluate_superni(
    tasks_dir: str | Path,
    *,
    out: str | Path,
    model: str | ModelConfig | None = "embedded",
    config: SuperNIConfig | None = None,
    predictions: str | Path | None = None,
    **model_options: Any,
) -> dict[str, Any]:
    """SuperNI (Self-Instruct section 5.2): ROUGE-L and exact match per task, per category and
    overall, scored as the official script does. ``tasks_dir``: a folder of task files or the dataset
    name ``superni-test`` (fetched on first use; only the tasks in ``config.only`` where given). ``predictions``: a JSONL file of ``{id,
    prediction}`` to score instead of calling a model (``model`` is then left at its default).
    Writes ``results.json`` (returned), ``predictions.jsonl`` and ``config.yaml`` into ``out``."""
    from ..data.datasets import resolve
    from ..evaluate.superni import load_predictions, load_tasks, predict
    from ..evaluate.superni import score as score_predictions

    cfg = config if config is not None else SuperNIConfig()
    out = Path(out)
    # a dataset name (superni-test) is fetched here, only the tasks in cfg.only where given
    tasks = load_tasks(resolve(tasks_dir, only=cfg.only), cfg.max_instances, cfg.only)
    if predictions is not None:
        spec = model.model if isinstance(model, ModelConfig) else model
        if model_options or spec not in (None, "embedded"):
            raise InputError("evaluate superni: give a model or predictions, not both")
        preds = load_predictions(Path(predictions), tasks)
        results, rows = score_predictions(tasks, preds, f"predictions:{predictions}")
        mcfg = None
    else:
        mcfg = model_config(model, model_options)
        llm = mcfg.open()
        try:
            track("evaluate superni", file_sink(out), llm)
            t0 = time.perf_counter()
            preds = predict(llm, tasks, cfg)
            seconds = time.perf_counter() - t0
        finally:
            llm.close()
        results, rows = score_predictions(tasks, preds, mcfg.model)
        results["model_id"] = llm.model_id
        results["generation"] = {"seconds": round(seconds, 2), **llm.stats.as_dict()}
    out.mkdir(parents=True, exist_ok=True)
    write_config(
        out / outdir.CONFIG,
        {
            "command": "evaluate superni",
            "tasks": str(tasks_dir),
            "predictions": str(predictions) if predictions is not None else None,
            "superni": as_dict(cfg),
            "model": mcfg.public() if mcfg is not None else None,
        },
    )
    write_jsonl(out / outdir.PREDICTIONS, rows)
    write_json(out / outdir.RESULTS, results)
    return results


def evaluate_user_oriented(
    data: str | Path,
    *,
    out: str | Path,
    model: str | ModelConfig | None = "embedded",
    config: UserOrientedConfig | None = None,
    **model_options: Any,
) -> dict[str, Any]:
    """The user-oriented instructions (Self-Instruct section 5.3): ``model`` answers, the judge
    (``config.judge``, required; on ``config.judge_base_url`` or the model's server) rates every
    answer A-D. Writes ``results.json`` (returned; ``generation`` holds the call statistics of
    both models), ``ratings.jsonl`` and ``config.yaml`` into ``out``."""
    from ..evaluate.user_oriented import answer_and_rate, load_items, summarise
    from ..models.backends import parse_spec

    cfg = config if config is not None else UserOrientedConfig()
    if not cfg.judge:
        raise InputError(
            "evaluate user-oriented: no judge model: give --judge SPEC (Python: config=UserOrientedConfig(judge=SPEC))"
        )
    out = Path(out)
    mcfg = model_config(model, model_options)
    jcfg = dataclasses.replace(mcfg, model=cfg.judge, base_url=cfg.judge_base_url or mcfg.base_url)
    parse_spec(mcfg.model)
    parse_spec(jcfg.model)
    from ..data.datasets import resolve

    items = load_items(resolve(data), cfg.max_instructions)
    answers, ratings, llm, jllm = answer_and_rate(mcfg, jcfg, items, cfg, file_sink(out))
    results, rows = summarise(items, answers, ratings, mcfg.model, cfg.judge)
    results["generation"] = {"answers": llm.stats.as_dict(), "judge": jllm.stats.as_dict()}
    out.mkdir(parents=True, exist_ok=True)
    write_config(
        out / outdir.CONFIG,
        {
            "command": "evaluate user-oriented",
            "data": str(data),
            "user_oriented": as_dict(cfg),
            "model": mcfg.public(),
            "judge": jcfg.public(),
        },
    )
    write_jsonl(out / outdir.RATINGS, rows)
    write_json(out / outdir.RESULTS, results)
    return results


def compare(
    eval_a: str | Path, eval_b: str | Path, *, out: str | Path | None = None, config: CompareConfig | None = None
) -> dict[str, Any]:
    """Per-task comparison of two evaluation dirs (REFINE-AF's headline): deltas B - A, the
    win/tie/loss shares of B and paired bootstrap intervals over tasks. The comparison (returned)
    is written as JSON to ``out`` (default: ``EVAL_B/compare_vs_<name of EVAL_A>.json``)."""
    from ..evaluate import compare as cmp

    res = cmp.compare(Path(eval_a), Path(eval_b), config if config is not None else CompareConfig())
    write_json(Path(out) if out is not None else cmp.default_out(Path(eval_a), Path(eval_b)), res)
    return res


def report(path: str | Path, *, out: str | Path | None = None, config: ReportConfig | None = None) -> Path:
    """The self-contained HTML report of a generate run dir, an evaluation dir (results.json) or
    a compare JSON file, with its chart data as JSON next to it. ``out``: the page (default:
    ``report.html`` inside ``path``, or next to a JSON file). Returns the page's path."""
    from ..reports.html import build_report

    path = Path(path)
    target = Path(out) if out is not None else (path if path.is_dir() else path.parent) / outdir.REPORT
    return build_report(path, target, config if config is not None else ReportConfig())


# -- scoring -------------------------------------------------------------------------------------


def score(
    run_dir: str | Path | None = None,
    *,
    data: str | Path | None = None,
    out: str | Path | None = None,
    model: str | ModelConfig | None = "embedded",
    config: ScoreConfig | None = None,
    **model_options: Any,
) -> dict[str, Any]:
    """REFINE-AF's automated feedback, Self-Instruct's quality audit and deterministic checks for
    every instance of the run ``run_dir``, or of the data file ``data`` (then ``out`` is required
    and becomes a run store of its records). The judge is ``model`` (or ``config.judge``; one of
    them); ``config.reward_model`` adds a real reward model. Resumable: call again to continue.

    Writes ``scores.jsonl``, ``summary.json`` and ``config.yaml`` into ``out`` (default
    ``RUN_DIR/score``); the scores go into the run store. Returns ``summary`` (summary.json),
    ``counts`` (``items``, ``stored``, ``scored``, ``failed``: instances the judge returned errors
    for, retried by the next call), the judge, the Rew source, the paths and the judge's ``calls``.
    """
    from ..models.backends import parse_spec
    from ..quality.runner import run_score

    cfg = config if config is not None else ScoreConfig()
    mcfg = model_config(model, model_options)
    if cfg.judge is not None:
        if mcfg.model not in ("embedded", cfg.judge):
            raise InputError(
                f"score: two judges ({mcfg.model} and {cfg.judge}): give --judge or --model "
                "(the same setting), not both"
            )
        mcfg = dataclasses.replace(mcfg, model=cfg.judge)
    cfg = dataclasses.replace(cfg, judge=mcfg.model)
    parse_spec(mcfg.model)
    if (run_dir is None) == (data is None):
        raise InputError("score: give a run directory or data=FILE (one of them)")
    from ..data.datasets import resolve

    return run_score(
        mcfg,
        cfg,
        run_dir=Path(run_dir) if run_dir is not None else None,
        data=resolve(data) if data is not None else None,  # a dataset name (alpaca) is fetched here
        out=Path(out) if out is not None else None,
    )


def superni_stage(
    out: Path, model: ModelConfig, config: Any, tasks: Path | str, predictions: Path | None = None
) -> Path:
    """``evaluate superni`` as an experiment stage (``tasks``: a folder or a dataset name)."""
    evaluate_superni(tasks, out=out, model=model, config=config, predictions=predictions)
    return out


def user_oriented_stage(out: Path, model: ModelConfig, config: Any, data: Path | str) -> Path:
    """``evaluate user-oriented`` as an experiment stage."""
    evaluate_user_oriented(data, out=out, model=model, config=config)
    return out


def compare_stage(out: Path, config: Any, a: Path, b: Path) -> Path:
    """``compare`` as an experiment stage: OUT/compare.json."""
    from .registry import stage_output

    target = stage_output("compare", out, {})
    out.mkdir(parents=True, exist_ok=True)
    compare(a, b, out=target, config=config)
    return target


def report_stage(out: Path, config: Any, path: Path | None = None) -> Path:
    """``report`` as an experiment stage; without ``path``: the experiment's own report (every
    comparison and evaluation so far)."""
    from .registry import stage_output

    out.mkdir(parents=True, exist_ok=True)
    return Path(report(path or out.parent, out=stage_output("report", out, {}), config=config))
