"""``instructforge refine``: the REFINE-AF RL stage (a thin shell over rl.refine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import ui
from ..errors import InputError


def build_scorers(judge: str, reward_model: str | None, unieval: Path | None, *, top_logprobs: int = 20,
                  batch_size: int = 16, use_cache: bool = True) -> tuple[list[Any], str, Any]:
    """(scorers, label of the Rew source, judge LLM or None). Validates the dirs before loading."""
    from ..backends import parse_spec
    from .feedback import (
        DIMENSIONS,
        JudgeScorer,
        RewardModelScorer,
        UniEvalScorer,
        check_sequence_classifier,
    )

    rm_dir = None
    if reward_model is not None:
        kind, arg = parse_spec(reward_model)
        if kind != "hf":
            raise InputError(f"--reward-model must be hf:DIR (a local sequence-classification model), not {reward_model!r}")
        rm_dir = Path(arg)
        if not rm_dir.is_dir():
            raise InputError(f"{rm_dir}: reward model directory not found")
        check_sequence_classifier(rm_dir)
    if unieval is not None and not (unieval / "config.json").is_file():
        raise InputError(f"{unieval}: not a model dir (no config.json)")
    parse_spec(judge)
    scorers: list[Any] = []
    judge_dims: list[str] = []
    if unieval is not None:
        scorers.append(UniEvalScorer(unieval))
    else:
        judge_dims.extend(DIMENSIONS)
    if rm_dir is not None:
        scorers.append(RewardModelScorer(rm_dir))
        label = f"reward model {rm_dir}"
    else:
        judge_dims.append("overall")
        label = f"SUBSTITUTE: P(yes) of {judge} to an overall-quality question (no --reward-model given)"
    llm = None
    if judge_dims:
        from ..backends import BackendOptions
        from ..llm import open_llm

        llm = open_llm(judge, BackendOptions(batch_size=batch_size), use_cache=use_cache)
        scorers.append(JudgeScorer(llm, judge_dims, top_logprobs=top_logprobs))
    return scorers, label, llm


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--model", default="embedded", show_default=True, help="Policy base: embedded | hf:DIR (LoRA is trained on it).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output dir (adapter, logs, checkpoints).")
@click.option("--judge", default="embedded", show_default=True,
              help="Model asked the yes/no feedback questions (naturalness, coherence, understandability).")
@click.option("--reward-model", default=None, help="hf:DIR of a sequence-classification reward model (paper: oasst-rm-pythia-1.4b).")
@click.option("--unieval", default=None, type=click.Path(path_type=Path), help="Local UniEval checkpoint dir (T5) for the three dimensions.")
@click.option("--steps", default=None, type=click.IntRange(1), help="Optimizer steps [default: 100].")
@click.option("--algo", default=None, type=click.Choice(["grpo", "rloo"]), help="TRL trainer [default: grpo].")
@click.option("--kl-coef", "beta", default=None, type=float, help="KL coefficient beta [default: 0.05].")
@click.option("--config", "config_file", default=None, type=click.Path(path_type=Path), help="YAML file of RefineConfig fields.")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --out.")
@click.option("--no-cache", is_flag=True, help="Do not cache the judge's answers.")
def refine(run_dir: Path, model: str, out_dir: Path, judge: str, reward_model: str | None, unieval: Path | None,
           steps: int | None, algo: str | None, beta: float | None, config_file: Path | None, resume: bool,
           no_cache: bool) -> None:
    """Train the instance writer of RUN_DIR's instructions with RL from automated feedback.

    Example: instructforge refine runs/demo --model embedded --out runs/demo-refined --steps 20
    """
    from ..backends import parse_spec
    from .rl import RefineConfig, latest_checkpoint, load_config_file, load_prompts
    from .rl import refine as run_refine

    parse_spec(model)
    overrides: dict[str, Any] = load_config_file(config_file) if config_file else {}
    for k, v in (("steps", steps), ("algo", algo), ("beta", beta)):
        if v is not None:
            overrides[k] = v
    cfg = RefineConfig(**overrides)
    prompts = load_prompts(run_dir)  # empty run -> exit 2 before anything is loaded or written
    if latest_checkpoint(out_dir) is not None and not resume:
        raise InputError(f"{out_dir}: has checkpoints from an earlier run; pass --resume to continue or use a new --out")
    scorers, label, llm = build_scorers(judge, reward_model, unieval, top_logprobs=cfg.judge_top_logprobs,
                                        use_cache=not no_cache)
    ui.info(f"refine: {len(prompts)} instructions, {cfg.algo}, {cfg.steps} steps; Rew = {label}")
    try:
        summary = run_refine(run_dir, out_dir, model=model, scorers=scorers, cfg=cfg, resume=resume, rew_label=label,
                             extra_config={"judge": judge, "reward_model": reward_model,
                                           "unieval": str(unieval) if unieval else None})
    finally:
        if llm is not None:
            llm.close()
    ui.show(ui.table("refine", ["steps", "seconds", "final reward", "Rew source"],
                     [[summary["steps"], summary["train_seconds"], summary["final_reward"], label]]))
    click.echo(str(out_dir))
