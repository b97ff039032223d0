"""``generate --estimate`` / ``estimate_generate(...)``: expected requests, tokens and cost of a
generate run before it runs (selfinstruct/estimate.py has the arithmetic).

The sample it extrapolates from: the run in ``out`` so far when it has accepted instructions
(no model call at all), else a pilot of ``pilot`` instructions with the same settings (the pool
lag the full run would use, so the pilot's prompts are the full run's first prompts) in a
temporary run dir. The pilot's answers stay in the call cache, so the real run gets them back
as cache hits instead of paying twice.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.io import write_json
from ..data import outdir
from ..data.records import Task
from ..data.store import RunStore
from ..models.modelconfig import ModelConfig
from ..models.usage import StoreSink, summarize
from ..selfinstruct.config import GenerateConfig
from .run import generate, model_config

ESTIMATE_FILE = outdir.ESTIMATE


def _sample(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(ledger summary, run summary) of a run dir with accepted instructions, else None."""
    from ..selfinstruct.pipeline import summarize as run_summary

    if not (run_dir / outdir.RUN_DB).is_file():
        return None
    with RunStore(run_dir, create=False) as st:
        led = summarize(StoreSink(st).load())
        summ = run_summary(st)
    if not summ.get("accepted") or not led["stages"]:
        return None
    return led, summ


def estimate_generate(
    seeds: str | Path | Sequence[Task] | None = None,
    *,
    out: str | Path,
    model: str | ModelConfig | None = "embedded",
    config: GenerateConfig | None = None,
    pilot: int = 10,
    **model_options: Any,
) -> dict[str, Any]:
    """The estimate for ``config.num_instructions`` (see the module docstring); written to
    ``out/estimate.json`` and returned: ``expected`` / ``low`` / ``high`` (requests, tokens,
    cost), per-step figures, the acceptance rate and its interval, what the sample spent."""
    from ..selfinstruct.estimate import estimate

    cfg = config or GenerateConfig()
    mcfg = model_config(model, model_options)
    if pilot < 1:
        raise InputError(f"--pilot {pilot}: must be at least 1")
    out = Path(out)
    price = mcfg.price_of()
    found = _sample(out)
    if found is not None:
        led, summ = found
        res = estimate(
            led["stages"],
            summ,
            cfg.num_instructions,
            price=price,
            currency=mcfg.currency,
            spent=led["total"],
            sample="run so far",
        )
    else:
        full = dataclasses.replace(cfg)
        llm = mcfg.open()
        try:
            full.resolve_pool_lag(llm.executor.window())
        finally:
            llm.close()
        pilot_cfg = dataclasses.replace(full, num_instructions=min(pilot, cfg.num_instructions))
        with tempfile.TemporaryDirectory(prefix="instructforge-pilot-") as tmp:
            run = generate(seeds, out=Path(tmp) / "pilot", model=mcfg, config=pilot_cfg)
            found = _sample(run.path)
            if found is None:
                raise InputError(f"estimate: the pilot of {pilot_cfg.num_instructions} accepted no instruction")
            led, summ = found
        res = estimate(led["stages"], summ, cfg.num_instructions, price=price, currency=mcfg.currency)
        res["pilot_spent"] = {k: led["total"][k] for k in ("requests", "cache_hits", "total_tokens", "cost")}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / ESTIMATE_FILE, res)
    return res
