"""Step 1 of Self-Instruct (paper section 2.2, "Instruction Generation"), with the filters, as
a stream of prompts.

A prompt shows 8 instructions (6 from the seeds, 2 machine-generated once 2 exist; shuffled) as
a numbered list and leaves the next number open. Prompts go out continuously (pipeline.py keeps
the executor's window full); answers come back in any order and wait in a reorder buffer, so
they are *judged in prompt order*, each candidate against the pool as it stands at judging time
(the paper's novelty filter). Prompt k draws its machine-generated instructions from the pool
as judged up to prompt ``k - pool_lag``: k's request then never depends on answers that may
still be in flight, and the same seed and the same answers give the same dataset whatever
order they arrive in. (The paper's code sends rounds of 5 prompts, each seeing the pool after
the previous round; ``pool_lag`` 0 is strictly sequential.) Prompt k's in-context sample comes
from a RNG seeded by (seed, k) and its request has ``sample_index`` k, so a resumed run asks
exactly the same questions and the per-call cache answers the ones already paid for.
"""

from __future__ import annotations

import bisect
import random
import re
from typing import Any, Protocol

from ..core.prompts import render
from ..data.checks import RecordChecker
from ..data.records import Instance, Rejection, Task
from ..data.runrecords import Candidate, InstanceRejection, TaskRecord
from ..models.types import Completion, Request, SamplingParams
from .common import make_request
from .config import GenerateConfig
from .filters import check_instruction
from .novelty import NoveltyIndex

_NUMBERED = re.compile(r"^\s*(\d+)\s*[.)]\s*", re.M)


def render_bootstrap_prompt(instructions: list[str]) -> str:
    tasks = "\n".join(
        render(__package__, "bootstrap_task", number=i, instruction=t) for i, t in enumerate(instructions, 1)
    )
    return render(__package__, "bootstrap", tasks=tasks, next=len(instructions) + 1)


def clean_instruction(text: str) -> str:
    """Collapse whitespace and upper-case the first letter (the paper also lower-cases the
    rest with ``str.capitalize``; we keep proper nouns)."""
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1].upper() + text[1:]


def parse_instructions(response: str, next_number: int, max_number: int = 15) -> list[str]:
    """Split a continuation of the numbered list into instructions.

    A completion model continues right after ``9.``; a chat model may restart with ``9.`` or
    ``1.``. Text before the first number is the first instruction only when the response does
    not itself start with a number (a line ending in ":" before a numbered list is a chat
    preamble and dropped). Items numbered above ``max_number`` are dropped.
    """
    if not _NUMBERED.match(response):
        head = _NUMBERED.split(response, maxsplit=1)[0].strip()
        if head.endswith(":") and _NUMBERED.search(response):
            response = response[response.index(head) + len(head) :]  # a chat preamble ("Here are...:")
        else:
            response = f"{next_number}. {response.lstrip()}"
    parts = _NUMBERED.split(response)
    out = []
    # parts = [prefix, num, text, num, text, ...]
    for num, text in zip(parts[1::2], parts[2::2], strict=True):
        if int(num) > max_number:
            break
        out.append(clean_instruction(text))
    return out


def sample_in_context(rng: random.Random, seeds: list[str], machine: list[str], cfg: GenerateConfig) -> list[str]:
    k_machine = cfg.num_machine_in_context if len(machine) >= cfg.num_machine_in_context else 0
    chosen = rng.sample(machine, k_machine) if k_machine else []
    chosen += rng.sample(seeds, min(len(seeds), cfg.num_prompt_instructions - len(chosen)))
    rng.shuffle(chosen)
    return chosen


def bootstrap_params(cfg: GenerateConfig) -> SamplingParams:
    return SamplingParams(
        temperature=cfg.bootstrap_temperature,
        top_p=cfg.bootstrap_top_p,
        max_tokens=cfg.bootstrap_max_tokens,
        stop=tuple(cfg.bootstrap_stop),
        presence_penalty=cfg.bootstrap_presence_penalty,
        frequency_penalty=cfg.bootstrap_frequency_penalty,
    )


class Pool:
    """The instruction pool (seeds + accepted) with its ROUGE-L index and exact-match set."""

    def __init__(self, cfg: GenerateConfig, seeds: list[str], accepted: list[str]):
        self.cfg = cfg
        self.index = NoveltyIndex(threshold=cfg.rouge_threshold, use_stemmer=False)
        self.checker = RecordChecker(cfg, cfg.enabled_checks())
        self.exact: set[str] = set()
        for t in [*seeds, *accepted]:
            self.index.add(t)
            self.exact.add(t.lower())
            self.checker.add_to_pool(t)

    def judge(self, text: str, truncated: bool = False) -> dict[str, Any]:
        """Decide one candidate; an accepted one joins the pool. Returns the payload fields."""
        rej: Rejection | None = Rejection("truncated", "response cut by max_tokens") if truncated else None
        if rej is None and not text:
            rej = Rejection("empty", "")
        if rej is None:
            rej = check_instruction(text, self.cfg)
        if rej is None:  # beyond the paper: the validity checks of an instruction (none with filters: paper)
            failed = self.checker.instruction(text, pool=False)
            rej = failed[0] if failed else None
        score, idx = self.index.max_similarity(text) if text else (0.0, None)
        if rej is None and text.lower() in self.exact:
            rej = Rejection("duplicate", "same text as a pool instruction")
        elif rej is None and score > self.cfg.rouge_threshold:
            rej = Rejection("too_similar", f"ROUGE-L {score:.3f} > {self.cfg.rouge_threshold}")
        if rej is None:  # beyond the paper, after its novelty rule: a pool instruction's words reused
            rej = self.checker.copies_pool(text)
        if rej is None:
            self.index.add(text)
            self.exact.add(text.lower())
            self.checker.add_to_pool(text)
        return {
            "reason": rej.reason if rej else None,
            "detail": rej.detail if rej else None,
            "max_rouge_l": round(float(score), 4),
            "most_similar": self.index.texts[idx] if idx is not None else None,
        }


class PromptKind(Protocol):
    """What a bootstrap prompt looks like: Self-Instruct's numbered list or Alpaca's triples."""

    key_prefix: str
    params: SamplingParams

    def prompt(self, rng: random.Random, machine: list[str]) -> tuple[str, int]:
        """(prompt text, the number the answer starts at)."""
        ...

    def parse(self, text: str, meta: int) -> list[dict[str, Any]]: ...


class SelfInstructPrompts:
    """The paper's step 1: numbered-list prompts, one instruction per list item."""

    key_prefix = "p"

    def __init__(self, cfg: GenerateConfig, seeds: list[Task]):
        self.cfg = cfg
        self.seed_instructions = [t.instruction for t in seeds]
        self.params = bootstrap_params(cfg)

    def prompt(self, rng: random.Random, machine: list[str]) -> tuple[str, int]:
        shown = sample_in_context(rng, self.seed_instructions, machine, self.cfg)
        return render_bootstrap_prompt(shown), len(shown) + 1

    def parse(self, text: str, meta: int) -> list[dict[str, Any]]:
        return [{"instruction": t} for t in parse_instructions(text, meta, self.cfg.max_list_number)]


Judged = list[Candidate | TaskRecord | InstanceRejection]
#: prompts in flight may exceed the number the target still seems to need by this factor: a
#: prompt that yields less than the average must not leave the run waiting for one more round
OVERISSUE = 1.25
PRIOR_YIELD = 2.0


class Bootstrap:
    """Issues bootstrap prompts and judges their answers in prompt order.

    ``state`` (what pipeline.py commits with each prompt's records): ``bootstrap_next``, the
    first prompt not judged yet, and ``empty_prompts``, how many judged prompts in a row
    accepted nothing. Everything else is rebuilt from the stored candidates on resume.
    """

    def __init__(
        self,
        cfg: GenerateConfig,
        seeds: list[Task],
        kind: PromptKind,
        stored: list[Candidate],
        next_prompt: int = 0,
        empty_prompts: int = 0,
    ):
        self.cfg, self.kind = cfg, kind
        accepted = [c for c in stored if c.accepted]  # key order = prompt order = judging order
        self.pool = Pool(cfg, [t.instruction for t in seeds], [c.instruction for c in accepted])
        self.machine = [c.instruction for c in accepted]
        self.machine_prompt = [c.prompt_index for c in accepted]
        self.accepted = len(accepted)
        self.next_judge = self.next_issue = next_prompt
        self.empty = empty_prompts
        self.buffer: dict[int, Completion] = {}
        self.meta: dict[int, int] = {}
        if cfg.pool_lag is None:
            raise ValueError("GenerateConfig.resolve_pool_lag() first: the lag depends on the client's window")
        self.lag = cfg.pool_lag

    @property
    def finished(self) -> bool:
        return self.accepted >= self.cfg.num_instructions or self.empty >= self.cfg.max_empty_prompts

    @property
    def stop_reason(self) -> str | None:
        if self.accepted >= self.cfg.num_instructions:
            return None
        if self.empty >= self.cfg.max_empty_prompts:
            return f"{self.empty} prompts in a row accepted nothing"
        return None

    def wanted(self, free_slots: int) -> int:
        """How many new prompts to send now: what fits, what the lag allows (prompt k needs
        prompts below k - lag judged), and no more than the target still seems to need."""
        if self.finished:
            return 0
        by_lag = self.next_judge + self.lag + 1 - self.next_issue
        waiting = self.next_issue - self.next_judge
        # Until a few prompts are judged, assume PRIOR_YIELD accepted instructions per prompt.
        per_prompt = self.accepted / self.next_judge if self.next_judge >= 4 and self.accepted else PRIOR_YIELD
        need = (self.cfg.num_instructions - self.accepted) * OVERISSUE / per_prompt
        return max(0, min(free_slots, by_lag, int(need) + 1 - waiting))

    def visible_machine(self, k: int) -> list[str]:
        """Machine instructions prompt k may show: accepted from prompts below k - lag."""
        return self.machine[: bisect.bisect_left(self.machine_prompt, k - self.lag)]

    def issue(self) -> tuple[int, Request]:
        k = self.next_issue
        self.next_issue += 1
        rng = random.Random(f"{self.cfg.seed}:{self.kind.key_prefix}:{k}")
        text, meta = self.kind.prompt(rng, self.visible_machine(k))
        self.meta[k] = meta
        return k, make_request(text, self.kind.params, self.cfg, sample_index=k)

    def receive(self, k: int, comp: Completion) -> Judged:
        """Buffer prompt k's answer; judge every answer that is next in prompt order."""
        if k < self.next_judge or self.finished:
            return []
        self.buffer[k] = comp
        out: Judged = []
        while self.next_judge in self.buffer and not self.finished:
            k = self.next_judge
            out += self._judge(k, self.buffer.pop(k), self.meta.pop(k))
            self.next_judge += 1
        return out

    def _judge(self, k: int, comp: Completion, meta: int) -> Judged:
        from .instances import InstanceTask

        cfg = self.cfg
        prefix = f"{self.kind.key_prefix}{k:06d}"
        if not comp.ok:
            self.empty += 1
            return [Candidate(f"{prefix}.00", "", False, k, "request_error", (comp.error or "")[:300])]
        cut = comp.finish_reason == "length"
        items = self.kind.parse(comp.text, meta)
        if not items and comp.text.strip():
            items = [{"instruction": clean_instruction(comp.text)[:500], "unparsed": True}]
        out: Judged = []
        before = self.accepted
        for j, item in enumerate(items):
            text = item["instruction"]
            unparsed = bool(item.get("unparsed")) or bool(item.get("bad_format"))
            if self.accepted >= cfg.num_instructions:
                fields: dict[str, Any] = {"reason": "surplus", "detail": "target reached earlier in this answer"}
            elif unparsed and not cut:
                fields = {"reason": "bad_format", "detail": "answer not in the list format"}
            else:
                last = j == len(items) - 1
                fields = self.pool.judge(text, truncated=cut and (last or cfg.truncated_policy == "response"))
            ok = fields["reason"] is None
            c = Candidate(
                f"{prefix}.{j:02d}",
                text,
                ok,
                k,
                fields["reason"],
                fields.get("detail"),
                fields.get("max_rouge_l"),
                fields.get("most_similar"),
                input=item.get("input") if "output" in item else None,
                output=item.get("output"),
            )
            out.append(c)
            if ok:
                self.accepted += 1
                self.machine.append(text)
                self.machine_prompt.append(k)
                if c.output is not None:  # Alpaca: the triple is the task's one instance
                    task, rejections = InstanceTask(
                        c.instruction, False, cfg.max_instances, checker=self.pool.checker
                    ).record(c.key, [Instance(c.input or "", c.output)])
                    out += [task, *rejections]
        self.empty = 0 if self.accepted > before else self.empty + 1
        return out
