"""``instructforge finetune``: TRL SFT + LoRA on exported data (a thin shell over train.sft)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import ui


@click.command()
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Exported data: alpaca JSON list, messages JSONL, prompt-completion JSONL or an hf dataset dir.")
@click.option("--model", default="embedded", show_default=True, help="Base model: embedded | hf:DIR.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output dir (use as --model hf:DIR).")
@click.option("--epochs", default=2.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Epochs (paper: 2).")
@click.option("--lr", "learning_rate", default=2e-4, show_default=True, type=float, help="Learning rate (LoRA).")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1), help="Examples per step.")
@click.option("--max-length", default=512, show_default=True, type=click.IntRange(16), help="Max tokens per example.")
@click.option("--max-steps", default=-1, show_default=True, type=int, help="Stop after N steps (-1: all epochs).")
@click.option("--template", default="chat", show_default=True, type=click.Choice(["chat", "raw"]),
              help="chat: train through the chat template; raw: plain prompt + completion text.")
@click.option("--lora-r", default=16, show_default=True, type=click.IntRange(1))
@click.option("--merge", is_flag=True, help="Save merged full weights instead of the LoRA adapter.")
@click.option("--seed", default=0, show_default=True, type=int)
def finetune(data: Path, model: str, out_dir: Path, **kw: Any) -> None:
    """Supervised fine-tuning on exported instruction data; the loss covers the answer only.

    Example: instructforge finetune --data runs/demo/exports/alpaca.json --out models/demo-sft
    """
    from ..backends import parse_spec
    from .sft import SFTSettings
    from .sft import finetune as run_finetune

    parse_spec(model)
    cfg = SFTSettings(**kw)
    s = run_finetune(data, out_dir, model=model, cfg=cfg)
    ui.show(ui.table("finetune", ["format", "examples", "steps", "first loss", "last loss", "seconds"],
                     [[s["format"], s["examples"], s["steps"], s["first_loss"], s["last_loss"], s["train_seconds"]]]))
    click.echo(str(out_dir))
