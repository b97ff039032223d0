"""Configuration of the Self-Instruct pipeline (Wang et al. 2023, section 2.2 and appendix A).

Every field has the paper's value as its default; deviations are marked DEVIATION. Set them with
a flag (the important ones), ``--set name=value``, or a YAML/JSON ``--config FILE``; they are
checked (type, range, choices) before anything is written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..core.errors import InputError
from ..core.settings import option, validate
from ..data.checks import OPTIONAL_CHECKS, VALIDITY_REASONS

PAPER_BLACKLIST = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
)
ALPACA_BLACKLIST = ("video", "audio", "music", "flowchart", "diagram")


@dataclass
class GenerateConfig:
    """Every setting of ``instructforge generate`` (``instructforge config show generate``)."""

    mode: str = option(
        "selfinstruct",
        "selfinstruct (Wang et al. 2023) or alpaca (Taori et al. 2023)",
        choices=("selfinstruct", "alpaca"),
        flag=True,
    )
    num_instructions: int = option(100, "Accepted machine instructions to reach", min=1, flag=True)
    seed: int = option(
        0, "Base of every RNG and request seed (prompt k samples with a RNG seeded by (seed, k))", flag=True
    )
    prompt_style: str = option(
        "chat",
        "chat: each prompt is one user message; raw: a completion prompt (base models, --api completions)",
        choices=("chat", "raw"),
        flag=True,
    )
    # --- step 1: instruction generation (paper: 8 in-context, 6 human + 2 machine) ---
    num_prompt_instructions: int = option(8, "In-context instructions per prompt (paper: 8)", min=1, max=15)
    num_machine_in_context: int = option(
        2, "Of which machine-generated, once that many exist (paper: 2)", min=0, max=15
    )
    pool_lag: int | None = option(
        None,
        "Prompt k shows machine instructions judged up to prompt k - pool_lag; "
        "null: the client's window (--concurrency / --batch-size) or num_instructions/10 "
        "if larger, 4 to 256. DEVIATION: the paper's rounds of 5 prompts each see the pool "
        "after the previous round; 0 = strictly sequential",
        min=0,
    )
    bootstrap_temperature: float = option(0.7, "Instruction generation temperature (paper)", min=0, max=2)
    bootstrap_top_p: float = option(0.5, "Instruction generation top_p (paper)", min=0, max=1)
    bootstrap_presence_penalty: float = option(2.0, "Instruction generation presence penalty (paper)", min=-2, max=2)
    bootstrap_frequency_penalty: float = option(0.0, "Instruction generation frequency penalty", min=-2, max=2)
    bootstrap_max_tokens: int = option(1024, "Instruction generation max new tokens (paper)", min=1)
    bootstrap_stop: list[str] = option(
        default_factory=lambda: ["\n\n", "\n16", "16.", "16 ."],
        help="Stop strings: a blank line or item 16 (paper); at most 4 for OpenAI/vLLM",
    )
    truncated_policy: str = option(
        "response",
        "response: drop every item of a length-cut answer (the paper's code: post_process_gpt3_response "
        "returns nothing for finish_reason length); last_item: drop only its last item (Alpaca's "
        "generate_instruction.py)",
        choices=("response", "last_item"),
    )
    max_list_number: int = option(15, "Items numbered above this are ignored (the paper stops at 16)", min=1)
    max_empty_prompts: int = option(
        100, "Stop after this many judged prompts in a row accept nothing (a safety stop, not in the paper)", min=1
    )
    # --- filters ---
    rouge_threshold: float = option(
        0.7,
        "Reject an instruction whose ROUGE-L F to any pool instruction is above this (paper: 0.7)",
        min=0,
        max=1,
        flag=True,
    )
    min_words: int = option(4, "Reject instructions with fewer words (paper: <= 3 rejected)", min=0)
    max_words: int = option(150, "Reject instructions with more words (paper: 150)", min=1)
    blacklist: list[str] = option(
        default_factory=lambda: list(PAPER_BLACKLIST),
        help="Words (whole words) a text-only model cannot act on (paper's list)",
    )
    alpaca_blacklist: bool = option(False, "Also reject Alpaca's additions (video, audio, music, flowchart, diagram)")
    # --- validity checks (beyond the paper: docs/methods.md "Validity checks") ---
    filters: str = option(
        "checks",
        "checks: the paper's filters and the validity checks (each check_* below); paper: exactly "
        "the paper's filters (ROUGE-L, length, blacklist, program, start, instance rules), for "
        "reproductions",
        choices=("checks", "paper"),
    )
    check_labelled_statement: bool = option(
        True, 'Reject an instruction that is a labelled answer, not a task ("True: ...", "Answer: ...")'
    )
    check_trailing_answer: bool = option(
        True, 'Reject an instruction carrying answer text or chatter after a colon ("...: This is a common ...")'
    )
    check_copies_pool_instruction: bool = option(
        True,
        "Reject an instruction repeating 10 consecutive words of a different pool instruction (a seed's "
        "task with new text spliced in)",
    )
    check_degenerate_enumeration: bool = option(
        True, 'Reject an output that is a list of empty numbers ("1. 1. 2. 3.") or a bare count'
    )
    check_copies_demonstration: bool = option(
        True, "Reject an output copying a demonstration of its prompt (8 shared words, or half its word triples)"
    )
    check_restates_instruction: bool = option(
        True, "Reject an output that says its instruction again (70% of its word pairs)"
    )
    check_missing_input: bool = option(
        True, 'Reject a record whose instruction points at a text it does not give ("Is this message spam?", no input)'
    )
    check_refusal: bool = option(
        True, "Reject an output that refuses or apologises (\"I'm sorry, but I'm unable ...\")"
    )
    check_comments_on_itself: bool = option(
        True, 'Reject an output commenting on itself or the task ("This response uses ...", "This task requires ...")'
    )
    check_duplicate_output: bool = option(
        True,
        "Reject an output (5+ words) that a different instruction of the run also got; the task "
        "with the smaller key (the earlier prompt) keeps it, so the records do not depend on the "
        "order answers arrive in",
    )
    check_copies_input: bool = option(True, "Reject an output equal to its input (whitespace collapsed)")
    check_echoes_instruction: bool = option(True, "Reject an output that is or contains its instruction")
    check_repeated_line: bool = option(True, "Reject an output with a line or sentence repeated repeat_lines times")
    check_truncated_output: bool = option(
        True, "Reject an output cut mid-sentence, with an unclosed bracket or fence, or a dangling , : -"
    )
    check_language_mismatch: bool = option(True, "Reject an output in another language or script than its task")
    repeat_lines: int = option(3, "repeated_line: a line (or sentence) of >= 2 words seen this many times", min=2)
    truncation_min_words: int = option(8, "truncated_output: a last line this long must end a sentence", min=1)
    echo_min_words: int = option(
        4, "echoes_instruction: instructions this long are looked for inside the output", min=1
    )
    language_min_words: int = option(5, "language_mismatch: texts shorter than this are not compared", min=1)
    # --- step 2: classification identification ---
    classify_max_tokens: int = option(3, "Classification answer max tokens (paper)", min=1)
    classify_stop: list[str] = option(
        default_factory=lambda: ["\n", "Task"],
        help='Classification stop strings (the paper\'s code: a newline or "Task")',
    )
    classify_parse: str = option(
        "strict",
        'strict: yes only when the whole answer is "Yes", "yes" or "YES" (the paper\'s code); '
        "first_word: yes when its first word is yes, whatever case or punctuation (lenient, for chat models)",
        choices=("strict", "first_word"),
    )
    # --- step 3: instances ---
    max_instances: int = option(5, "Instances kept per task (paper)", min=1)
    instance_temperature: float = option(0.0, "Instance generation temperature (paper: 0)", min=0, max=2)
    instance_top_p: float = option(
        0.0, "Instance generation top_p (paper: 0, i.e. greedy; sent to servers as 1)", min=0, max=1
    )
    instance_presence_penalty: float = option(1.5, "Instance generation presence penalty (paper)", min=-2, max=2)
    instance_max_tokens: int = option(300, "Instance generation max new tokens", min=1)
    speculative_instances: bool = option(
        True,
        "Streaming backends, at the end of a run: ask for input-first "
        "instances in idle slots before the classification answer (used only if "
        "the task is not classification: the same request gets the same answer)",
    )
    # --- alpaca mode (Taori et al. 2023) ---
    alpaca_num_demos: int = option(3, "Alpaca: seed tasks shown per request", min=1)
    alpaca_tasks_per_request: int = option(20, "Alpaca: tasks asked for per request", min=1)
    alpaca_temperature: float = option(1.0, "Alpaca: temperature", min=0, max=2)
    alpaca_top_p: float = option(1.0, "Alpaca: top_p", min=0, max=1)
    alpaca_max_tokens: int = option(3072, "Alpaca: max new tokens", min=1)

    def __post_init__(self) -> None:
        validate(self)
        if self.num_machine_in_context > self.num_prompt_instructions:
            raise InputError("GenerateConfig: num_machine_in_context must not exceed num_prompt_instructions")

    def resolve_pool_lag(self, window: int) -> None:
        """Fix ``pool_lag`` when it is None: as many prompts as the client keeps in flight
        (``window``), so the bootstrap alone can fill a server, or a tenth of the target if
        that is more; at most 256. The number goes into config.yaml."""
        if self.pool_lag is None:
            self.pool_lag = max(4, min(256, max(window, self.num_instructions // 10)))

    def enabled_checks(self) -> list[str]:
        """The validity checks this run applies (none with ``filters: paper``)."""
        if self.filters == "paper":
            return []
        return [r for r in VALIDITY_REASONS if r not in OPTIONAL_CHECKS or getattr(self, f"check_{r}")]

    def blacklist_words(self) -> list[str]:
        return list(self.blacklist) + (list(ALPACA_BLACKLIST) if self.alpaca_blacklist else [])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
