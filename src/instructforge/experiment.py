"""Experiment files: a declared chain of stages, each resumable and skipped once complete.

An experiment file (YAML) names an output directory, a default model and a list of stages::

    out: runs/refine_af_small
    model: embedded                     # a spec, or a mapping of ModelConfig fields
    stages:
      - {name: si, command: generate, settings: {num_instructions: 20}}
      - {name: si_data, command: export, run: "{si}", format: alpaca}
      - {name: sft, command: finetune, data: "{si_data}"}
      - {name: eval_sft, command: evaluate superni, tasks: ../data/superni, model: "hf:{sft}"}

Every stage runs the same Python function as its command (instructforge.api; the stage kinds
are the registry's commands with inputs, api/registry.py), with its own
output under ``OUT/NAME/``; ``"{name}"`` in any value is an earlier stage's output, relative
input paths are relative to the experiment file, and a dataset name (``tasks: superni-test``,
``instructforge data list``) is fetched into the cache before the first stage runs. ``settings`` are the fields of the command's
config (``instructforge config show COMMAND``), checked like a ``--config`` file (file, line,
closest valid name) before any stage runs. A finished stage leaves ``OUT/NAME/.stage.json``
(its resolved definition); running the file again skips every stage whose marker matches and
resumes the first one that is not finished (its own resume: a run store, RL checkpoints, the
call cache), so a killed experiment loses nothing it had finished.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .api.registry import Command, stage_output
from .api.registry import load as load_ref
from .api.registry import stages as stage_commands
from .core import ui
from .core.errors import InputError
from .core.io import write_json
from .core.settings import Settings, Source, key_lines, yaml_node
from .data.datasets import dataset_path
from .data.datasets import is_name as is_dataset
from .data.outdir import EXPERIMENT, EXPERIMENT_PLAN, STAGE_MARKER, write_config
from .models.modelconfig import ACCOUNTING, ModelConfig
from .train.common import release_memory

_REF = re.compile(r"\{([A-Za-z0-9_.-]+)\}")


COMMON = {"name", "command", "model", "settings"}


@dataclass
class Stage:
    name: str
    command: str
    kind: Command
    inputs: dict[str, Any]
    model: ModelConfig | None
    config: Any
    spec: dict[str, Any]  # the resolved definition (what the marker records)


@dataclass
class Experiment:
    path: Path
    out: Path
    stages: list[Stage]


def _where(path: Path, lines: dict[str, int], *keys: Any) -> str:
    name = ".".join(str(k) for k in keys)
    return f"{path}:{lines.get(name, '?')}"


def _model(value: Any, default: ModelConfig, where: str) -> ModelConfig:
    if value is None:
        return default
    settings = Settings("experiment model", [ModelConfig])
    data = {"model": value} if isinstance(value, str) else value
    if not isinstance(data, dict):
        raise InputError(f"{where}: model must be a spec or a mapping of model settings")
    merged = {**dataclasses.asdict(default), **settings.resolve([Source(data, {k: where for k in data})])}
    return ModelConfig(**merged)


def load(path: Path | str, out: Path | str | None = None) -> Experiment:
    """Read and check the whole experiment file (every stage, every setting) before anything runs."""
    path = Path(path)
    data, node = yaml_node(path)
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not data["stages"]:
        raise InputError.at(path, 1, "an experiment needs a list of stages (stages: [...])")
    # line numbers: stage i's keys under "stages.i.key"
    lines = key_lines(node)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == "stages" and isinstance(v, yaml.SequenceNode):
                for i, item in enumerate(v.value):
                    lines[f"stages.{i}"] = item.start_mark.line + 1
                    lines.update(key_lines(item, f"stages.{i}."))
    unknown_top = sorted(set(data) - {"out", "model", "stages"})
    if unknown_top:
        raise InputError(
            f"{_where(path, lines, unknown_top[0])}: unknown key {unknown_top[0]!r} "
            "(an experiment has out, model, stages)"
        )
    base = path.parent
    out_dir = Path(out) if out is not None else Path(data.get("out") or f"runs/{path.stem}")
    default_model = _model(data.get("model"), ModelConfig(), _where(path, lines, "model"))
    kinds = stage_commands()
    outputs: dict[str, Path] = {}
    stages: list[Stage] = []
    for i, raw in enumerate(data["stages"]):
        at = _where(path, lines, "stages", i)
        if not isinstance(raw, dict) or "name" not in raw or "command" not in raw:
            raise InputError(f"{at}: a stage needs a name and a command")
        name, command = str(raw["name"]), str(raw["command"])
        if name in outputs or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise InputError(f"{at}: stage name {name!r} is repeated or not a plain name")
        kind = kinds.get(command)
        if kind is None:
            raise InputError(f"{at}: unknown command {command!r} (an experiment runs {', '.join(kinds)})")
        extra = sorted(set(raw) - COMMON - set(kind.inputs or {}))
        if extra:
            raise InputError(
                f"{_where(path, lines, 'stages', i, extra[0])}: {command} takes no {extra[0]!r} "
                f"(its inputs: {', '.join(kind.inputs or {}) or 'none'})"
            )

        def subst(v: Any, key: str, i: int = i) -> Any:
            if not isinstance(v, str):
                return v
            for ref in _REF.findall(v):
                if ref not in outputs:
                    raise InputError(f"{_where(path, lines, 'stages', i, key)}: {{{ref}}} is not an earlier stage")
            return _REF.sub(lambda m: str(outputs[m.group(1)]), v)

        inputs: dict[str, Any] = {}
        for key, required in (kind.inputs or {}).items():
            if key not in raw:
                if required:
                    raise InputError(f"{at}: {command} needs {key!r}")
                continue
            v = subst(raw[key], key)
            if key not in kind.value_inputs and isinstance(v, str) and is_dataset(v) and not (base / v).exists():
                pass  # a dataset name (superni-test ...): fetched before the first stage runs
            elif key not in kind.value_inputs:
                p = Path(v)
                v = p if p.is_absolute() or _REF.search(str(raw[key])) else (base / p)
            inputs[key] = v
        model = (
            _model(subst(raw.get("model"), "model"), default_model, _where(path, lines, "stages", i, "model"))
            if kind.uses_model
            else None
        )
        config = None
        config_cls = load_ref(kind.config) if kind.config is not None else None
        if config_cls is not None:
            settings = raw.get("settings") or {}
            if not isinstance(settings, dict):
                raise InputError(f"{_where(path, lines, 'stages', i, 'settings')}: settings must be a mapping")
            assert isinstance(config_cls, type)
            st = Settings(command, [config_cls])
            where = {str(k): _where(path, lines, "stages", i, "settings", k) for k in settings}
            config = st.build(st.resolve([Source(settings, where)]))[0]
        elif raw.get("settings"):
            raise InputError(f"{_where(path, lines, 'stages', i, 'settings')}: {command} has no settings")
        out_path = out_dir / name
        spec = {
            "command": command,
            "inputs": {k: str(v) for k, v in inputs.items()},
            "model": {k: v for k, v in model.public().items() if k not in ACCOUNTING} if model else None,
            "settings": _plain(config),
        }
        stages.append(Stage(name, command, kind, inputs, model, config, spec))
        outputs[name] = stage_output(command, out_path, inputs)
    return Experiment(path, out_dir, stages)


def _plain(config: Any) -> Any:
    from .core.settings import as_dict

    return as_dict(config) if config is not None else None


def stage_done(stage: Stage, out_dir: Path) -> bool:
    marker = out_dir / stage.name / STAGE_MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("spec") == stage.spec
    except (OSError, ValueError):
        return False


#: stages that take a ModelConfig but call no model (finetune trains it): caps do not apply
NO_CALLS = {"finetune"}
#: the ModelConfig fields ``experiment --price/--currency/--max-total-tokens/--budget`` set
CAPS = ("price", "currency", "max_total_tokens", "budget")


def _spent_elsewhere(exp: Experiment, name: str) -> tuple[int, float]:
    """Tokens and cost of the experiment's ledger so far outside stage ``name``'s dir."""
    from .api.usage import read_usage

    try:
        rows = read_usage(exp.out)["rows"] if exp.out.is_dir() else []
    except InputError:  # no stage has a ledger yet
        rows = []
    mine = [r for r in rows if not r["stage"].startswith(name + "/")]
    return sum(r["total_tokens"] for r in mine), sum(r["cost"] or 0.0 for r in mine)


def stage_model(exp: Experiment, st: Stage, caps: dict[str, Any] | None) -> ModelConfig | None:
    """The stage's model settings with the experiment's ``caps`` (CAPS fields) on top; a token
    cap or budget is over the whole experiment, so the stage gets what the other stages' ledgers
    leave of it (its own ledger counts its own earlier runs). Raises BudgetExceeded when nothing
    is left."""
    from .core.errors import BudgetExceeded

    model = st.model
    given = {k: v for k, v in (caps or {}).items() if v is not None}
    if model is None or not given or st.command in NO_CALLS:
        return model
    if "max_total_tokens" in given or "budget" in given:
        tokens, cost = _spent_elsewhere(exp, st.name)
        cap, budget = given.get("max_total_tokens"), given.get("budget")
        if (cap is not None and tokens >= cap) or (budget is not None and cost >= budget):
            raise BudgetExceeded(
                f"budget reached before stage {st.name}: the other stages spent {tokens:,} tokens"
                + (f" (--max-total-tokens {cap:,})" if cap is not None else "")
                + (f", cost {cost:.4f} (--budget {budget:g})" if budget is not None else "")
                + ". Everything answered is kept: rerun the same command with a higher cap (or none) to continue"
            )
        if cap is not None:
            given["max_total_tokens"] = cap - tokens
        if budget is not None:
            given["budget"] = budget - cost
    model = dataclasses.replace(model, **given)
    if model.budget is not None:
        spec = getattr(st.config, "judge", None) if st.command == "refine" else model.model
        if model.price_of(spec) is None:
            raise InputError(
                f"--budget: no price for stage {st.name}'s model {spec}: give --price IN,OUT (per million "
                "tokens) or a prices table entry for it"
            )
    return model


def run(exp: Experiment, *, only: list[str] | None = None, caps: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run every stage that is not finished, in order; returns one row per stage. ``caps``:
    ModelConfig fields (CAPS: ``price``, ``currency``, ``max_total_tokens``, ``budget``) set on
    every stage that calls a model; the token cap and the budget cover the whole experiment."""
    from .core.errors import BudgetExceeded

    todo = [st for st in exp.stages if not (only and st.name not in only) and not stage_done(st, exp.out)]
    if caps and (caps.get("max_total_tokens") is not None or caps.get("budget") is not None):
        for st in todo:  # a stage without a price for --budget: said before anything runs
            try:
                stage_model(exp, st, caps)
            except BudgetExceeded:
                pass
    # The datasets named as inputs are fetched first (only the tasks a stage's ``only`` selects),
    # so that an offline machine learns it before hours of work, and nothing is written then.
    for st in todo:
        for k, v in st.inputs.items():
            if k not in st.kind.value_inputs and isinstance(v, str) and is_dataset(v):
                dataset_path(v, only=getattr(st.config, "only", None) or None)
    exp.out.mkdir(parents=True, exist_ok=True)
    write_config(
        exp.out / EXPERIMENT_PLAN,
        {"file": str(exp.path), "out": str(exp.out), "stages": [{"name": s.name, **s.spec} for s in exp.stages]},
    )
    rows: list[dict[str, Any]] = []
    for i, st in enumerate(exp.stages, 1):
        stage_dir = exp.out / st.name
        if only and st.name not in only:
            rows.append({"stage": st.name, "command": st.command, "status": "not selected"})
            continue
        if stage_done(st, exp.out):
            ui.info(f"[{i}/{len(exp.stages)}] {st.name} ({st.command}): done, skipped")
            rows.append(
                {
                    "stage": st.name,
                    "command": st.command,
                    "status": "skipped (done)",
                    "output": str(stage_output(st.command, stage_dir, st.inputs)),
                }
            )
            _progress(exp, rows)
            continue
        ui.info(f"[{i}/{len(exp.stages)}] {st.name} ({st.command}) ...")
        t0 = time.perf_counter()
        kw: dict[str, Any] = dict(st.inputs)
        if st.kind.uses_model:
            kw["model"] = stage_model(exp, st, caps)
        if st.kind.config is not None:
            kw["config"] = st.config
        assert st.kind.stage is not None
        run_stage = load_ref(st.kind.stage)
        assert callable(run_stage)
        output = run_stage(stage_dir, **kw)
        release_memory()  # the next stage loads its own models: return this one's memory first
        seconds = round(time.perf_counter() - t0, 1)
        write_json(
            stage_dir / STAGE_MARKER,
            {
                "spec": st.spec,
                "output": str(output),
                "seconds": seconds,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
        )
        rows.append(
            {"stage": st.name, "command": st.command, "status": "ran", "seconds": seconds, "output": str(output)}
        )
        _progress(exp, rows)
    _progress(exp, rows)
    return rows


def _progress(exp: Experiment, rows: list[dict[str, Any]]) -> None:
    """experiment.json: each stage so far and its output (a report stage reads it)."""
    write_json(exp.out / EXPERIMENT, {"file": str(exp.path), "stages": rows})


def run_experiment(
    file: str | Path,
    *,
    out: str | Path | None = None,
    only: list[str] | None = None,
    caps: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every stage of an experiment file; one row per stage (what ran, what
    was skipped as already done, each output). The whole file is checked first. ``caps``:
    ``{"max_total_tokens": N, "budget": X, "price": "IN,OUT", "currency": "USD"}`` (any of them)
    for every stage that calls a model, the cap and budget over the whole experiment."""
    return run(load(file, out), only=only, caps=caps)
