"""``ScoreConfig``: every setting of ``instructforge score`` (docs/score.md), one dataclass.

The feedback components and their linear rule follow REFINE-AF (arXiv 2505.06548, section 3.2;
``reward`` holds the rule's unconfirmed coefficients, shared with ``refine``); the audit follows
Self-Instruct's quality review (Wang et al. 2023, section 3.3). Every field is checked (type,
range) whether it comes from a flag, ``--set``, a ``--config`` file or Python, before anything
is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.settings import option, validate
from ..feedback.reward import RewardConfig
from ..models.backends.registry import SPEC_FORMS

#: fields that say who scores or how the work is cut, not what a score is: not in the fingerprint
#: (the judge and the reward model enter it by their identity instead)
NOT_SCORING = ("judge", "reward_model", "chunk_size", "report_records")


@dataclass
class ScoreConfig:
    """Every setting of ``instructforge score`` (``instructforge config show score``)."""

    judge: str | None = option(
        None,
        f"Judge model: {SPEC_FORMS} (default: --model, i.e. embedded; --judge and --model are the same setting)",
        flag=True,
    )
    reward_model: str | None = option(
        None,
        "hf:DIR of a sequence-classification reward model for Rew (paper: "
        "oasst-rm-pythia-1.4b); without it the judge's P(yes) to an overall-quality "
        "question stands in",
        flag=True,
    )
    threshold: float = option(0.5, "An audit answer is yes when the judge's P(yes) >= this", min=0, max=1, flag=True)
    top_logprobs: int = option(20, "Top-N first-token log-probs read for every yes/no question", min=1)
    chunk_size: int = option(
        32, "Instances scored and committed together (a kill loses at most one chunk)", min=1, flag=True
    )
    repeat_lines: int = option(3, "repeated_line: a line (or sentence) of >= 2 words seen this many times", min=2)
    truncation_min_words: int = option(8, "truncated_output: a last line this long must end a sentence", min=1)
    echo_min_words: int = option(
        4, "echoes_instruction: instructions this long are looked for inside the output", min=1
    )
    language_min_words: int = option(5, "language_mismatch: texts shorter than this are not compared", min=1)
    report_records: int = option(10, "Lowest- and highest-scoring records shown in summaries and reports", min=0)
    reward: RewardConfig = option(
        default_factory=RewardConfig, help="REFINE-AF's linear rule (coefficients unconfirmed; shared with refine)"
    )

    def __post_init__(self) -> None:
        if isinstance(self.reward, dict):  # Python callers may pass the rule as a mapping
            try:
                self.reward = RewardConfig(**self.reward)
            except TypeError as e:
                raise InputError(f"ScoreConfig: reward: {e}") from None
        validate(self)

    def scoring_fields(self) -> dict[str, Any]:
        """The fields a stored score depends on (not who scores, chunk_size or report_records)."""
        d = dataclasses.asdict(self)
        for k in NOT_SCORING:
            d.pop(k)
        return d


def fingerprint(
    judge_id: str, reward_model: str | None, cfg: ScoreConfig, prompts: list[Path], checks_version: int
) -> str:
    """What a stored score was computed with: the judge's identity, the reward model, the
    config fields that change a score, the prompt files' text and the checks' version. Scores
    with another fingerprint are redone (from the call cache when the judge's answers are the
    same)."""
    blob = json.dumps(
        {
            "judge": judge_id,
            "reward_model": reward_model,
            "config": cfg.scoring_fields(),
            "prompts": {p.name: p.read_text(encoding="utf-8") for p in sorted(prompts)},
            "checks": checks_version,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
