"""``instructforge finetune``: TRL SFT + LoRA on exported data (a thin shell over ``api.train.finetune``)."""

from __future__ import annotations

import functools
import json
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import ui
from ..cli_config import SETTINGS_ATTR, settings_command
from .sft import SFTConfig

_SCIENTIFIC = re.compile(r"\s*([-+]?)(\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)\s*")


def yaml11_number(text: str) -> str:
    """``2e-4`` spelled so that YAML 1.1 reads a number (``2.0e-4``); other text unchanged.

    >>> yaml11_number("2e-4"), yaml11_number("1.5E3"), yaml11_number("0.1"), yaml11_number("abc")
    ('2.0e-4', '1.5e+3', '0.1', 'abc')
    """
    m = _SCIENTIFIC.fullmatch(text)
    if m is None:
        return text
    sign, whole, frac, exp_sign, exp = m.groups()
    return f"{sign}{whole}.{frac or '0'}e{exp_sign or '+'}{exp}"


def _is_number(t: Any) -> bool:
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        return any(_is_number(a) for a in typing.get_args(t))
    return t is float


def scientific_numbers(func: Callable[..., Any]) -> Callable[..., Any]:
    """WORK-AROUND for config.parse_text, to drop once it reads ``1e-3`` as a number: flag and
    ``--set`` values are read as YAML 1.1, where ``2e-4`` is text (only ``2.0e-4`` is a number),
    so ``--lr 2e-4`` would be refused. Respells such values of number settings before the
    settings are resolved. Goes directly above ``@settings_command``."""
    numbers = {s.name for s in getattr(func, SETTINGS_ATTR).specs.values() if _is_number(s.type)}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name in numbers:
            dest = "flag__" + name.replace(".", "__")
            if isinstance(kwargs.get(dest), str):
                kwargs[dest] = yaml11_number(kwargs[dest])
        pairs = []
        for pair in kwargs.get("settings_set") or ():
            name, sep, raw = pair.partition("=")
            pairs.append(f"{name}={yaml11_number(raw)}" if sep and name.strip().replace("-", "_") in numbers else pair)
        if "settings_set" in kwargs:
            kwargs["settings_set"] = tuple(pairs)
        return func(*args, **kwargs)

    return wrapper


@click.command()
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Exported data: alpaca JSON list, messages JSONL, prompt-completion JSONL or an hf dataset dir.")
@click.option("--model", default="embedded", show_default=True, help="Base model: embedded | hf:DIR.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output dir (use as --model hf:DIR).")
@scientific_numbers
@settings_command("finetune", cfg=SFTConfig)
def finetune(data: Path, model: str, out_dir: Path, cfg: SFTConfig) -> None:
    """Supervised fine-tuning on exported instruction data; the loss covers the answer only.

    Example: instructforge finetune --data runs/demo/exports/alpaca.json --out models/demo-sft
    """
    from ..api.train import finetune as run_finetune

    out = run_finetune(data, out=out_dir, model=model, config=cfg)
    s = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    ui.show(ui.table("finetune", ["format", "examples", "steps", "first loss", "last loss", "seconds"],
                     [[s["format"], s["examples"], s["steps"], s["first_loss"], s["last_loss"], s["train_seconds"]]]))
    click.echo(str(out))
