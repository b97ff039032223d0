"""``instructforge refine``: the REFINE-AF RL stage (a thin shell over ``api.train.refine``).

``--model`` is the policy (embedded or hf:DIR, trained in-process); the other ModelConfig flags
(``--base-url``, ``--concurrency``, ``--batch-size``, ``--no-cache`` ...) are the judge's client
options.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ..api.train import REFINE_SUMMARY, ModelConfig, RefineConfig
from ..core import ui
from .settings import settings_command

__all__ = ["refine"]


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output dir (adapter, logs, checkpoints)."
)
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --out.")
@settings_command("refine", cfg=RefineConfig, model=ModelConfig)
def refine(run_dir: Path, out_dir: Path, resume: bool, cfg: RefineConfig, model: ModelConfig) -> None:
    """Train the instance writer of RUN_DIR's instructions with RL from automated feedback.

    --model is the policy (embedded | hf:DIR; a LoRA adapter is trained on it); the client
    flags (--base-url, --concurrency, --batch-size, --no-cache ...) apply to the judge.

    Example: instructforge refine runs/demo --model embedded --out runs/demo-refined --steps 20

    Several processes: torchrun --nproc_per_node 8 -m instructforge refine ... (or accelerate
    launch -m instructforge refine ...); a step's completions stay prompts_per_step x
    num_generations in all, and --resume works with the same launch command (docs/scaling.md).
    """
    from ..api.train import is_main
    from ..api.train import refine as run_refine

    judge_options = {k: v for k, v in dataclasses.asdict(model).items() if k != "model"}
    out = run_refine(run_dir, out=out_dir, model=model.model, config=cfg, resume=resume, **judge_options)
    if not is_main():  # under torchrun / accelerate launch: rank 0 reports for all
        return
    summary = json.loads((out / REFINE_SUMMARY).read_text(encoding="utf-8"))
    ui.show(
        ui.table(
            "refine",
            ["steps", "processes", "seconds", "final reward", "Rew source"],
            [
                [
                    summary["steps"],
                    summary["world_size"],
                    summary["train_seconds"],
                    summary["final_reward"],
                    summary["reward_model_source"],
                ]
            ],
        )
    )
    click.echo(str(out))
