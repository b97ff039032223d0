"""The one factory of the automated-feedback scorers, for the RL stage's reward and for
``instructforge score``: the judge model's yes/no questions, a reward model, UniEval
(scorers.py), built from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..models.modelconfig import ModelConfig


def build_scorers(
    judge: str | ModelConfig | Any,
    reward_model: str | Path | None,
    unieval: Path | None = None,
    *,
    top_logprobs: int = 20,
    batch_size: int = 16,
    use_cache: bool = True,
    judge_first: bool = False,
) -> tuple[list[Any], str, Any]:
    """The automated-feedback scorers: (scorers, label of the Rew source, the judge's LLM or None).

    ``judge``: a model spec (opened with ``batch_size`` and ``use_cache``), a ModelConfig (opened
    as it is), or an open LLM (used as it is; the caller closes it). The judge is opened only when
    some dimension needs it. ``reward_model``: an ``hf:DIR`` spec, or a dir already checked with
    ``reward_model_dir``. The reward-model and UniEval dirs and the judge's spec are checked
    before any model is loaded. Order: UniEval, the reward model, the judge (RL's reward), or with
    ``judge_first`` the judge, then the reward model (``instructforge score``).
    """
    from ..models.backends import parse_spec
    from .scorers import DIMENSIONS, JudgeScorer, RewardModelScorer, UniEvalScorer, reward_model_dir

    if isinstance(judge, str):
        judge = ModelConfig(model=judge, batch_size=batch_size, cache=use_cache)
    rm_dir = reward_model_dir(reward_model) if isinstance(reward_model, str) else reward_model
    if unieval is not None and not (Path(unieval) / "config.json").is_file():
        raise InputError(f"{unieval}: not a model dir (no config.json)")
    if isinstance(judge, ModelConfig):
        parse_spec(judge.model)
    judge_name = judge.model if isinstance(judge, ModelConfig) else judge.model_id
    others: list[Any] = []
    judge_dims: list[str] = []
    if unieval is not None:
        others.append(UniEvalScorer(Path(unieval)))
    else:
        judge_dims.extend(DIMENSIONS)
    if rm_dir is not None:
        others.append(RewardModelScorer(rm_dir))
        label = f"reward model {rm_dir}"
    else:
        judge_dims.append("overall")
        label = f"SUBSTITUTE: P(yes) of {judge_name} to an overall-quality question (no --reward-model given)"
    if not judge_dims:
        return others, label, None
    llm = judge.open() if isinstance(judge, ModelConfig) else judge
    scorer = JudgeScorer(llm, judge_dims, top_logprobs=top_logprobs)
    return ([scorer, *others] if judge_first else [*others, scorer]), label, llm
