"""REFINE-AF stage 2: RL from automated feedback (arXiv 2505.06548, section 3.2).

The policy is the model that writes input-output pairs for an instruction: it gets Self-Instruct's
instance-generation prompt for each accepted
instruction of a run (the same ``InstanceTask`` the instance stage asks with), samples
``num_generations`` answers, and each answer is rewarded by the automated feedback of reward.py
through that task's parser, filters and reward. Settings: config.py; scorers: scorers.py; logs:
logs.py; what SFT shares (model, LoRA, CPU set-up): train/common.py. The paper trains with PPO; TRL 1.x has no PPO trainer (removed
in TRL PR 7020), so this uses TRL's GRPO (default) or RLOO, both policy-gradient methods with a
KL penalty to the base model (``beta``) and no value model. LoRA on the base model, checkpoints
every ``save_steps``, ``resume`` continues from the latest one.

Outputs in the out dir: the final LoRA adapter (+ tokenizer) so ``--model hf:DIR`` works
everywhere, ``config.yaml``, ``reward_log.jsonl`` and ``reward_curve.json`` (logs.py).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.io import atomic_write
from ..data import outdir
from ..data.outdir import write_config
from ..data.store import RunStore
from ..feedback.reward import make_reward_func
from ..selfinstruct.instances import InstanceTask
from . import distributed as dist
from .common import fix_adapter_base, local_model_dir, quiet_trainer, set_threads, trainable
from .refine_config import RefineConfig
from .refine_logs import RewardLog, log_callback

CHECKPOINTS = "checkpoints"


def load_tasks(run_dir: Path, cfg: RefineConfig) -> list[InstanceTask]:
    """The run's accepted instructions (kind ``candidate``, status ``accepted``) as the policy's
    tasks: the same InstanceTask the instance stage asks with."""
    store = RunStore(run_dir, create=False)
    try:
        tasks = [
            InstanceTask(c.instruction, bool(c.is_classification), cfg.reward.max_triples, cfg.policy_demos)
            for c in store.candidates(accepted=True)
            if c.instruction.strip()
        ]
    finally:
        store.close()
    if not tasks:
        raise InputError(
            f"{run_dir}: the run has no accepted instructions to train on (run `instructforge generate` first)"
        )
    return tasks


def policy_rows(tasks: list[InstanceTask], cfg: RefineConfig) -> list[dict[str, Any]]:
    """The trainer's dataset: each task's prompt (a chat message or plain text) and the columns
    the reward function reads."""
    return [
        {
            "prompt": [{"role": "user", "content": t.prompt()}] if cfg.prompt_style == "chat" else t.prompt(),
            "instruction": t.instruction,
            "is_classification": t.is_classification,
        }
        for t in tasks
    ]


def latest_checkpoint(out_dir: Path) -> Path | None:
    ck = out_dir / CHECKPOINTS
    found = [(int(m.group(1)), p) for p in ck.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return max(found)[1] if found else None


def trainer_settings(cfg: RefineConfig, out_dir: Path, per_device: int) -> dict[str, Any]:
    """The GRPOConfig / RLOOConfig fields of a run (``per_device``: completions per rank and step)."""
    settings: dict[str, Any] = dict(
        output_dir=str(out_dir / CHECKPOINTS),
        max_steps=cfg.steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        report_to="none",
        disable_tqdm=ui.is_quiet(),
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        # CPU: recomputing activations costs a forward pass per step and saves memory we do not need
        activation_checkpointing=False,
        dataloader_pin_memory=False,
        **dist.trainer_args(),
    )
    if cfg.vllm_server:  # TRL's vLLM server mode (shared_prefix steps aside: TRL's own code then)
        settings.update(use_vllm=True, vllm_mode="server", vllm_server_base_url=cfg.vllm_server)
    return settings


def refine(
    run_dir: Path,
    out_dir: Path,
    *,
    model: str,
    scorers: list[Any],
    cfg: RefineConfig,
    resume: bool = False,
    rew_label: str = "judge substitute",
    extra_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the instance writer; returns a summary dict. Inputs are validated before any write."""
    tasks = load_tasks(run_dir, cfg)
    base_dir = local_model_dir(model, "refine")
    ckpt = latest_checkpoint(out_dir)
    if ckpt is not None and not resume:
        raise InputError(
            f"{out_dir}: has checkpoints from an earlier run; pass --resume to continue or use a new --out"
        )
    rows = policy_rows(tasks, cfg)
    # the GRPO/RLOO batch is global: each of N ranks samples its 1/N of the step's completions
    per_device = dist.per_device(cfg.prompts_per_step * cfg.num_generations, 1, "prompts_per_step x num_generations")
    main = dist.is_main()
    dist.quiet_others()

    set_threads()
    from datasets import Dataset

    out_dir.mkdir(parents=True, exist_ok=True)
    if main:
        write_config(
            out_dir / outdir.CONFIG,
            {
                "stage": "refine",
                "run_dir": str(run_dir),
                "model": model,
                "base_dir": str(base_dir),
                "reward_model_source": rew_label,
                "world_size": dist.world_size(),
                **(extra_config or {}),
                **cfg.to_dict(),
            },
        )
    policy, tok, peft_config, true_base = trainable(
        base_dir, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_target_modules
    )
    tok.padding_side = "left"

    common = trainer_settings(cfg, out_dir, per_device)
    from .shared_prefix import trainer_classes

    Config, Trainer = trainer_classes(cfg.algo, cfg.shared_prefix)
    args = Config(**common)
    log = RewardLog(
        out_dir,
        rew_label,
        keep_until=int(ckpt.name.split("-")[1]) if (ckpt and resume) else None,
        write=main,  # TRL gathers the metrics of every rank before it logs; rank 0 writes them
    )
    reward_fn = make_reward_func(
        scorers, lambda instruction, clf: InstanceTask(instruction, clf, cfg.reward.max_triples), cfg.reward
    )
    trainer = Trainer(
        model=policy,
        reward_funcs=reward_fn,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=peft_config,
        callbacks=[log_callback(log)],
    )
    quiet_trainer(trainer)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if (ckpt and resume) else None)
    seconds = time.perf_counter() - t0
    trainer.save_model(str(out_dir))  # every rank calls it (DeepSpeed/FSDP gather); rank 0 writes
    summary = {
        "steps": trainer.state.global_step,
        "train_seconds": round(seconds, 2),
        "resumed_from": str(ckpt) if (ckpt and resume) else None,
        "prompts": len(rows),
        "final_reward": log.rows[-1].get("total") if log.rows else None,
        "train_loss": getattr(result, "training_loss", None),
        "reward_model_source": rew_label,
        "world_size": dist.world_size(),
        "per_device_completions": per_device,
    }
    if main:
        tok.save_pretrained(str(out_dir))
        fix_adapter_base(out_dir, true_base)
        log.flush()
        atomic_write(out_dir / outdir.REFINE_SUMMARY, json.dumps(summary, indent=2) + "\n")
    dist.barrier()  # the other ranks return once the out dir is complete
    return summary
