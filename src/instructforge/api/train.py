"""The Python API of training: REFINE-AF's RL stage (``refine``) and SFT (``finetune``).

The ``instructforge refine`` and ``instructforge finetune`` commands are thin shells over these
functions. Each checks its inputs before writing anything, writes the resolved config into the
out dir (``config.yaml``) and returns the out dir, which works as ``model="hf:DIR"`` everywhere.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..data.outdir import REFINE_SUMMARY as REFINE_SUMMARY  # re-exported for cli/
from ..data.outdir import TRAIN_SUMMARY as TRAIN_SUMMARY
from ..models.modelconfig import ModelConfig
from ..train.distributed import is_main as is_main  # rank 0 reports for all (cli/)
from ..train.refine_config import RefineConfig
from ..train.sft import SFTConfig
from .run import model_config


def judge_config(cfg: RefineConfig, options: dict[str, Any]) -> ModelConfig:
    """The judge's client: ``cfg.judge`` with ModelConfig fields from ``options`` (``base_url=``,
    ``cache=`` ...); ``cfg.judge_base_url``, when set, wins over ``options["base_url"]``."""
    if "model" in options:
        raise TypeError("the judge is RefineConfig.judge; model= is the policy")
    judge = model_config(cfg.judge, options)
    if cfg.judge_base_url:
        judge = dataclasses.replace(judge, base_url=cfg.judge_base_url)
    return judge


def refine(
    run_dir: str | Path,
    *,
    out: str | Path,
    model: str = "embedded",
    config: RefineConfig | None = None,
    resume: bool = False,
    **judge_options: Any,
) -> Path:
    """REFINE-AF stage 2: train the instance writer of ``run_dir``'s accepted instructions with
    RL from automated feedback (GRPO or RLOO + LoRA). ``model``: the policy (``embedded`` or
    ``hf:DIR``); the judge, reward model and UniEval dir are ``config`` fields
    (``RefineConfig.judge``, ``reward_model``, ``unieval``); ``judge_options``: ModelConfig
    fields of the judge's client (``base_url=``, ``concurrency=``, ``batch_size=``, ``cache=``).
    ``resume``: continue from the latest checkpoint in ``out`` (without it, an ``out`` with
    checkpoints is an InputError, unless the run there was stopped by its caps and did not
    finish since: that one resumes, so the same command under a higher cap continues it). Returns ``out``: the LoRA adapter, ``config.yaml``,
    ``reward_log.jsonl``, ``reward_curve.json``, ``refine_summary.json``, ``checkpoints/``.

    >>> # adapter = instructforge.refine("runs/si", out="runs/si-refined",
    >>> #                                config=RefineConfig(steps=20, judge="openai:llama"),
    >>> #                                base_url="http://localhost:8000/v1")
    """
    from ..feedback.factory import build_scorers
    from ..train import refine as rl
    from ..train.common import local_model_dir
    from ..train.distributed import quiet_others

    quiet_others()  # several training processes (torchrun / accelerate launch): rank 0 speaks
    cfg = config or RefineConfig()
    judge = judge_config(cfg, judge_options)
    run_dir, out = Path(run_dir), Path(out)
    tasks = rl.load_tasks(run_dir, cfg)  # not a run / an empty run: an InputError before anything is loaded
    local_model_dir(model, "refine")
    if not resume and budget_stopped(out):
        resume = True  # a run its --max-total-tokens / --budget stopped: the same command continues it
        ui.info(f"refine: {out} was stopped by its budget; resuming from its latest checkpoint")
    if rl.latest_checkpoint(out) is not None and not resume:
        raise InputError(f"{out}: has checkpoints from an earlier run; pass --resume to continue or use a new --out")
    scorers, label, llm = build_scorers(judge, cfg.reward_model, cfg.unieval, top_logprobs=cfg.judge_top_logprobs)
    if llm is not None:
        from ..train.distributed import rank
        from .usage import other_ranks, rank_sink, track

        # one ledger file per rank (rank 0: usage.json), summed by read_usage: each rank's calls
        # count once; the caps also count what the other ranks' files held at the start
        ledger = track("refine", rank_sink(out, rank()), llm)
        for data in other_ranks(out, rank()):
            ledger.count_elsewhere(data)
    ui.info(f"refine: {len(tasks)} instructions, {cfg.algo}, {cfg.steps} steps; Rew = {label}")
    try:
        rl.refine(
            run_dir,
            out,
            model=model,
            scorers=scorers,
            cfg=cfg,
            resume=resume,
            rew_label=label,
            extra_config={"judge_model": judge.public()},
        )
    finally:
        if llm is not None:
            llm.close()
    return out


def budget_stopped(out: str | Path) -> bool:
    """Whether ``out`` holds a refine run its caps stopped and that has not finished since: a
    stop in its ledger (any rank's) and no ``refine_summary.json``. Such a run resumes under the
    same command (a higher cap, or none) without ``--resume``."""
    from .usage import dir_ledger

    out = Path(out)
    if not out.is_dir() or (out / REFINE_SUMMARY).is_file():
        return False
    return bool(dir_ledger(out).get("stops"))


def finetune(data: str | Path, *, out: str | Path, model: str = "embedded", config: SFTConfig | None = None) -> Path:
    """Supervised fine-tuning (TRL SFT + LoRA, loss on the answer only) of ``model``
    (``embedded`` or ``hf:DIR``) on exported data (alpaca JSON, messages or prompt-completion
    JSONL, or an hf dataset dir). A bad file is an InputError naming FILE:LINE before anything
    is written. Returns ``out``: the adapter (or merged weights with ``merge``), ``config.yaml``,
    ``train_log.jsonl`` and ``train_summary.json``.

    >>> # model_dir = instructforge.finetune("si.json", out="models/si-sft", config=SFTConfig(epochs=1))
    """
    from ..train import sft

    out = Path(out)
    sft.finetune(Path(data), out, model=model, cfg=config or SFTConfig())
    return out


def refine_stage(out: Path, model: ModelConfig, config: Any, run: Path) -> Path:
    """``refine`` as an experiment stage (resumes from its checkpoints). ``model`` is the policy;
    its other settings (base_url, caps, price, currency, cache ...) are the judge's client's, as
    with the ``refine`` command's flags."""
    judge_options = {k: v for k, v in dataclasses.asdict(model).items() if k != "model"}
    return Path(
        refine(
            run,
            out=out,
            model=model.model,
            config=config,
            resume=(out / "checkpoints").is_dir(),
            **judge_options,
        )
    )


def finetune_stage(out: Path, model: ModelConfig, config: Any, data: Path) -> Path:
    """``finetune`` as an experiment stage."""
    return Path(finetune(data, out=out, model=model.model, config=config))
