"""Supervised fine-tuning on exported instruction data (Self-Instruct section 2.2 step 5; REFINE-AF stage 4).

The paper fine-tunes the same base model for 2 epochs with no loss on the prompt. Here: TRL's
SFTTrainer with a LoRA adapter (``peft_config``) and ``completion_only_loss``. Input formats are
the ones ``instructforge export`` writes:

- ``alpaca``: a JSON list of ``{"instruction", "input", "output"}``;
- ``messages``: JSONL ``{"messages": [...]}`` (the last message is the assistant's answer);
- ``prompt-completion``: JSONL ``{"prompt", "completion"}`` (strings);
- ``hf``: a ``datasets`` dir saved by ``export --format hf`` (alpaca columns).

With ``encoding: varied`` (default) instruction/input/output rows are first encoded as
Self-Instruct's step 5 does (templates drawn per example; the export's prompt-completion
format), ``fixed`` joins instruction and input with a blank line. With ``template: chat``
(default) every example goes through the model's chat template as a user/assistant turn, the
way instructforge later queries the model; ``raw`` trains on the plain prompt and completion
text. The out dir holds the LoRA adapter (or, with ``merge``, full
weights) + tokenizer, so ``--model hf:DIR`` works everywhere.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from ..core.errors import InputError
from ..core.io import atomic_write, iter_jsonl
from ..core.settings import as_dict, option, validate
from . import distributed as dist
from .common import fix_adapter_base, local_model_dir, quiet_trainer, set_threads, trainable


@dataclass
class SFTConfig:
    """Every setting of ``instructforge finetune`` (``instructforge config show finetune``)."""

    epochs: float = option(2.0, "Epochs (paper: 2)", min=0, min_open=True, flag=True)
    learning_rate: float = option(
        2e-4,
        "LoRA learning rate (the paper fine-tuned GPT-3 / full LLaMA: not comparable)",
        min=0,
        min_open=True,
        flag="--lr",
    )
    batch_size: int = option(
        8,
        "Examples per optimizer step, over all processes (each of N processes takes "
        "batch_size / (N x gradient_accumulation_steps) per forward pass)",
        min=1,
        flag=True,
    )
    gradient_accumulation_steps: int = option(
        1, "Forward passes per optimizer step (less memory per pass; the step's examples stay batch_size)", min=1
    )
    max_length: int = option(512, "Tokens per example (longer ones are truncated)", min=16, flag=True)
    max_steps: int = option(-1, "Stop after N steps (-1: run all epochs)", min=-1, flag=True)
    template: str = option(
        "chat",
        "chat: train through the chat template; raw: plain prompt + completion text",
        choices=("chat", "raw"),
        flag=True,
    )
    encoding: str = option(
        "varied",
        "Instruction/input/output rows (alpaca, hf): varied = Self-Instruct step 5 (a template drawn "
        "per example, seeded by seed; half the inputs lose a single field label; repeats removed; "
        "selfinstruct.export.finetuning_pairs); fixed = instruction, blank line, input. "
        "messages and prompt-completion files are used as they are",
        choices=("varied", "fixed"),
        flag=True,
    )
    lora_r: int = option(16, "LoRA rank", min=1, flag=True)
    lora_alpha: int = option(32, "LoRA alpha (the update is scaled by alpha / r)", min=1)
    lora_dropout: float = option(0.05, "LoRA dropout", min=0, max=1)
    lora_target_modules: list[str] = option(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], help="Modules that get a LoRA adapter"
    )
    merge: bool = option(False, "Save merged full weights instead of the LoRA adapter", flag=True)
    seed: int = option(0, "Seed of shuffling and initialisation", flag=True)

    def __post_init__(self) -> None:
        validate(self)
        if self.max_steps == 0:
            raise InputError("SFTConfig: max_steps must be -1 (all epochs) or at least 1, not 0")


SFTSettings = SFTConfig  # the former name


def _str(obj: dict[str, Any], key: str, path: Path, line: int, required: bool = True) -> str:
    v = obj.get(key, "" if not required else None)
    if v is None:
        raise InputError.at(path, line, f'missing "{key}"')
    if not isinstance(v, str):
        raise InputError.at(path, line, f'"{key}" must be a string')
    return v


def _alpaca(obj: Any, path: Path, line: int) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise InputError.at(path, line, "expected an object with instruction/input/output")
    rec = {
        "instruction": _str(obj, "instruction", path, line),
        "input": _str(obj, "input", path, line, False),
        "output": _str(obj, "output", path, line),
    }
    if not rec["instruction"].strip() or not rec["output"].strip():
        raise InputError.at(path, line, "empty instruction or output")
    return rec


def _json_list(text: str, path: Path) -> list[tuple[int, Any]]:
    """Elements of a top-level JSON array with the line each starts on."""
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    out: list[tuple[int, Any]] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text):
            raise InputError.at(path, text.count("\n") + 1, "unterminated JSON list")
        if text[i] == "]":
            return out
        line = text.count("\n", 0, i) + 1
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InputError.at(path, e.lineno, f"not valid JSON ({e.msg})") from None
        out.append((line, obj))


def load_examples(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(format name, rows as alpaca / messages / prompt-completion dicts). FILE:LINE errors."""
    if path.is_dir():
        if not (path / "dataset_info.json").is_file():
            raise InputError(f"{path}: a directory must be an HF dataset saved by `export --format hf`")
        from datasets import load_from_disk

        ds = load_from_disk(str(path))
        return "hf", _nonempty([_alpaca(r, path, n) for n, r in enumerate(ds, 1)], path)
    if not path.is_file():
        raise InputError(f"{path}: data file not found")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return "alpaca", _nonempty([_alpaca(o, path, n) for n, o in _json_list(text, path)], path)
    rows: list[dict[str, Any]] = []
    fmt = None
    for n, obj in iter_jsonl(path, text):
        if not isinstance(obj, dict):
            raise InputError.at(path, n, "expected a JSON object")
        kind = (
            "messages"
            if "messages" in obj
            else "prompt-completion"
            if "prompt" in obj
            else "alpaca"
            if "instruction" in obj
            else None
        )
        if kind is None:
            raise InputError.at(path, n, 'expected "messages", "prompt"/"completion" or "instruction"/"output"')
        if fmt is not None and kind != fmt:
            raise InputError.at(path, n, f"{kind} record in a {fmt} file")
        fmt = kind
        if kind == "messages":
            msgs = obj["messages"]
            if (
                not isinstance(msgs, list)
                or len(msgs) < 2
                or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in msgs
                )
            ):
                raise InputError.at(path, n, '"messages" must be a list of >= 2 {"role", "content"} strings')
            if msgs[-1]["role"] != "assistant":
                raise InputError.at(path, n, "the last message must be the assistant's answer")
            rows.append({"messages": [{"role": m["role"], "content": m["content"]} for m in msgs]})
        elif kind == "prompt-completion":
            row: dict[str, Any] = {
                "prompt": _str(obj, "prompt", path, n),
                "completion": _str(obj, "completion", path, n),
            }
            if not row["completion"].strip():
                raise InputError.at(path, n, "empty completion")
            rows.append(row)
        else:
            rows.append(_alpaca(obj, path, n))
    return fmt or "empty", _nonempty(rows, path)


def _nonempty(rows: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    if not rows:
        raise InputError.at(path, 1, "no training examples")
    return rows


def to_trl(rows: list[dict[str, Any]], template: str, encoding: str = "fixed", seed: int = 0) -> list[dict[str, Any]]:
    """TRL prompt-completion records (conversational for ``chat``), so the loss covers the answer only.
    ``encoding`` ``varied``: instruction/input/output rows go through Self-Instruct's step-5
    encoding first (``finetuning_pairs`` with ``seed``), as the export's prompt-completion format."""
    if encoding == "varied" and rows and "instruction" in rows[0]:
        from ..selfinstruct.export import finetuning_pairs

        rows = finetuning_pairs(rows, seed)
    out = []
    for r in rows:
        if "messages" in r:
            out.append({"prompt": r["messages"][:-1], "completion": r["messages"][-1:]})
            continue
        if "prompt" in r:
            prompt, answer = r["prompt"], r["completion"]
        else:
            prompt = r["instruction"] + (f"\n\n{r['input']}" if r["input"].strip() else "")
            answer = r["output"]
        if template == "chat":
            out.append(
                {
                    "prompt": [{"role": "user", "content": prompt.strip()}],
                    "completion": [{"role": "assistant", "content": answer.strip()}],
                }
            )
        else:
            out.append({"prompt": prompt, "completion": answer})
    return out


def finetune(data: Path, out_dir: Path, *, model: str, cfg: SFTConfig) -> dict[str, Any]:
    """Train; returns a summary (losses per step, seconds). Data is validated before any write."""
    fmt, rows = load_examples(data)
    base_dir = local_model_dir(model, "finetune")
    examples = to_trl(rows, cfg.template, cfg.encoding, cfg.seed)
    per_device = dist.per_device(cfg.batch_size, cfg.gradient_accumulation_steps, "batch_size")
    main = dist.is_main()
    dist.quiet_others()

    set_threads()
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    out_dir.mkdir(parents=True, exist_ok=True)
    if main:
        _write_config(out_dir, data, fmt, len(examples), model, base_dir, cfg)
    policy, tok, peft_config, true_base = trainable(
        base_dir, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_target_modules
    )
    losses: list[dict[str, Any]] = []

    class _Log(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if main and logs and "loss" in logs:
                losses.append({"step": int(state.global_step), "epoch": logs.get("epoch"), "loss": logs["loss"]})
                atomic_write(out_dir / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in losses))

    args = TRLSFTConfig(
        output_dir=str(out_dir / "trainer"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        completion_only_loss=True,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        lr_scheduler_type="linear",
        warmup_steps=0,
        activation_checkpointing=False,
        dataloader_pin_memory=False,
        **dist.trainer_args(),
    )
    trainer = SFTTrainer(
        model=policy,
        args=args,
        train_dataset=Dataset.from_list(examples),
        processing_class=tok,
        peft_config=peft_config,
        callbacks=[_Log()],
    )
    quiet_trainer(trainer)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    if cfg.merge:
        if main:
            merged = cast(Any, trainer.accelerator.unwrap_model(trainer.model)).merge_and_unload()
            merged.save_pretrained(str(out_dir), safe_serialization=True)
            (out_dir / "adapter_config.json").unlink(missing_ok=True)
    else:
        trainer.save_model(str(out_dir))  # every rank calls it (DeepSpeed/FSDP gather); rank 0 writes
        if main:
            fix_adapter_base(out_dir, true_base)
    summary = {
        "format": fmt,
        "examples": len(examples),
        "steps": trainer.state.global_step,
        "epochs": cfg.epochs,
        "train_seconds": round(seconds, 2),
        "first_loss": losses[0]["loss"] if losses else None,
        "last_loss": losses[-1]["loss"] if losses else None,
        "world_size": dist.world_size(),
        "per_device_batch_size": per_device,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "merged": cfg.merge,
        "base_dir": str(true_base),
    }
    if main:
        tok.save_pretrained(str(out_dir))
        atomic_write(out_dir / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    dist.barrier()  # the other ranks return once the out dir is complete
    return summary


def _write_config(
    out_dir: Path, data: Path, fmt: str, examples: int, model: str, base_dir: Path, cfg: SFTConfig
) -> None:
    atomic_write(
        out_dir / "config.yaml",
        yaml.safe_dump(
            {
                "stage": "finetune",
                "data": str(data),
                "format": fmt,
                "examples": examples,
                "model": model,
                "base_dir": str(base_dir),
                "world_size": dist.world_size(),
                **as_dict(cfg),
            },
            sort_keys=False,
        ),
    )
