"""``instructforge induce --as-seeds``: a user's raw example sets become Self-Instruct seed tasks.

Each ``*.jsonl`` file in a directory (one task, lines of ``{input, output}``) gets an instruction
induced from its first k demonstrations (Honovich et al. 2023, section 3), and becomes one task
in the Self-Instruct seed schema (Wang et al. 2023, section 2.1): ``id, name, instruction,
instances[{input, output}], is_classification``.

``is_classification`` rule (ours; the seed schema only says the task has a small label set):
at least 4 demonstrations and at most ``min(10, n // 2)`` distinct outputs (compared after
lowercasing and stripping), i.e. labels repeat at least twice on average.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.errors import InputError
from ..data.records import Instance, Task
from ..models.client import LLM
from .induce import InduceConfig, check_enough, induce, read_demos


def looks_like_classification(outputs: list[str]) -> bool:
    """>>> looks_like_classification(["yes", "No", "no", "yes"])
    True
    >>> looks_like_classification(["cat", "dog", "bird", "fish"])
    False
    """
    n = len(outputs)
    distinct = {o.strip().lower() for o in outputs}
    return n >= 4 and len(distinct) <= min(10, n // 2)


def demo_files(directory: Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError.at(directory, None, "not a directory")
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise InputError.at(directory, None, "no *.jsonl demonstration files")
    return files


def read_demo_dir(directory: Path, k: int) -> list[tuple[Path, list[tuple[str, str]]]]:
    """Every ``*.jsonl`` file of ``directory`` with its demonstrations, each checked (at least k)."""
    out = []
    for f in demo_files(directory):
        demos = read_demos(f)
        check_enough(f, demos, k)
        out.append((f, demos))
    return out


def seeds_from_sets(
    llm: LLM, sets: list[tuple[Path, list[tuple[str, str]]]], cfg: InduceConfig | None = None
) -> list[Task]:
    """One seed task per (file, demonstrations) from ``read_demo_dir`` (files already checked, so
    nothing fails after the model calls)."""
    cfg = cfg or InduceConfig()
    demo_lists = [d for _, d in sets]
    texts = induce(llm, [d[: cfg.k] for d in demo_lists], cfg, desc="inducing seed instructions")
    # A seed needs an instruction: an empty one is asked again, sampled (up to 3 tries).
    sampled = replace(cfg, temperature=0.9)
    for attempt in range(1, 4):
        empty = [i for i, t in enumerate(texts) if not t]
        if not empty:
            break
        again = induce(llm, [demo_lists[i][: cfg.k] for i in empty], sampled, sample_indices=[attempt] * len(empty))
        for i, t in zip(empty, again, strict=True):
            texts[i] = t
    tasks = []
    for (f, demos), text in zip(sets, texts, strict=True):
        tasks.append(
            Task(
                instruction=text,
                instances=[Instance(i, o) for i, o in demos],
                is_classification=looks_like_classification([o for _, o in demos]),
                id=f"user_{f.stem}",
                name=f.stem,
            )
        )
    return tasks
