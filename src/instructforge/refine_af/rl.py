"""REFINE-AF stage 2: RL from automated feedback (arXiv 2505.06548, section 3.2).

The policy is the model that writes input-output pairs for an instruction: it gets Self-Instruct's
instance-generation prompt (``selfinstruct.instances.instance_prompt``) for each accepted
instruction of a run, samples ``num_generations`` answers, and each answer is rewarded by the
automated feedback of reward.py. The paper trains with PPO; TRL 1.x has no PPO trainer (removed
in TRL PR 7020), so this uses TRL's GRPO (default) or RLOO, both policy-gradient methods with a
KL penalty to the base model (``beta``) and no value model. LoRA on the base model, checkpoints
every ``save_steps``, ``resume`` continues from the latest one.

Outputs in the out dir: the final LoRA adapter (+ tokenizer) so ``--model hf:DIR`` works
everywhere, ``config.yaml``, ``reward_log.jsonl`` (one line per step: mean total reward and
each feedback component, TRL's kl/loss) and ``reward_curve.json`` (the same as plot-ready lists).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import ui
from ..config import as_dict, option, validate
from ..errors import InputError
from ..modelconfig import ModelConfig
from ..store import RunStore, atomic_write
from .reward import RewardConfig, make_reward_func

CHECKPOINTS = "checkpoints"
LOG_FILE = "reward_log.jsonl"
CURVE_FILE = "reward_curve.json"


@dataclass
class RefineConfig:
    """Every setting of ``instructforge refine`` but the policy model and the judge's client
    options (``ModelConfig``); ``instructforge config show refine`` lists them. Paper values where
    the paper gives one."""

    algo: str = option("grpo", "TRL trainer: grpo or rloo (paper: PPO, which TRL 1.x no longer has)",
                       choices=("grpo", "rloo"), flag=True)
    steps: int = option(100, "Optimizer steps (paper: not stated)", min=1, flag=True)
    prompts_per_step: int = option(1, "Instructions per step", min=1)
    num_generations: int = option(4, "Answers sampled per instruction (the GRPO/RLOO group; they are compared "
                                  "with each other, so at least 2)", min=2, flag=True)
    max_completion_length: int = option(128, "Policy tokens per answer (Self-Instruct instances: 300; shorter "
                                        "for CPU)", min=1, flag=True)
    temperature: float = option(0.8, "Policy sampling temperature during RL (RL needs samples; Self-Instruct's "
                                "instances use 0)", min=0, min_open=True, max=2)
    top_p: float = option(1.0, "Policy nucleus sampling mass during RL", min=0, min_open=True, max=1)
    beta: float = option(0.05, "KL coefficient to the base model (paper: \"the usual KL penalty\", value not "
                         "stated)", min=0, flag="--kl-coef")
    learning_rate: float = option(5e-5, "LoRA learning rate", min=0, min_open=True, flag="--lr")
    lora_r: int = option(16, "LoRA rank", min=1)
    lora_alpha: int = option(32, "LoRA alpha (the update is scaled by alpha / r)", min=1)
    lora_dropout: float = option(0.05, "LoRA dropout", min=0, max=1)
    lora_target_modules: list[str] = option(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
                                            help="Modules that get a LoRA adapter")
    policy_demos: int | None = option(None, "Demonstrations per style in the policy prompt (null: all, as "
                                      "generate shows them; fewer: faster steps)", min=0)
    prompt_style: str = option("chat", "chat: the prompt is one user message (as generate sends it); raw: plain "
                               "text (base models)", choices=("chat", "raw"))
    save_steps: int = option(25, "Checkpoint every N steps", min=1)
    save_total_limit: int = option(2, "Checkpoints kept (the oldest are deleted)", min=1)
    seed: int = option(0, "Seed of the policy's sampling and of training", flag=True)
    judge: str = option("embedded", "Model asked the yes/no feedback questions (naturalness, coherence, "
                        "understandability; overall quality without a reward model): embedded | hf:DIR | "
                        "openai:MODEL | vllm:DIR | scripted:FILE", flag=True)
    judge_base_url: str | None = option(None, "The judge's OpenAI-compatible server (default: --base-url)",
                                        flag=True)
    judge_top_logprobs: int = option(20, "Top first-token log-probs read for a yes/no answer", min=1)
    reward_model: str | None = option(None, "hf:DIR of a local sequence-classification reward model for Rew "
                                      "(paper: oasst-rm-pythia-1.4b); null: the judge's P(yes) to an "
                                      "overall-quality question stands in (a substitute)", flag=True)
    unieval: Path | None = option(None, "Local UniEval checkpoint dir (T5) for naturalness, coherence and "
                                  "understandability; null: the judge is asked", flag=True)
    shared_prefix: bool = option(True, "Run a group's shared prompt once (shared_prefix.py); false: TRL's own "
                                 "code paths")
    reward: RewardConfig = option(default_factory=RewardConfig, help="The reward rule (reward.* settings)")

    def __post_init__(self) -> None:
        if isinstance(self.reward, dict):
            try:
                self.reward = RewardConfig(**self.reward)
            except TypeError as e:  # an unknown field
                raise InputError(f"RefineConfig: reward: {e}") from None
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return as_dict(self)


def load_prompts(run_dir: Path) -> list[dict[str, Any]]:
    """The run's accepted instructions (kind ``candidate``, status ``accepted``)."""
    store = RunStore(run_dir, create=False)
    try:
        rows = [{"instruction": c.instruction, "is_classification": bool(c.is_classification)}
                for c in store.candidates(accepted=True) if c.instruction.strip()]
    finally:
        store.close()
    if not rows:
        raise InputError(f"{run_dir}: the run has no accepted instructions to train on (run `instructforge generate` first)")
    return rows


def policy_prompt(instruction: str, is_classification: bool, demos: int | None = None) -> str:
    from ..selfinstruct.instances import instance_prompt, load_demos

    if demos is None:
        return instance_prompt(instruction, is_classification)
    style = "output_first" if is_classification else "input_first"
    chosen = tuple(d for d in load_demos() if d["style"] == style)[:demos]
    return instance_prompt(instruction, is_classification, demos=chosen)


def parse_for_reward(text: str, is_classification: bool, max_instances: int = 5) -> list[Any]:
    """Instances the way stage 3 would keep them: cut at the stop strings, parse, step-4 filters."""
    from ..selfinstruct.filters import filter_instances
    from ..selfinstruct.instances import instance_stop, parse_instances

    cut = len(text)
    for s in instance_stop(is_classification, max_instances):
        i = text.find(s)
        if 0 <= i < cut:
            cut = i
    kept, _, _ = filter_instances(parse_instances(text[:cut], is_classification), max_instances)
    return kept


def latest_checkpoint(out_dir: Path) -> Path | None:
    ck = out_dir / CHECKPOINTS
    found = [(int(m.group(1)), p) for p in ck.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return max(found)[1] if found else None


def policy_base(spec: str) -> Path:
    """The local model dir the policy starts from (``embedded`` or ``hf:DIR``); an InputError otherwise."""
    from ..backends import parse_spec
    from ..backends.model_files import embedded_model_dir, resolve_model_dir

    kind, arg = parse_spec(spec)
    if kind == "embedded":
        return embedded_model_dir()
    if kind != "hf":
        raise InputError(f"refine trains a local model: --model embedded or hf:DIR, not {spec!r}")
    return resolve_model_dir(arg)[0]


def build_scorers(judge: str | ModelConfig, reward_model: str | None, unieval: Path | None, *,
                  top_logprobs: int = 20, batch_size: int = 16, use_cache: bool = True) -> tuple[list[Any], str, Any]:
    """The automated-feedback scorers: (scorers, label of the Rew source, the judge's LLM or None).

    ``judge``: a model spec (opened with ``batch_size`` and ``use_cache``) or a ModelConfig
    (opened as it is). The reward-model and UniEval dirs and the judge's spec are checked
    before any model is loaded.
    """
    from ..backends import parse_spec
    from .feedback import (
        DIMENSIONS,
        JudgeScorer,
        RewardModelScorer,
        UniEvalScorer,
        reward_model_dir,
    )

    judge_cfg = judge if isinstance(judge, ModelConfig) else ModelConfig(model=judge, batch_size=batch_size,
                                                                          cache=use_cache)
    rm_dir = reward_model_dir(reward_model) if reward_model is not None else None
    if unieval is not None and not (Path(unieval) / "config.json").is_file():
        raise InputError(f"{unieval}: not a model dir (no config.json)")
    parse_spec(judge_cfg.model)
    scorers: list[Any] = []
    judge_dims: list[str] = []
    if unieval is not None:
        scorers.append(UniEvalScorer(Path(unieval)))
    else:
        judge_dims.extend(DIMENSIONS)
    if rm_dir is not None:
        scorers.append(RewardModelScorer(rm_dir))
        label = f"reward model {rm_dir}"
    else:
        judge_dims.append("overall")
        label = f"SUBSTITUTE: P(yes) of {judge_cfg.model} to an overall-quality question (no --reward-model given)"
    llm = None
    if judge_dims:
        llm = judge_cfg.open()
        scorers.append(JudgeScorer(llm, judge_dims, top_logprobs=top_logprobs))
    return scorers, label, llm


def set_threads() -> None:
    """Training set-up on CPU: torch threads (``INSTRUCTFORGE_THREADS`` or every core) and the allocator."""
    import torch

    from ..backends.model_files import resolve_threads

    torch.set_num_threads(resolve_threads())
    tune_allocator()


def quiet_trainer(trainer: Any) -> None:
    """Under ``--quiet`` a transformers Trainer prints nothing: drop its printer callbacks.

    With ``disable_tqdm`` the Trainer falls back to printing every log dict; our own callbacks
    still write the logs to files.
    """
    if not ui.is_quiet():
        return
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)


def tune_allocator() -> bool:
    """Keep freed blocks of up to 32 MiB in glibc's heap instead of unmapping them.

    A training step allocates and frees the same few-MiB activation tensors over and over; with
    glibc's default (dynamic) mmap threshold many of them are fresh mmaps, so every step pays
    page faults again. Measured on the RL step (2 cores): the policy's forward pass took
    1.07-2.16 s from step to step without this, 0.96-1.02 s with it. Same effect as the
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables, set from inside.
    Linux/glibc only; ``INSTRUCTFORGE_MALLOC_TUNING=0`` turns it off. Returns whether it applied.
    """
    if os.environ.get("INSTRUCTFORGE_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: leave it alone
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return all(mallopt(opt, val) == 1 for opt, val in (
        (m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20)))


class RewardLog:
    """reward_log.jsonl + reward_curve.json, rewritten atomically after every step."""

    COMPONENTS = ("total", "reward_model", "overall", "naturalness", "coherence", "understandability", "parsed")

    def __init__(self, out_dir: Path, rew_label: str, keep_until: int | None):
        self.path, self.curve = out_dir / LOG_FILE, out_dir / CURVE_FILE
        self.rew_label = rew_label
        self.rows: list[dict[str, Any]] = []
        if keep_until is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row["step"] <= keep_until:
                    self.rows.append(row)
        self.t0 = time.perf_counter()

    def add(self, step: int, logs: dict[str, Any]) -> None:
        row: dict[str, Any] = {"step": step}
        for k in self.COMPONENTS:
            if f"feedback/{k}" in logs:
                row[k] = logs[f"feedback/{k}"]
        for k in ("reward", "reward_std", "kl", "loss", "entropy", "completions/mean_length"):
            if k in logs and logs[k] is not None:
                row[k.replace("completions/", "")] = logs[k]
        row["seconds"] = round(time.perf_counter() - self.t0, 3)
        self.t0 = time.perf_counter()
        self.rows = [r for r in self.rows if r["step"] != step] + [row]
        self.flush()

    def flush(self) -> None:
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))
        curve: dict[str, Any] = {"step": [r["step"] for r in self.rows], "reward_model_source": self.rew_label}
        for k in (*self.COMPONENTS, "kl"):
            if any(k in r for r in self.rows):
                curve[k] = [r.get(k) for r in self.rows]
        atomic_write(self.curve, json.dumps(curve, indent=1) + "\n")


def _log_callback(log: RewardLog) -> Any:
    from transformers import TrainerCallback

    class _Cb(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs and any(k.startswith("feedback/") for k in logs):
                log.add(int(state.global_step), logs)
                ui.info(f"step {state.global_step}: reward {logs.get('feedback/total', float('nan')):.4f}")

    return _Cb()


def fix_adapter_base(out_dir: Path, base_dir: Path) -> None:
    """adapter_config.json must name the base as a local dir path (backends.local.load_hf_model)."""
    p = out_dir / "adapter_config.json"
    if p.is_file():
        cfg = json.loads(p.read_text())
        cfg["base_model_name_or_path"] = str(base_dir.resolve())
        atomic_write(p, json.dumps(cfg, indent=2) + "\n")


def refine(run_dir: Path, out_dir: Path, *, model: str, scorers: list[Any], cfg: RefineConfig,
           resume: bool = False, rew_label: str = "judge substitute", extra_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the instance writer; returns a summary dict. Inputs are validated before any write."""
    prompts = load_prompts(run_dir)
    base_dir = policy_base(model)
    ckpt = latest_checkpoint(out_dir)
    if ckpt is not None and not resume:
        raise InputError(f"{out_dir}: has checkpoints from an earlier run; pass --resume to continue or use a new --out")
    rows = []
    for p in prompts:
        text = policy_prompt(p["instruction"], p["is_classification"], cfg.policy_demos)
        rows.append({"prompt": [{"role": "user", "content": text}] if cfg.prompt_style == "chat" else text, **p})

    set_threads()
    from datasets import Dataset
    from peft import LoraConfig

    from ..backends.local import load_hf_model
    from ..backends.model_files import resolve_adapter_base

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "config.yaml", yaml.safe_dump(
        {"stage": "refine", "run_dir": str(run_dir), "model": model, "base_dir": str(base_dir),
         "reward_model_source": rew_label, **(extra_config or {}), **cfg.to_dict()}, sort_keys=False))
    policy, tok = load_hf_model(base_dir, trainable=True)
    tok.padding_side = "left"
    is_adapter = (base_dir / "adapter_config.json").is_file()
    peft_config = None if is_adapter else LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_target_modules), task_type="CAUSAL_LM")
    true_base = resolve_adapter_base(base_dir)

    common = dict(
        output_dir=str(out_dir / CHECKPOINTS), max_steps=cfg.steps, learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations, gradient_accumulation_steps=1,
        steps_per_generation=1, num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature, top_p=cfg.top_p, beta=cfg.beta, logging_steps=1, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit, seed=cfg.seed, report_to="none",
        disable_tqdm=ui.is_quiet(), bf16=False, fp16=False, dataloader_num_workers=0,
        # CPU: recomputing activations costs a forward pass per step and saves memory we do not need
        activation_checkpointing=False, dataloader_pin_memory=False,
    )
    from .shared_prefix import trainer_classes

    Config, Trainer = trainer_classes(cfg.algo, cfg.shared_prefix)
    args = Config(**common)
    log = RewardLog(out_dir, rew_label, keep_until=int(ckpt.name.split("-")[1]) if (ckpt and resume) else None)
    reward_fn = make_reward_func(scorers, lambda text, clf: parse_for_reward(text, clf, cfg.reward.max_triples), cfg.reward)
    trainer = Trainer(model=policy, reward_funcs=reward_fn, args=args, train_dataset=Dataset.from_list(rows),
                      processing_class=tok, peft_config=peft_config, callbacks=[_log_callback(log)])
    quiet_trainer(trainer)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if (ckpt and resume) else None)
    seconds = time.perf_counter() - t0
    trainer.save_model(str(out_dir))
    tok.save_pretrained(str(out_dir))
    fix_adapter_base(out_dir, true_base)
    log.flush()
    summary = {"steps": trainer.state.global_step, "train_seconds": round(seconds, 2),
               "resumed_from": str(ckpt) if (ckpt and resume) else None, "prompts": len(rows),
               "final_reward": log.rows[-1].get("total") if log.rows else None,
               "train_loss": getattr(result, "training_loss", None), "reward_model_source": rew_label}
    atomic_write(out_dir / "refine_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
