"""The RL stage's logs: ``reward_log.jsonl`` (one line per step: the mean reward and each
feedback component, TRL's kl/loss) and ``reward_curve.json`` (the same as plot-ready lists),
rewritten atomically after every step, kept across a resume up to its checkpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.io import atomic_write
from ..data.outdir import REWARD_CURVE, REWARD_LOG


class RewardLog:
    """reward_log.jsonl + reward_curve.json, rewritten atomically after every step."""

    COMPONENTS = ("total", "reward_model", "overall", "naturalness", "coherence", "understandability", "parsed")

    def __init__(self, out_dir: Path, rew_label: str, keep_until: int | None, write: bool = True):
        self.path, self.curve = out_dir / REWARD_LOG, out_dir / REWARD_CURVE
        self.write = write  # False on ranks other than 0 (several training processes)
        self.rew_label = rew_label
        self.rows: list[dict[str, Any]] = []
        if keep_until is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row["step"] <= keep_until:
                    self.rows.append(row)
        self.t0 = time.perf_counter()

    def add(self, step: int, logs: dict[str, Any]) -> None:
        row: dict[str, Any] = {"step": step}
        for k in self.COMPONENTS:
            if f"feedback/{k}" in logs:
                row[k] = logs[f"feedback/{k}"]
        for k in ("reward", "reward_std", "kl", "loss", "entropy", "completions/mean_length"):
            if k in logs and logs[k] is not None:
                row[k.replace("completions/", "")] = logs[k]
        row["seconds"] = round(time.perf_counter() - self.t0, 3)
        self.t0 = time.perf_counter()
        self.rows = [r for r in self.rows if r["step"] != step] + [row]
        self.flush()

    def flush(self) -> None:
        if not self.write:
            return
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))
        curve: dict[str, Any] = {"step": [r["step"] for r in self.rows], "reward_model_source": self.rew_label}
        for k in (*self.COMPONENTS, "kl"):
            if any(k in r for r in self.rows):
                curve[k] = [r.get(k) for r in self.rows]
        atomic_write(self.curve, json.dumps(curve, indent=1) + "\n")


def log_callback(log: RewardLog) -> Any:
    from transformers import TrainerCallback

    class _Cb(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs and any(k.startswith("feedback/") for k in logs):
                log.add(int(state.global_step), logs)
                ui.info(f"step {state.global_step}: reward {logs.get('feedback/total', float('nan')):.4f}")

    return _Cb()
