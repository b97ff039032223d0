"""The automated-feedback scorers of the RL stage and of ``instructforge score``: the judge
model's yes/no questions, a reward model, UniEval (feedback.py), built from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..models.modelconfig import ModelConfig


def build_scorers(
    judge: str | ModelConfig,
    reward_model: str | None,
    unieval: Path | None,
    *,
    top_logprobs: int = 20,
    batch_size: int = 16,
    use_cache: bool = True,
) -> tuple[list[Any], str, Any]:
    """The automated-feedback scorers: (scorers, label of the Rew source, the judge's LLM or None).

    ``judge``: a model spec (opened with ``batch_size`` and ``use_cache``) or a ModelConfig
    (opened as it is). The reward-model and UniEval dirs and the judge's spec are checked
    before any model is loaded.
    """
    from ..models.backends import parse_spec
    from .scorers import DIMENSIONS, JudgeScorer, RewardModelScorer, UniEvalScorer, reward_model_dir

    judge_cfg = (
        judge if isinstance(judge, ModelConfig) else ModelConfig(model=judge, batch_size=batch_size, cache=use_cache)
    )
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
