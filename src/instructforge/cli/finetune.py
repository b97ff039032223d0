"""``instructforge finetune``: TRL SFT + LoRA on exported data (a thin shell over ``api.train.finetune``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..api.train import TRAIN_SUMMARY, SFTConfig
from ..core import ui
from .settings import settings_command


@click.command()
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="Exported data: alpaca JSON list, messages JSONL, prompt-completion JSONL or an hf dataset dir.",
)
@click.option("--model", default="embedded", show_default=True, help="Base model: embedded | hf:DIR.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output dir (use as --model hf:DIR)."
)
@settings_command("finetune", cfg=SFTConfig)
def finetune(data: Path, model: str, out_dir: Path, cfg: SFTConfig) -> None:
    """Supervised fine-tuning on exported instruction data; the loss covers the answer only.

    Example: instructforge finetune --data runs/demo/exports/alpaca.json --out models/demo-sft

    Several processes: torchrun --nproc_per_node 8 -m instructforge finetune ... (or accelerate
    launch -m instructforge finetune ...); --batch-size stays the global batch (docs/scaling.md).
    """
    from ..api.train import finetune as run_finetune
    from ..api.train import is_main

    out = run_finetune(data, out=out_dir, model=model, config=cfg)
    if not is_main():  # under torchrun / accelerate launch: rank 0 reports for all
        return
    s = json.loads((out / TRAIN_SUMMARY).read_text(encoding="utf-8"))
    ui.show(
        ui.table(
            "finetune",
            ["format", "examples", "steps", "first loss", "last loss", "processes", "seconds"],
            [
                [
                    s["format"],
                    s["examples"],
                    s["steps"],
                    s["first_loss"],
                    s["last_loss"],
                    s["world_size"],
                    s["train_seconds"],
                ]
            ],
        )
    )
    click.echo(str(out))
