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

from ..core.errors import InputError
from ..core.io import atomic_write
from ..core.settings import as_dict, option, validate
from ..data import outdir
from ..data.formats import read_examples as load_examples  # (format, rows); FILE:LINE errors
from ..data.formats import user_text
from ..data.outdir import write_config
from ..data.records import Triple
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
            t = Triple.from_dict(r)
            prompt, answer = user_text(t), t.output
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
        write_config(
            out_dir / outdir.CONFIG,
            {
                "stage": "finetune",
                "data": str(data),
                "format": fmt,
                "examples": len(examples),
                "model": model,
                "base_dir": str(base_dir),
                "world_size": dist.world_size(),
                **as_dict(cfg),
            },
        )
    policy, tok, peft_config, true_base = trainable(
        base_dir, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_target_modules
    )
    losses: list[dict[str, Any]] = []

    class _Log(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if main and logs and "loss" in logs:
                losses.append({"step": int(state.global_step), "epoch": logs.get("epoch"), "loss": logs["loss"]})
                atomic_write(out_dir / outdir.TRAIN_LOG, "".join(json.dumps(r) + "\n" for r in losses))

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
        atomic_write(out_dir / outdir.TRAIN_SUMMARY, json.dumps(summary, indent=2) + "\n")
    dist.barrier()  # the other ranks return once the out dir is complete
    return summary
