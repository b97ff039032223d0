"""Step 1 of Self-Instruct (paper section 2.2, "Instruction Generation"), with the filters.

Each round sends ``prompts_per_round`` prompts as one backend batch. A prompt shows 8
instructions (6 from the seeds, 2 machine-generated once 2 exist; shuffled) as a numbered list
and leaves the next number open. The answers are split on the numbering; every piece becomes a
``candidate`` record, accepted or rejected with its reason, all committed in ONE transaction
per round together with the round counter. The in-context sample of round r comes from a RNG
seeded by (seed, r), so a resumed run replays an interrupted round exactly, and the per-call
cache makes that replay free.
"""

from __future__ import annotations

import random
import re
from typing import Any

from .. import ui
from ..novelty import NoveltyIndex
from ..records import Instance, Rejection, SamplingParams, Task
from .common import StageContext, make_request, template
from .config import GenerateConfig
from .filters import check_instruction

_NUMBERED = re.compile(r"^\s*(\d+)\s*[.)]\s*", re.M)


def render_bootstrap_prompt(instructions: list[str]) -> str:
    tasks = "\n".join(f"{i}. {t}" for i, t in enumerate(instructions, 1))
    return template("bootstrap.txt").substitute(tasks=tasks, next=len(instructions) + 1)


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
            response = response[response.index(head) + len(head):]  # a chat preamble ("Here are...:")
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
    return SamplingParams(temperature=cfg.bootstrap_temperature, top_p=cfg.bootstrap_top_p,
                          max_tokens=cfg.bootstrap_max_tokens, stop=tuple(cfg.bootstrap_stop),
                          presence_penalty=cfg.bootstrap_presence_penalty,
                          frequency_penalty=cfg.bootstrap_frequency_penalty)


class Pool:
    """The instruction pool (seeds + accepted) with its ROUGE-L index and exact-match set."""

    def __init__(self, cfg: GenerateConfig, seeds: list[str], accepted: list[str]):
        self.cfg = cfg
        self.index = NoveltyIndex(threshold=cfg.rouge_threshold, use_stemmer=False)
        self.exact: set[str] = set()
        for t in [*seeds, *accepted]:
            self.index.add(t)
            self.exact.add(t.lower())

    def judge(self, text: str, truncated: bool = False) -> dict[str, Any]:
        """Decide one candidate; an accepted one joins the pool. Returns the payload fields."""
        rej: Rejection | None = Rejection("truncated", "response cut by max_tokens") if truncated else None
        if rej is None and not text:
            rej = Rejection("empty", "")
        if rej is None:
            rej = check_instruction(text, self.cfg)
        score, idx = self.index.max_similarity(text) if text else (0.0, None)
        if rej is None and text.lower() in self.exact:
            rej = Rejection("duplicate", "same text as a pool instruction")
        elif rej is None and score > self.cfg.rouge_threshold:
            rej = Rejection("too_similar", f"ROUGE-L {score:.3f} > {self.cfg.rouge_threshold}")
        if rej is None:
            self.index.add(text)
            self.exact.add(text.lower())
        return {"reason": rej.reason if rej else None, "detail": rej.detail if rej else None,
                "max_rouge_l": round(float(score), 4),
                "most_similar": self.index.texts[idx] if idx is not None else None}


class SelfInstructRounds:
    """The paper's step 1: numbered-list prompts, one instruction per list item."""

    key_prefix = "r"

    def __init__(self, cfg: GenerateConfig, seeds: list[Task]):
        self.cfg = cfg
        self.seed_instructions = [t.instruction for t in seeds]
        self.params = bootstrap_params(cfg)

    def prompts(self, rng: random.Random, accepted: list[str]) -> list[tuple[str, int]]:
        out = []
        for _ in range(self.cfg.prompts_per_round):
            shown = sample_in_context(rng, self.seed_instructions, accepted, self.cfg)
            out.append((render_bootstrap_prompt(shown), len(shown) + 1))
        return out

    def parse(self, text: str, meta: int) -> list[dict[str, Any]]:
        return [{"instruction": t} for t in parse_instructions(text, meta, self.cfg.max_list_number)]


def run_rounds(ctx: StageContext, seeds: list[Task], rounds: Any) -> None:
    """Generate rounds until ``num_instructions`` candidates are accepted (or too many empty
    rounds in a row). ``rounds`` is SelfInstructRounds or alpaca.AlpacaRounds: it makes the
    round's prompts and parses an answer into candidate dicts (``instruction`` and, in Alpaca
    mode, ``input``/``output``, which then also become a ``task`` after the instance filters)."""
    from .instances import build_task

    store, cfg = ctx.store, ctx.cfg
    accepted = [p["instruction"] for _, _, p in store.iter("candidate", "accepted")]
    pool = Pool(cfg, [t.instruction for t in seeds], accepted)
    rnd = int(store.get_meta("rounds", 0))
    empty = int(store.get_meta("empty_rounds", 0))
    with ui.progress("instructions", cfg.num_instructions) as bar:
        bar.advance(min(len(accepted), cfg.num_instructions))
        while len(accepted) < cfg.num_instructions:
            if empty >= cfg.max_empty_rounds:
                ui.info(f"[yellow]stopping: {empty} rounds in a row accepted nothing[/]")
                break
            rng = random.Random(f"{cfg.seed}:{rounds.key_prefix}:{rnd}")
            prompts = rounds.prompts(rng, accepted)
            reqs = [make_request(p, rounds.params, cfg, sample_index=rnd * len(prompts) + i)
                    for i, (p, _) in enumerate(prompts)]
            comps = ctx.llm.generate(reqs, desc=f"round {rnd}")
            rows, tasks = [], []
            before = len(accepted)
            for i, ((_, meta), comp) in enumerate(zip(prompts, comps, strict=True)):
                cut = comp.finish_reason == "length"
                items = rounds.parse(comp.text, meta)
                if not items and comp.text.strip():
                    items = [{"instruction": clean_instruction(comp.text)[:500], "unparsed": True}]
                for j, item in enumerate(items):
                    text = item["instruction"]
                    unparsed = bool(item.pop("unparsed", False)) | bool(item.pop("bad_format", False))
                    if len(accepted) >= cfg.num_instructions:
                        fields = {"reason": "surplus", "detail": "target reached earlier in this round",
                                  "max_rouge_l": None, "most_similar": None}
                    elif unparsed and not cut:
                        fields = {"reason": "bad_format", "detail": "answer not in the list format",
                                  "max_rouge_l": None, "most_similar": None}
                    else:
                        last = j == len(items) - 1
                        fields = pool.judge(text, truncated=cut and (last or cfg.truncated_policy == "response"))
                    status = "accepted" if fields["reason"] is None else "rejected"
                    key = f"{rounds.key_prefix}{rnd:05d}.{i:02d}.{j:02d}"
                    payload = {**item, "round": rnd, **fields}
                    if status == "accepted":
                        accepted.append(text)
                        if "output" in item:
                            raw = [Instance(item.get("input", ""), item["output"])]
                            tasks.append((key, *build_task(key, payload, raw, cfg.max_instances)))
                    rows.append((key, payload, status))
            empty = 0 if len(accepted) > before else empty + 1
            rnd += 1
            with store.transaction():
                for key, payload, status in rows:
                    store.add("candidate", key, payload, status)
                for key, task, status, rejections in tasks:
                    store.add("task", key, task, status)
                    for rkey, rp in rejections:
                        store.add("instance_rejection", rkey, rp, "rejected")
                store.set_meta("rounds", rnd)
                store.set_meta("empty_rounds", empty)
                ctx.commit_stats()
            bar.advance(len(accepted) - before)
