"""Automated feedback on an (instruction, input, output) triple (REFINE-AF, arXiv 2505.06548, section 3.2).

REFINE-AF scores each triple the instance writer produces with

- a reward-model score (the paper: OpenAssistant ``oasst-rm-pythia-1.4b``). Here: any local
  Hugging Face sequence-classification model (``RewardModelScorer``). Without one, the judge's
  P(yes) to an overall-quality question stands in (a *substitute*, labelled as such in logs);
- naturalness, coherence and understandability, the UniEval dimensions (Zhong et al. 2022).
  UniEval asks a boolean question per dimension and scores P(yes) / (P(yes) + P(no)).
  ``UniEvalScorer`` runs the real UniEval checkpoint (T5, seq2seq) from a local dir with its
  documented boolean-QA input format; ``JudgeScorer`` asks the same kind of yes/no question of
  any instructforge model (the embedded model by default) through ``LLM.generate`` with
  ``max_tokens=1, logprobs=20`` and reads the first token's top log-probabilities.

Every scorer has one method: ``score(triples) -> {dimension: [float, ...]}``. ``JudgeScorer``
also serves ``instructforge score``'s audit questions (another prompt set, see quality/audit.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.prompts import prompt_dir, render
from ..data.records import Triple
from ..models.types import Request, SamplingParams

PROMPTS = prompt_dir(__package__)  # quality/scoring.py fingerprints the judge prompts' text
DIMENSIONS = ("naturalness", "coherence", "understandability")
YES = frozenset({"yes", "y"})
NO = frozenset({"no", "n"})


def render_judge_prompt(dimension: str, t: Triple) -> str:
    """The yes/no question for one dimension (``naturalness`` ... or ``overall``)."""
    block = f"Input: {t.input}" if t.input.strip() else ""
    return render(
        __package__, f"judge_{dimension}", instruction=t.instruction.strip(), input_block=block, output=t.output.strip()
    ).rstrip("\n")


def render_unieval_input(dimension: str, t: Triple) -> str:
    """UniEval's dialogue boolean-QA input: the instruction (+ input) is the dialogue history."""
    history = t.instruction.strip() + (f"\n{t.input.strip()}" if t.input.strip() else "")
    return render(__package__, f"unieval_{dimension}", output=t.output.strip(), history=history).rstrip("\n")


def yes_probability(top_logprobs: dict[str, float] | None) -> float | None:
    """P(yes) / (P(yes) + P(no)) from one token's top log-probabilities.

    Every spelling of yes/no counts (" yes", "Yes", "YES", ...). None when neither appears.

    >>> round(yes_probability({" Yes": math.log(0.6), "No": math.log(0.2), "yes": math.log(0.1)}), 4)
    0.7778
    >>> yes_probability({"Maybe": -0.1}) is None
    True
    """
    if not top_logprobs:
        return None
    p_yes = p_no = 0.0
    for tok, lp in top_logprobs.items():
        word = tok.strip().strip(".,!:").lower()
        if word in YES:
            p_yes += math.exp(lp)
        elif word in NO:
            p_no += math.exp(lp)
    if p_yes + p_no <= 0.0:
        return None
    return p_yes / (p_yes + p_no)


class JudgeScorer:
    """Yes/no questions to an instructforge LLM, scored from the first token's logprobs.

    ``neutral`` is the score given when neither yes nor no is among the top tokens (counted in
    ``self.undecided``); ``None`` keeps such answers as None. ``render(question, triple)`` writes
    each question (default: the feedback prompts above). After ``score``, ``failed[j]`` says
    whether a request about triple ``j`` came back as an error (its value is then not an answer).
    """

    def __init__(
        self,
        llm: Any,
        dimensions: Sequence[str] = DIMENSIONS,
        *,
        top_logprobs: int = 20,
        neutral: float | None = 0.5,
        render: Callable[[str, Triple], str] = render_judge_prompt,
        desc: str = "feedback",
    ):
        self.llm = llm
        self.dimensions = tuple(dimensions)
        self.params = SamplingParams(temperature=0.0, max_tokens=1, logprobs=top_logprobs)
        self.neutral = neutral
        self.render = render
        self.desc = desc
        self.undecided = 0
        self.failed: list[bool] = []

    def score(self, triples: Sequence[Triple]) -> dict[str, list[Any]]:
        reqs = [Request.chat(self.render(d, t), params=self.params) for d in self.dimensions for t in triples]
        comps = self.llm.generate(reqs, desc=self.desc) if reqs else []
        out: dict[str, list[Any]] = {}
        n = len(triples)
        self.failed = [False] * n
        for k, d in enumerate(self.dimensions):
            vals = []
            for j, c in enumerate(comps[k * n : (k + 1) * n]):
                self.failed[j] = self.failed[j] or c.finish_reason == "error"
                p = yes_probability(c.top_logprobs[0] if c.top_logprobs else None)
                if p is None:
                    self.undecided += 1
                    p = self.neutral
                vals.append(p)
            out[d] = vals
        return out


class UniEvalScorer:
    """The UniEval checkpoint (T5 seq2seq, e.g. MingZhong/unieval-dialog) from a local dir.

    Score = P("Yes") / (P("Yes") + P("No")) at the first decoder step, as UniEval computes it.
    """

    def __init__(self, model_dir: Path, dimensions: Sequence[str] = DIMENSIONS, *, batch_size: int = 8):
        cfg = _read_config(model_dir)
        if not cfg.get("is_encoder_decoder"):
            raise InputError(
                f"{model_dir}/config.json: --unieval needs a seq2seq (T5) UniEval checkpoint, "
                f"this is {', '.join(cfg.get('architectures') or ['?'])}"
            )
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.dimensions = tuple(dimensions)
        self.batch_size = batch_size
        self.yes_id = self.tok("Yes").input_ids[0]
        self.no_id = self.tok("No").input_ids[0]

    def score(self, triples: Sequence[Triple]) -> dict[str, list[float]]:
        import torch

        out: dict[str, list[float]] = {}
        start = self.model.config.decoder_start_token_id or 0
        for d in self.dimensions:
            texts = [render_unieval_input(d, t) for t in triples]
            vals: list[float] = []
            for i in range(0, len(texts), self.batch_size):
                enc = self.tok(
                    texts[i : i + self.batch_size], return_tensors="pt", padding=True, truncation=True, max_length=1024
                )
                dec = torch.full((enc.input_ids.shape[0], 1), start, dtype=torch.long)
                with torch.inference_mode():
                    logits = self.model(**enc, decoder_input_ids=dec).logits[:, 0, :]
                probs = logits.float().softmax(-1)
                yes, no = probs[:, self.yes_id], probs[:, self.no_id]
                vals.extend((yes / (yes + no)).tolist())
            out[d] = vals
        return out


class RewardModelScorer:
    """A local HF sequence-classification reward model; returns its scalar logit per triple.

    OpenAssistant reward models (``<|prompter|>`` token in the vocabulary) get their own
    format; other models their chat template, or plain "question\\n\\nanswer" text.
    """

    name = "reward_model"

    def __init__(self, model_dir: Path, *, batch_size: int = 8, max_length: int = 1024):
        check_sequence_classifier(model_dir)
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tok.pad_token_id
        self.batch_size = batch_size
        self.max_length = max_length
        self.oasst = "<|prompter|>" in self.tok.get_vocab()

    def render(self, t: Triple) -> str:
        question = t.instruction.strip() + (f"\n\n{t.input.strip()}" if t.input.strip() else "")
        if self.oasst:
            eos = self.tok.eos_token or ""
            return f"<|prompter|>{question}{eos}<|assistant|>{t.output.strip()}{eos}"
        if getattr(self.tok, "chat_template", None):
            return str(
                self.tok.apply_chat_template(
                    [{"role": "user", "content": question}, {"role": "assistant", "content": t.output.strip()}],
                    tokenize=False,
                )
            )
        return f"{question}\n\n{t.output.strip()}"

    def score(self, triples: Sequence[Triple]) -> dict[str, list[float]]:
        import torch

        vals: list[float] = []
        texts = [self.render(t) for t in triples]
        for i in range(0, len(texts), self.batch_size):
            enc = self.tok(
                texts[i : i + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=not self.oasst,
            )
            with torch.inference_mode():
                logits = self.model(**enc).logits
            vals.extend(logits[:, 0].float().tolist())
        return {self.name: vals}


def _read_config(model_dir: Path) -> dict[str, Any]:
    cfg = Path(model_dir) / "config.json"
    if not cfg.is_file():
        raise InputError(f"{model_dir}: not a transformers model dir (no config.json)")
    try:
        return json.loads(cfg.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError.at(cfg, e.lineno, f"not valid JSON ({e.msg})") from None


def reward_model_dir(spec: str) -> Path:
    """The directory of a ``--reward-model hf:DIR`` spec, checked (config only, nothing loaded):
    an InputError (exit 2) unless it is a local sequence-classification model."""
    from ..models.backends import parse_spec

    kind, arg = parse_spec(spec)
    if kind != "hf":
        raise InputError(f"--reward-model must be hf:DIR (a local sequence-classification model), not {spec!r}")
    if not Path(arg).is_dir():
        raise InputError(f"{arg}: reward model directory not found")
    check_sequence_classifier(Path(arg))
    return Path(arg)


def check_sequence_classifier(model_dir: Path) -> None:
    """InputError (exit 2) unless the dir holds a sequence-classification model. Reads config only."""
    cfg = _read_config(model_dir)
    archs = cfg.get("architectures") or []
    if not any(a.endswith("ForSequenceClassification") for a in archs):
        raise InputError(
            f"{Path(model_dir) / 'config.json'}: --reward-model needs a sequence-classification "
            f"model (e.g. oasst-rm-pythia-1.4b); this one is {', '.join(archs) or 'unknown'}"
        )
