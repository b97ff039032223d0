"""The whole Self-Instruct run (paper section 2.2, steps 1-4) as one dataflow over a resumable
run store.

Bootstrap prompts go out continuously (bootstrap.py judges their answers in prompt order);
each accepted instruction is classified the moment it is accepted (step 2) and gets its
instances the moment it is classified (steps 3-4). All three share the client's window
(``LLM.stream``) with downstream work first (instances, then classification, then new
prompts), so memory stays bounded and accepted tasks complete while new ones are found.

Everything an answer produces is committed in one transaction with the bootstrap's state
(``bootstrap_next``, ``empty_prompts``) and the run's stats, so a SIGKILL at any moment loses
nothing committed; the same command then rebuilds the pool from the stored candidates, asks
again only what was not answered (the per-call cache has every answer that arrived) and ends
with the same records as an uninterrupted run. ``--from-run`` copies the accepted, classified
instructions of another run and only writes instances (REFINE-AF stage 3: new instances from a
refined model). Alpaca mode has no classification or instance step: its triples are tasks.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.io import write_json
from ..data.checks import VALIDITY_REASONS, RecordChecker, normalise
from ..data.outdir import RUN_DB, SUMMARY
from ..data.records import Instance, Task, Triple
from ..data.runrecords import ACCEPTED, Candidate, InstanceRejection, TaskRecord
from ..data.store import RunStore
from ..models.client import LLM, Stream
from ..models.types import Completion
from .alpaca import AlpacaPrompts
from .bootstrap import Bootstrap, SelfInstructPrompts
from .classify import classify_request, parse_answer
from .common import StageContext
from .config import GenerateConfig
from .instances import InstanceTask

#: larger goes first: finish accepted tasks before starting new ones
PRIORITY = {"instances": 2, "classify": 1, "bootstrap": 0}


def read_source_run(run_dir: Path) -> tuple[list[Task], list[Candidate]]:
    """Seeds and accepted, classified candidates of an existing run (validated, read-only)."""
    if not (Path(run_dir) / RUN_DB).is_file():
        raise InputError(f"{run_dir}: not a run directory (no run.sqlite)")
    src = RunStore(run_dir, create=False)
    try:
        seeds = src.seeds()
        cands = src.candidates(accepted=True)
        if (src.read_config().get("generate") or {}).get("mode") == "alpaca":
            # Alpaca runs have no classification step: their tasks are treated as ordinary ones.
            for c in cands:
                c.is_classification, c.input, c.output = False, None, None
    finally:
        src.close()
    if not cands:
        raise InputError(f"{run_dir}: the run has no accepted instructions")
    missing = [c.key for c in cands if c.is_classification is None]
    if missing:
        raise InputError(
            f"{run_dir}: {len(missing)} instructions are not classified yet "
            "(finish that run first: rerun its generate command)"
        )
    return seeds, cands


#: the detail of a duplicate_output rejection while generating; it names no keeper, since which
#: task keeps an output is only final once every smaller key has arrived
DUPLICATE_DETAIL = "also the output of a task of an earlier prompt (the smaller key keeps it)"


def _duplicate(task_key: str, inst: Instance, before: list[Instance]) -> InstanceRejection:
    """The duplicate_output rejection of ``inst`` of task ``task_key``, keyed by its output (and how
    many of the task's instances with that output came before it): the same record whether the
    task's copy was rejected on arrival or taken away when the keeper arrived later, in whatever
    order the tasks in between came."""
    norm = normalise(inst.output)
    j = sum(normalise(i.output) == norm for i in before)
    tag = hashlib.sha1(norm.encode()).hexdigest()[:8]
    return InstanceRejection(
        f"{task_key}.x{tag}{j}", task_key, inst.input, inst.output, "duplicate_output", DUPLICATE_DETAIL
    )


def store_seeds(store: RunStore, seeds: list[Task]) -> None:
    with store.transaction():
        for t in seeds:
            store.add_seed(t)
        store.set_meta("num_seeds", len(seeds))


class GenerateFlow:
    """One generate run: the bootstrap (absent with ``--from-run``) feeding classification and
    instances through one stream."""

    def __init__(self, ctx: StageContext, seeds: list[Task], from_run: bool):
        self.ctx = ctx
        self.cfg, self.store = ctx.cfg, ctx.store
        self.alpaca = ctx.cfg.mode == "alpaca" and not from_run
        self.boot: Bootstrap | None = None
        if not from_run:
            kind = AlpacaPrompts(self.cfg, seeds) if self.alpaca else SelfInstructPrompts(self.cfg, seeds)
            self.boot = Bootstrap(
                self.cfg,
                seeds,
                kind,
                self.store.candidates(),
                int(self.store.get_meta("bootstrap_next", 0)),
                int(self.store.get_meta("empty_prompts", 0)),
            )
        self.writes: list[Candidate | TaskRecord | InstanceRejection] = []
        self.replaces: list[Candidate | TaskRecord] = []
        self.reloaded: dict[str, TaskRecord] = {}  # stored tasks that lost an output since the last commit
        self.tasks_done = 0
        self.classifying: dict[str, Candidate] = {}  # sent for classification, no answer yet
        self.speculated: dict[str, Completion | None] = {}  # key -> speculative answer (None: in flight)
        self.awaiting: set[str] = set()  # classified as not classification, its speculative answer in flight
        # beyond the paper: the validity checks (data/checks.py); it remembers which task keeps
        # each output (the smallest key: the same records whatever order answers arrive in)
        self.checker = RecordChecker(self.cfg, self.cfg.enabled_checks())
        for t in self.store.tasks():  # key order
            for inst in t.instances if t.accepted else []:
                self.checker.claim(Triple(t.instruction, inst.input, inst.output), t.key)

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        cfg, store = self.cfg, self.store
        done_keys = store.task_keys()
        todo = [c for c in store.candidates(accepted=True) if c.key not in done_keys]
        self.tasks_done = len(done_keys)
        total = cfg.num_instructions if self.boot is not None else len(todo) + self.tasks_done
        llm = self.ctx.llm
        with llm.stream(step=lambda tag: tag[0]) as s, ui.progress("generate", total, status=True) as bar:
            bar.advance(min(self.tasks_done, total))
            for c in todo:  # resume: downstream work the last process did not finish
                self._next_step(s, c)
            while True:
                if self.boot is not None:
                    for _ in range(self.boot.wanted(s.free_slots())):
                        k, req = self.boot.issue()
                        s.submit(req, ("bootstrap", k), PRIORITY["bootstrap"])
                if cfg.speculative_instances and (self.boot is None or self.boot.finished):
                    self._speculate(s)
                if not s.outstanding:
                    break
                before = self.tasks_done
                got = s.wait(timeout=0.5)
                for tag, comp in got:
                    self._on_answer(s, tag, comp)
                if got:
                    self._commit()
                bar.advance(self.tasks_done - before)
                rps, tps = s.rate()
                accepted = self.boot.accepted if self.boot is not None else total
                bar.status(
                    f"{accepted} accepted · {s.in_flight} in flight · {rps:.1f} req/s · {tps:,.0f} tok/s"
                    f" · {llm.ledger.brief()}"
                )
        if self.boot is not None and self.boot.stop_reason:
            ui.info(f"[yellow]stopping: {self.boot.stop_reason}[/]")

    def _next_step(self, s: Stream, c: Candidate) -> None:
        if c.is_classification is None:
            self.classifying[c.key] = c
            s.submit(classify_request(c.instruction, self.cfg), ("classify", c), PRIORITY["classify"])
        else:
            s.submit(self._task(c, c.is_classification).request(self.cfg), ("instances", c), PRIORITY["instances"])

    def _task(self, c: Candidate, is_classification: bool) -> InstanceTask:
        return InstanceTask(
            c.instruction, is_classification, self.cfg.max_instances, seed=self.cfg.seed, checker=self.checker
        )

    def _speculate(self, s: Stream) -> None:
        """At the end of a run nothing new is found and slots would idle while the last tasks
        wait for their classification, then their instances: ask for the instances of the
        likely kind (input-first: most tasks are not classification) now, in those idle slots.
        The answer is the one the regular request would get (same request, same cache key)
        and is used only if the task turns out not to be classification."""
        # Only where answers come back one by one: in a batch engine a speculative request would
        # hold back the classification answers batched with it.
        if not self.classifying or not self.ctx.llm.executor.streams():
            return
        room = s.free_slots()
        for key, c in self.classifying.items():
            if room <= 0:
                break
            if key not in self.speculated:
                self.speculated[key] = None
                s.submit(self._task(c, False).request(self.cfg), ("speculative", c), PRIORITY["instances"])
                room -= 1

    def _on_answer(self, s: Stream, tag: tuple[str, Any], comp: Completion) -> None:
        step, ref = tag
        if step == "bootstrap":
            assert self.boot is not None
            for rec in self.boot.receive(ref, comp):
                self.writes.append(rec)
                if isinstance(rec, TaskRecord):
                    self.tasks_done += 1
                elif isinstance(rec, Candidate) and rec.accepted and not self.alpaca:
                    self._next_step(s, rec)
            if self.boot.finished:  # prompts not sent yet are not needed any more
                s.drop_queued(lambda t: t[0] == "bootstrap")
        elif step == "classify":
            c: Candidate = ref
            self.classifying.pop(c.key, None)
            spec = self.speculated.pop(c.key, "none")
            if not comp.ok:  # refused by the server: the task is rejected, counted, not retried
                self._add_task(*self._task(c, False).answer_record(c.key, comp))
                return
            c.is_classification = parse_answer(comp.text, self.cfg.classify_parse)
            c.classify_answer = comp.text.strip()
            self.replaces.append(c)
            if c.is_classification or spec == "none":
                self._next_step(s, c)
            elif spec is None:  # asked already: wait for that answer
                self.awaiting.add(c.key)
            else:
                assert not isinstance(spec, str)  # "none" was handled above
                self._add_task(*self._task(c, False).answer_record(c.key, spec))
        elif step == "speculative":
            c = ref
            if c.key in self.awaiting:
                self.awaiting.discard(c.key)
                self._add_task(*self._task(c, False).answer_record(c.key, comp))
            elif c.key in self.speculated:  # classification still to come
                self.speculated[c.key] = comp
        else:
            c = ref
            self._add_task(*self._task(c, bool(c.is_classification)).answer_record(c.key, comp))

    def _add_task(self, task: TaskRecord, rejections: list[InstanceRejection]) -> None:
        if task.accepted:  # the same output for different instructions: the smallest task key keeps it
            kept: list[Instance] = []
            lost: list[Instance] = []
            for inst in task.instances:
                r, loser = self.checker.claim(Triple(task.instruction, inst.input, inst.output), task.key)
                if r is None:
                    kept.append(inst)
                    if loser is not None:
                        self._take_output(loser, inst.output)
                else:
                    rejections.append(_duplicate(task.key, inst, lost))
                    lost.append(inst)
            if not kept:
                task.accepted, task.reason, task.detail = False, "no_instances", "no instance survived the filters"
            task.instances = kept
        self.writes += [task, *rejections]
        self.tasks_done += 1

    def _take_output(self, key: str, output: str) -> None:
        """Task ``key`` (accepted, a larger key) loses its instances with ``output`` to a task of
        a smaller key: they become the same duplicate_output rejections as if that
        task had arrived first, and the task is rejected (no_instances) if nothing is left."""
        rec = next((w for w in self.writes if isinstance(w, TaskRecord) and w.key == key), None)
        if rec is None:
            rec = self.reloaded.get(key)
        if rec is None:  # committed before: rewrite the stored task
            payload = self.store.get(TaskRecord.kind, key)
            assert payload is not None, key
            rec = self.reloaded[key] = TaskRecord.from_row(key, ACCEPTED, payload)
            self.replaces.append(rec)
        norm = normalise(output)
        lost: list[Instance] = []
        for inst in [i for i in rec.instances if normalise(i.output) == norm]:
            self.writes.append(_duplicate(key, inst, lost))
            lost.append(inst)
        rec.instances = [i for i in rec.instances if normalise(i.output) != norm]
        if not rec.instances:
            rec.accepted, rec.reason, rec.detail = False, "no_instances", "no instance survived the filters"

    def _commit(self) -> None:
        with self.store.transaction():
            for rec in self.writes:
                self.store.put(rec)
            for c in self.replaces:
                self.store.replace(c)
            if self.boot is not None:
                self.store.set_meta("bootstrap_next", self.boot.next_judge)
                self.store.set_meta("empty_prompts", self.boot.empty)
            self.ctx.commit_stats()
        self.writes, self.replaces, self.reloaded = [], [], {}


def run_generate(
    store: RunStore, llm: LLM, cfg: GenerateConfig, seeds: list[Task], source: list[Candidate] | None = None
) -> dict[str, Any]:
    """Run (or resume) the whole pipeline, then write summary.json and return the summary."""
    cfg.resolve_pool_lag(llm.executor.window())
    store_seeds(store, seeds)
    ctx = StageContext(store, llm, cfg)
    if source is not None:
        with store.transaction():
            for c in source:
                store.put(c)
            store.set_meta("from_run", True)
    store.set_meta("stage", "generating")
    GenerateFlow(ctx, seeds, from_run=source is not None).run()
    with store.transaction():
        store.set_meta("stage", "instances")
        ctx.commit_stats()
    summary = summarize(store)
    summary["config"] = {"num_instructions": cfg.num_instructions, "filters": cfg.filters}
    write_json(store.dir / SUMMARY, summary)
    show_summary(summary)
    return summary


def summarize(store: RunStore) -> dict[str, Any]:
    cands = store.candidates()
    reasons = Counter(c.reason for c in cands if not c.accepted)
    accepted = sum(c.accepted for c in cands)
    judged = len(cands) - reasons.get("surplus", 0)
    tasks = store.tasks()
    inst_reasons = Counter(r.reason for r in store.instance_rejections())
    clf = Counter(c.is_classification for c in cands if c.accepted and c.is_classification is not None)
    return {
        "stage": store.get_meta("stage"),
        "num_seeds": store.get_meta("num_seeds", 0),
        "prompts": store.get_meta("bootstrap_next", 0),
        "candidates": len(cands),
        "accepted": accepted,
        "rejected": len(cands) - accepted,
        # surplus candidates (the target was already reached in their answer) were never judged
        "acceptance_rate": round(accepted / judged, 4) if judged else None,
        "rejections_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "classification": {"yes": clf.get(True, 0), "no": clf.get(False, 0)},
        "tasks_accepted": sum(t.accepted for t in tasks),
        "tasks_rejected": dict(Counter(t.reason for t in tasks if not t.accepted)),
        "instances": sum(len(t.instances) for t in tasks if t.accepted),
        "instance_rejections_by_reason": dict(sorted(inst_reasons.items(), key=lambda kv: -kv[1])),
        # beyond the paper (data/checks.py): what the validity checks rejected, by reason
        "validity": {
            "checks": (store.read_config().get("generate") or {}).get("filters", "paper") != "paper",
            "instructions": {r: reasons[r] for r in VALIDITY_REASONS if reasons.get(r)},
            "instances": {r: inst_reasons[r] for r in VALIDITY_REASONS if inst_reasons.get(r)},
        },
        "stats": store.get_meta("stats", {}),
    }


def show_summary(s: dict[str, Any]) -> None:
    st = s["stats"]
    rate = f"{s['acceptance_rate']:.1%}" if s["acceptance_rate"] is not None else "-"
    ui.show(
        ui.table(
            "generate summary",
            ["metric", "value"],
            [
                ["candidates (accepted / rejected)", f"{s['candidates']} ({s['accepted']} / {s['rejected']})"],
                ["acceptance rate", rate],
                ["classification (yes / no)", f"{s['classification']['yes']} / {s['classification']['no']}"],
                ["tasks with instances", s["tasks_accepted"]],
                ["instances", s["instances"]],
                [
                    "requests (cache hits, errors)",
                    f"{st.get('requests', 0)} ({st.get('cache_hits', 0)}, {st.get('errors', 0)})",
                ],
                ["tokens (prompt / completion)", f"{st.get('prompt_tokens', 0)} / {st.get('completion_tokens', 0)}"],
                ["wall seconds", st.get("wall_seconds", 0)],
            ],
        )
    )
    rows = [[r, n] for r, n in s["rejections_by_reason"].items()]
    rows += [[f"task: {r}", n] for r, n in s["tasks_rejected"].items()]
    rows += [[f"instance: {r}", n] for r, n in s["instance_rejections_by_reason"].items()]
    if rows:
        ui.show(ui.table("rejections by reason", ["reason", "count"], rows))
    v = s.get("validity") or {}
    caught = {**v.get("instructions", {}), **{f"instance: {r}": n for r, n in v.get("instances", {}).items()}}
    if caught:
        ui.info("rejected by the validity checks: " + ", ".join(f"{r} {n}" for r, n in caught.items()))
    target = (s.get("config") or {}).get("num_instructions")
    if target and s["tasks_accepted"] == 0:
        ui.info(
            f"[yellow]none of the {target} requested instructions has an instance that passed the filters: "
            "the export will be empty (a bigger model or --num-instructions higher gets more)[/]"
        )
    elif target and s["tasks_accepted"] < target:
        ui.info(
            f"[yellow]only {s['tasks_accepted']} of the {target} requested instructions have instances that "
            "passed the filters: the export holds only those (a bigger model or --num-instructions "
            "higher gets more)[/]"
        )
