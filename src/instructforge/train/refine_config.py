"""Settings of the REFINE-AF RL stage (``instructforge refine``; ``config show refine``).

The paper's values where the paper gives one; its PPO is GRPO or RLOO here (TRL 1.x has no
PPO trainer); the reward's coefficients are RewardConfig (reward.py), nested as ``reward.*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.settings import as_dict, option, validate
from ..feedback.reward import RewardConfig
from ..models.backends.registry import SPEC_FORMS


@dataclass
class RefineConfig:
    """Every setting of ``instructforge refine`` but the policy model and the judge's client
    options (``ModelConfig``); ``instructforge config show refine`` lists them. Paper values where
    the paper gives one."""

    algo: str = option(
        "grpo",
        "TRL trainer: grpo or rloo (paper: PPO, which TRL 1.x no longer has)",
        choices=("grpo", "rloo"),
        flag=True,
    )
    steps: int = option(100, "Optimizer steps (paper: not stated)", min=1, flag=True)
    prompts_per_step: int = option(1, "Instructions per step", min=1)
    num_generations: int = option(
        4,
        "Answers sampled per instruction (the GRPO/RLOO group; they are compared with each other, so at least 2)",
        min=2,
        flag=True,
    )
    max_completion_length: int = option(
        128, "Policy tokens per answer (Self-Instruct instances: 300; shorter for CPU)", min=1, flag=True
    )
    temperature: float = option(
        0.8,
        "Policy sampling temperature during RL (RL needs samples; Self-Instruct's instances use 0)",
        min=0,
        min_open=True,
        max=2,
    )
    top_p: float = option(1.0, "Policy nucleus sampling mass during RL", min=0, min_open=True, max=1)
    beta: float = option(
        0.05,
        'KL coefficient to the base model (paper: "the usual KL penalty", value not stated)',
        min=0,
        flag="--kl-coef",
    )
    learning_rate: float = option(5e-5, "LoRA learning rate", min=0, min_open=True, flag="--lr")
    lora_r: int = option(16, "LoRA rank", min=1)
    lora_alpha: int = option(32, "LoRA alpha (the update is scaled by alpha / r)", min=1)
    lora_dropout: float = option(0.05, "LoRA dropout", min=0, max=1)
    lora_target_modules: list[str] = option(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], help="Modules that get a LoRA adapter"
    )
    policy_demos: int | None = option(
        None,
        "Demonstrations per style in the policy prompt (null: all, as generate shows them; fewer: faster steps)",
        min=0,
    )
    prompt_style: str = option(
        "chat",
        "chat: the prompt is one user message (as generate sends it); raw: plain text (base models)",
        choices=("chat", "raw"),
    )
    save_steps: int = option(25, "Checkpoint every N steps", min=1)
    save_total_limit: int = option(2, "Checkpoints kept (the oldest are deleted)", min=1)
    seed: int = option(0, "Seed of the policy's sampling and of training", flag=True)
    judge: str = option(
        "embedded",
        "Model asked the yes/no feedback questions (naturalness, coherence, "
        f"understandability; overall quality without a reward model): {SPEC_FORMS}",
        flag=True,
    )
    judge_base_url: str | None = option(None, "The judge's OpenAI-compatible server (default: --base-url)", flag=True)
    judge_top_logprobs: int = option(20, "Top first-token log-probs read for a yes/no answer", min=1)
    reward_model: str | None = option(
        None,
        "hf:DIR of a local sequence-classification reward model for Rew "
        "(paper: oasst-rm-pythia-1.4b); null: the judge's P(yes) to an "
        "overall-quality question stands in (a substitute)",
        flag=True,
    )
    unieval: Path | None = option(
        None,
        "Local UniEval checkpoint dir (T5) for naturalness, coherence and understandability; null: the judge is asked",
        flag=True,
    )
    vllm_server: str | None = option(
        None,
        "Base URL of a `trl vllm-serve` server that samples the policy's answers (TRL's vLLM server "
        "mode: GPUs and vLLM; every rank asks it, TRL pushes the merged LoRA weights to it each step); "
        "null: each rank samples with transformers",
    )
    shared_prefix: bool = option(
        True, "Run a group's shared prompt once (shared_prefix.py); false: TRL's own code paths"
    )
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
