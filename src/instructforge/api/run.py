"""The Python API of Self-Instruct generation: ``generate(...) -> Run``.

The ``instructforge generate`` command is a thin shell over ``generate``; a ``Run`` is a run
directory (``run.sqlite``, ``config.yaml``, ``summary.json``) with typed access to its records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import InputError
from ..core.settings import as_dict, option, validate
from ..data import outdir
from ..data.formats import EXPORT_FORMATS as EXPORT_FORMATS  # re-exported for cli/
from ..data.records import Task
from ..data.runrecords import Candidate, TaskRecord
from ..data.store import RunStore
from ..models.client import LLM as LLM  # re-exported for cli/ (which imports only api/)
from ..models.client import Stats as Stats
from ..models.modelconfig import ModelConfig
from ..models.types import Request as Request
from ..models.types import SamplingParams as SamplingParams
from ..selfinstruct.config import GenerateConfig
from .usage import store_sink, track


@dataclasses.dataclass
class AskConfig:
    """Settings of ``instructforge ask``: the sampling of its one request."""

    temperature: float = option(0.0, "Sampling temperature (0: greedy)", min=0, max=2, flag=True)
    top_p: float = option(1.0, "Nucleus sampling mass", min=0, max=1, flag=True)
    max_tokens: int = option(128, "New tokens at most", min=1, max=32768, flag=True)
    stop: list[str] = option(default_factory=list, help="Stop string", flag=True)
    seed: int = option(0, "Seed of a sampled answer", flag=True)
    system: str | None = option(None, "System message", flag=True)
    raw: bool = option(False, "Send PROMPT as a raw completion prompt (base models)", flag=True)

    def __post_init__(self) -> None:
        validate(self)

    def request(self, prompt: str) -> Request:
        params = SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, stop=tuple(self.stop)
        )
        if self.raw:
            return Request.raw(prompt, params=params, seed=self.seed)
        return Request.chat(prompt, system=self.system, params=params, seed=self.seed)


def model_config(model: str | ModelConfig | None, options: dict[str, Any]) -> ModelConfig:
    """``model``: a spec ("embedded", "openai:NAME") or a ModelConfig; ``options``: ModelConfig
    fields to set on top (``base_url=``, ``concurrency=`` ...)."""
    if isinstance(model, ModelConfig):
        return dataclasses.replace(model, **options) if options else model
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(f"unknown model option(s) {', '.join(unknown)}; ModelConfig has {', '.join(sorted(names))}")
    return ModelConfig(model=model or "embedded", **options)


class Run:
    """A generate run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.stats: Any = None  # the model calls of the generate() call that returned this Run
        if not (self.path / outdir.RUN_DB).is_file():
            raise InputError(f"{self.path}: not a run directory (no run.sqlite)")

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def _store(self) -> RunStore:
        return RunStore(self.path, create=False)

    @property
    def summary(self) -> dict[str, Any]:
        """summary.json (written when the run finishes), or the same figures from the store."""
        import json

        p = self.path / outdir.SUMMARY
        if p.is_file():
            data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
            return data
        from ..selfinstruct.pipeline import summarize

        with self._store() as st:
            return summarize(st)

    @property
    def config(self) -> dict[str, Any]:
        with self._store() as st:
            return st.read_config()

    def tasks(self, accepted: bool | None = True) -> list[TaskRecord]:
        with self._store() as st:
            return st.tasks(accepted)

    def candidates(self, accepted: bool | None = None) -> list[Candidate]:
        with self._store() as st:
            return st.candidates(accepted)

    def records(self, include_seeds: bool = False) -> list[dict[str, Any]]:
        """One dict per instance of every accepted task: instruction, input, output, task_key,
        is_classification (what every export format is made from)."""
        from ..selfinstruct.export import export_records

        with self._store() as st:
            return export_records(st, include_seeds)

    def to_dataset(self, include_seeds: bool = False) -> Any:
        """The records as a Hugging Face ``datasets.Dataset``."""
        from ..data.formats import hf_dataset

        return hf_dataset(self.records(include_seeds))

    def export(self, format: str, path: str | Path, include_seeds: bool = False) -> int:
        """Write ``path`` as alpaca | messages | prompt-completion | hf; returns the record count."""
        from ..selfinstruct.export import FORMATS, export_run

        if format not in FORMATS:
            raise InputError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        with self._store() as st:
            return export_run(st, format, Path(path), include_seeds)


def generate(
    seeds: str | Path | Sequence[Task] | None = None,
    *,
    out: str | Path,
    model: str | ModelConfig | None = "embedded",
    config: GenerateConfig | None = None,
    from_run: str | Path | None = None,
    **model_options: Any,
) -> Run:
    """Self-Instruct (or Alpaca-style) generation into the run directory ``out``; resumable:
    call it again with the same arguments to continue. ``seeds``: a seed file, the dataset name
    ``self-instruct-seeds`` (the paper's 175 seed tasks, fetched on first use), Task objects, or
    None for the project's own 175 packaged seeds. ``from_run``: only write instances for the accepted,
    classified instructions of that run (REFINE-AF stage 3). Everything is checked before
    anything is written.

    >>> # run = instructforge.generate(out="runs/x", model="openai:llama", base_url="http://...",
    >>> #                              config=GenerateConfig(num_instructions=200))
    """
    from ..data.datasets import resolve
    from ..selfinstruct.pipeline import read_source_run, run_generate
    from ..selfinstruct.seeds import PACKAGED_SEEDS, load_seeds

    cfg = config or GenerateConfig()
    mcfg = model_config(model, model_options)
    out = Path(out)
    source = None
    if from_run is not None:
        if Path(from_run).resolve() == out.resolve():
            raise InputError(f"{out}: --from-run and --out must be different directories")
        seed_tasks, source = read_source_run(Path(from_run))
        seeds_label = str(Path(from_run) / outdir.RUN_DB)
    elif seeds is None or isinstance(seeds, str | Path):
        # a dataset name (self-instruct-seeds: the paper's 175) is fetched here
        seed_path = resolve(seeds) if seeds is not None else PACKAGED_SEEDS
        seed_tasks, seeds_label = load_seeds(seed_path), str(seed_path)
    else:
        seed_tasks, seeds_label = list(seeds), "<python>"
        if not seed_tasks:
            raise InputError("seeds: no seed tasks given")
    llm = mcfg.open()
    try:
        cfg.resolve_pool_lag(llm.executor.window())
        store = RunStore(out)
        try:
            track("generate", store_sink(store), llm)
            store.write_config(
                {
                    "command": "generate",
                    "seeds": seeds_label,
                    "from_run": str(from_run) if from_run else None,
                    "model": mcfg.public(),
                    "generate": as_dict(cfg),
                }
            )
            run_generate(store, llm, cfg, seed_tasks, source)
        finally:
            store.close()
    finally:
        llm.close()
    run = Run(out)
    run.stats = llm.stats
    return run


def generate_stage(
    out: Path, model: ModelConfig, config: Any, seeds: Path | str | None = None, from_run: Path | None = None
) -> Path:
    """``generate`` as an experiment stage: the run dir."""
    return generate(seeds, out=out, model=model, config=config, from_run=from_run).path


def export_run_dir(
    run_dir: str | Path,
    fmt: str,
    out: str | Path,
    *,
    include_seeds: bool = False,
    min_score: float | None = None,
    score_field: str = "reward",
    top_k: int | None = None,
    audit: str | None = None,
    drop_flagged: bool = False,
    drop_contaminated: bool = False,
) -> tuple[int, dict[str, Any] | None, Path | None]:
    """``instructforge export``: write the run's accepted tasks to ``out`` in ``fmt``; with a
    curation rule (``quality.curate.Curation``), only the records whose scores pass;
    ``drop_contaminated``: without the records ``decontaminate RUN_DIR`` flagged. Returns
    (records written, the curation counts or None, where the counts went or None)."""
    from ..quality.curate import Curation, curation_path, export_curated
    from ..selfinstruct.export import export_records, export_run, run_seed, write_records

    cur = Curation(min_score=min_score, score_field=score_field, top_k=top_k, audit=audit, drop_flagged=drop_flagged)
    out = Path(out)
    store = RunStore(Path(run_dir), create=False)
    try:
        drop = None
        if drop_contaminated:
            from ..quality.decontaminate import contaminated_keys

            drop = contaminated_keys(store)
        if cur.active:
            counts = export_curated(store, fmt, out, include_seeds, cur, drop=drop)
            return counts["records_after"], counts, curation_path(out)
        if drop is None:
            return export_run(store, fmt, out, include_seeds), None, None
        recs = export_records(store, include_seeds)
        kept = [r for r in recs if r["seed"] or f"{r['task_key']}:{r['index']}" not in drop]
        ui.info(f"--drop-contaminated: {len(recs) - len(kept)} records left out")
        return write_records(kept, fmt, out, run_seed(store)), None, None
    finally:
        store.close()


def export_stage(out: Path, run: Path, format: str = "alpaca", include_seeds: bool = False) -> Path:
    """``export`` as an experiment stage: the data file under ``out``."""
    from .registry import stage_output

    target = stage_output("export", out, {"format": format})
    out.mkdir(parents=True, exist_ok=True)
    Run(run).export(format, target, include_seeds)
    return target
