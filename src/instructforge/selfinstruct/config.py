"""Configuration of the Self-Instruct pipeline (Wang et al. 2023, section 2.2 and appendix A).

Every field has the paper's value as its default; deviations are marked DEVIATION. A YAML/JSON
file passed with ``generate --config FILE`` overrides fields by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import field_overrides
from ..errors import InputError

PAPER_BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                   "map", "maps", "draw", "plot", "go to")
ALPACA_BLACKLIST = ("video", "audio", "music", "flowchart", "diagram")


@dataclass
class GenerateConfig:
    """Every knob of ``instructforge generate``."""

    mode: str = "selfinstruct"  # "selfinstruct" (paper) or "alpaca" (Taori et al. 2023)
    num_instructions: int = 100  # accepted machine instructions to reach
    seed: int = 0  # base of every RNG and request seed (round r uses a RNG seeded by (seed, r))
    prompt_style: str = "chat"  # "chat": prompt sent as one user message; "raw": as a completion prompt (base models)
    # --- step 1: instruction generation (paper: 8 in-context, 6 human + 2 machine) ---
    num_prompt_instructions: int = 8  # in-context instructions per prompt
    num_machine_in_context: int = 2  # of which machine-generated, once >= this many exist
    pool_lag: int | None = None  # prompt k shows machine instructions judged up to prompt k - pool_lag; None: the client's window (--concurrency / --batch-size) or num_instructions // 10 if larger, at most 256 (DEVIATION: the paper's rounds of 5 prompts each see the pool after the previous round; 0 = strictly sequential)
    bootstrap_temperature: float = 0.7
    bootstrap_top_p: float = 0.5
    bootstrap_presence_penalty: float = 2.0
    bootstrap_frequency_penalty: float = 0.0
    bootstrap_max_tokens: int = 1024
    bootstrap_stop: list[str] = field(default_factory=lambda: ["\n\n", "\n16", "16.", "16 ."])
    truncated_policy: str = "response"  # "response": drop every item of a length-cut answer (methods.md); "last_item": drop only its last item (the paper's code)
    max_list_number: int = 15  # the paper stops at "16": at most 7 new instructions per prompt
    max_empty_prompts: int = 100  # stop if this many judged prompts in a row accept nothing (not in the paper: a safety stop)
    # --- filters ---
    rouge_threshold: float = 0.7  # reject if ROUGE-L F to any pool instruction > this
    min_words: int = 4  # reject word count <= 3
    max_words: int = 150  # reject word count > 150
    blacklist: list[str] = field(default_factory=lambda: list(PAPER_BLACKLIST))
    alpaca_blacklist: bool = False  # also reject Alpaca's additions (video, audio, music, flowchart, diagram)
    # --- step 2: classification identification ---
    classify_max_tokens: int = 3
    # --- step 3: instances ---
    max_instances: int = 5  # instances kept per task
    instance_temperature: float = 0.0
    instance_top_p: float = 0.0  # paper: top_p 0 (irrelevant at temperature 0)
    instance_presence_penalty: float = 1.5
    instance_max_tokens: int = 300
    speculative_instances: bool = True  # streaming backends, at the end of a run: ask for input-first instances in idle slots before the classification answer (used only if the task is not classification: the same request gets the same answer)
    # --- alpaca mode (Taori et al. 2023) ---
    alpaca_num_demos: int = 3
    alpaca_tasks_per_request: int = 20
    alpaca_temperature: float = 1.0
    alpaca_top_p: float = 1.0
    alpaca_max_tokens: int = 3072

    def __post_init__(self) -> None:
        if self.mode not in ("selfinstruct", "alpaca"):
            raise InputError(f"mode must be selfinstruct or alpaca, not {self.mode!r}")
        if self.prompt_style not in ("chat", "raw"):
            raise InputError(f"prompt_style must be chat or raw, not {self.prompt_style!r}")
        if self.truncated_policy not in ("response", "last_item"):
            raise InputError(f"truncated_policy must be response or last_item, not {self.truncated_policy!r}")
        if self.num_instructions < 1:
            raise InputError("num_instructions must be >= 1")
        if not 0 <= self.num_machine_in_context <= self.num_prompt_instructions:
            raise InputError("num_machine_in_context must be between 0 and num_prompt_instructions")
        if self.pool_lag is not None and self.pool_lag < 0:
            raise InputError("pool_lag must be >= 0")

    def resolve_pool_lag(self, window: int) -> None:
        """Fix ``pool_lag`` when it is None: as many prompts as the client keeps in flight
        (``window``), so the bootstrap alone can fill a server, or a tenth of the target if
        that is more; at most 256. The number goes into config.yaml."""
        if self.pool_lag is None:
            self.pool_lag = max(4, min(256, max(window, self.num_instructions // 10)))

    def blacklist_words(self) -> list[str]:
        return list(self.blacklist) + (list(ALPACA_BLACKLIST) if self.alpaca_blacklist else [])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_overrides(path: Path) -> dict[str, Any]:
    """Field overrides from a YAML or JSON file; unknown names are an InputError."""
    data = field_overrides(path, GenerateConfig)
    if "bootstrap_stop" in data:
        data["bootstrap_stop"] = list(data["bootstrap_stop"])
    return data
