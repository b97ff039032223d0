"""``ScoreConfig``: every knob of ``instructforge score`` (docs/score.md), one dataclass.

The feedback components and their linear rule follow REFINE-AF (arXiv 2505.06548, section 3.2;
``reward`` holds the rule's unconfirmed coefficients, shared with ``refine``); the audit follows
Self-Instruct's quality review (Wang et al. 2023, section 3.3). A ``--config`` YAML overrides
fields; an unknown field or a bad value is an InputError (exit 2) before anything is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import field_overrides
from ..errors import InputError
from ..refine.reward import RewardConfig


@dataclass
class ScoreConfig:
    threshold: float = 0.5  # an audit answer is "yes" when the judge's P(yes) >= this
    top_logprobs: int = 20  # top-N first-token log-probs read for every yes/no question
    chunk_size: int = 32  # instances scored and committed together (a kill loses at most one chunk)
    repeat_lines: int = 3  # repeated_line: a line (or sentence) of >= 2 words seen this many times
    truncation_min_words: int = 8  # truncated_output: a last line this long must end a sentence
    echo_min_words: int = 4  # echoes_instruction: instructions this long are looked for inside the output
    language_min_words: int = 5  # language_mismatch: texts shorter than this are not compared
    report_records: int = 10  # lowest- and highest-scoring records shown in summaries and reports
    reward: RewardConfig = field(default_factory=RewardConfig)  # the REFINE-AF linear rule

    def __post_init__(self) -> None:
        if isinstance(self.reward, dict):
            self.reward = RewardConfig(**self.reward)
        if not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"threshold must be within [0, 1], not {self.threshold}")
        for name, low in (("top_logprobs", 1), ("chunk_size", 1), ("repeat_lines", 2), ("truncation_min_words", 1),
                          ("echo_min_words", 1), ("language_min_words", 1), ("report_records", 0)):
            if int(getattr(self, name)) < low:
                raise InputError(f"{name} must be >= {low}, not {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def scoring_fields(self) -> dict[str, Any]:
        """The fields a stored score depends on (not chunk_size or report_records)."""
        d = self.to_dict()
        for k in ("chunk_size", "report_records"):
            d.pop(k)
        return d


def load_score_config(path: Path | None, **flags: Any) -> ScoreConfig:
    """Defaults, then the YAML file, then the flags that were given (not None)."""
    fields: dict[str, Any] = field_overrides(path, ScoreConfig, "score config") if path else {}
    fields.update({k: v for k, v in flags.items() if v is not None})
    try:
        return ScoreConfig(**fields)
    except TypeError as e:  # e.g. an unknown field inside "reward"
        raise InputError(f"{path or 'score config'}: {e}") from None


def fingerprint(judge_id: str, reward_model: str | None, cfg: ScoreConfig, prompts: list[Path],
                checks_version: int) -> str:
    """What a stored score was computed with: the judge's identity, the reward model, the
    config fields that change a score, the prompt files' text and the checks' version. Scores
    with another fingerprint are redone (from the call cache when the judge's answers are the
    same)."""
    blob = json.dumps({"judge": judge_id, "reward_model": reward_model, "config": cfg.scoring_fields(),
                       "prompts": {p.name: p.read_text(encoding="utf-8") for p in sorted(prompts)},
                       "checks": checks_version},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
