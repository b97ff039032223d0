"""Filters of Self-Instruct (paper section 2.2, "Filtering and Postprocessing").

An instruction filter is one function ``(instruction, config) -> Rejection | None``; the
pipeline records every Rejection (reason + detail) with the rejected candidate. The ROUGE-L
novelty filter needs the pool and lives in bootstrap.py (it uses ``novelty.NoveltyIndex``).

Instance filters (step 4) work on one task's parsed instances and return the kept ones plus
a Rejection per dropped instance, or a task-level Rejection (same non-empty input, different
outputs). As in the paper's code (prepare_for_finetuning.py): the last instance of an answer cut
at the length limit is dropped, a task with no input may have many outputs, and the cap keeps a
random sample (seeded) rather than the first instances.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Sequence

from ..data.checks import RecordChecker
from ..data.records import Instance, Rejection, Triple
from .config import GenerateConfig

InstructionFilter = Callable[[str, GenerateConfig], Rejection | None]


def too_short(text: str, cfg: GenerateConfig) -> Rejection | None:
    n = len(text.split())
    return Rejection("too_short", f"{n} words (minimum {cfg.min_words})") if n < cfg.min_words else None


def too_long(text: str, cfg: GenerateConfig) -> Rejection | None:
    n = len(text.split())
    return Rejection("too_long", f"{n} words (maximum {cfg.max_words})") if n > cfg.max_words else None


def blacklist(text: str, cfg: GenerateConfig) -> Rejection | None:
    """Words a text-only model cannot act on (images, files, ...), matched as whole words."""
    low = text.lower()
    for word in cfg.blacklist_words():
        if re.search(rf"\b{re.escape(word.lower())}\b", low):
            return Rejection("blacklist", word)
    return None


def write_a_program(text: str, cfg: GenerateConfig) -> Rejection | None:
    # The paper drops these: whether a program is right cannot be judged from its text alone.
    return (
        Rejection("write_a_program", 'starts with "Write a program"')
        if text.lower().startswith("write a program")
        else None
    )


def bad_start(text: str, cfg: GenerateConfig) -> Rejection | None:
    first = text[:1]
    if first in string.punctuation:
        return Rejection("bad_start", f"starts with punctuation {first!r}")
    if not first.isascii():
        return Rejection("bad_start", f"starts with non-ASCII {first!r}")
    return None


#: applied in this order; the first that fires is the recorded reason
INSTRUCTION_FILTERS: list[InstructionFilter] = [too_short, too_long, blacklist, write_a_program, bad_start]


def check_instruction(text: str, cfg: GenerateConfig) -> Rejection | None:
    for f in INSTRUCTION_FILTERS:
        r = f(text, cfg)
        if r is not None:
            return r
    return None


# -- step 4: instances ---------------------------------------------------------------------------


def check_instance(inst: Instance) -> Rejection | None:
    """One instance on its own: the paper's per-instance rules."""
    if not inst.output.strip():
        return Rejection("empty_output", "")
    if inst.input.strip() == inst.output.strip():
        return Rejection("input_equals_output", inst.output[:60])
    if inst.input.strip().endswith(":"):
        return Rejection("input_ends_with_colon", inst.input[-40:])
    if inst.output.strip().endswith(":"):
        return Rejection("output_ends_with_colon", inst.output[-40:])
    return None


def filter_instances(
    instances: list[Instance],
    max_instances: int,
    seed: int | str = 0,
    cut: bool = False,
    checker: RecordChecker | None = None,
    instruction: str = "",
    prompt_texts: Sequence[str] = (),
) -> tuple[list[Instance], list[tuple[Instance, Rejection]], Rejection | None]:
    """(kept, dropped with reasons, task-level rejection or None).

    Order: the last instance of an answer that stopped at the length limit (``cut``) is dropped
    as ``length_cut``, being likely incomplete; then the per-instance rules, exact duplicates,
    the conflict check (the same non-empty input with two different outputs rejects the whole
    task; an empty input is skipped, so "write a poem" may have many poems), and the cap: a
    random ``max_instances`` of the rest (``random.Random(seed)``; kept in answer order).
    ``checker`` (beyond the paper): an instance passing the paper's rules must also pass the
    validity checks of ``instruction`` (data/checks.py; ``prompt_texts``: the demonstrations
    its prompt showed); the first that fails is its reason, the others follow in the detail.
    """
    kept: list[Instance] = []
    dropped: list[tuple[Instance, Rejection]] = []
    if cut and instances:
        last = instances[-1]
        dropped.append((last, Rejection("length_cut", "last instance of an answer cut at the length limit")))
        instances = instances[:-1]
    seen: set[tuple[str, str]] = set()
    for inst in instances:
        inst = Instance(inst.input.strip(), inst.output.strip())
        r = check_instance(inst)
        if r is None and checker is not None:
            failed = checker.instance(Triple(instruction, inst.input, inst.output), prompt_texts)
            if failed:
                r = Rejection(failed[0].reason, "; ".join(f"{f.reason}: {f.detail}" for f in failed)[:300])
        if r is None and (inst.input, inst.output) in seen:
            r = Rejection("duplicate", inst.output[:60])
        if r is not None:
            dropped.append((inst, r))
            continue
        seen.add((inst.input, inst.output))
        kept.append(inst)
    outputs: dict[str, str] = {}
    for inst in kept:
        if not inst.input:
            continue
        if inst.input in outputs and outputs[inst.input] != inst.output:
            return [], dropped, Rejection("conflicting_outputs", f"input {inst.input[:60]!r} has two outputs")
        outputs[inst.input] = inst.output
    if len(kept) > max_instances:
        chosen = set(random.Random(seed).sample(range(len(kept)), max_instances))
        for i, inst in enumerate(kept):
            if i not in chosen:
                dropped.append((inst, Rejection("over_limit", f"more than {max_instances} instances")))
        kept = [inst for i, inst in enumerate(kept) if i in chosen]
    if not kept:
        return [], dropped, Rejection("no_instances", "no instance survived the filters")
    return kept, dropped, None
