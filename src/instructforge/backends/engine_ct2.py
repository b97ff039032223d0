"""CTranslate2 engine: int8 CPU decoding of a transformers model, the fastest engine here (BENCHMARKS.md).

Not a paper component: a speed substitute for the local model (architecture.md, "CPU
generation engines"). The model is converted once with ctranslate2's transformers converter
and cached under ``cache_root()/models/ct2/<name>-<digest>-int8`` (a LoRA adapter dir is merged
into its base first), keyed by the source dir's digest so a changed model is reconverted.

How each SamplingParams field maps (the same semantics as the transformers engine, except
where noted):

* temperature 0 -> greedy (``sampling_topk=1``); otherwise full-vocabulary sampling with
  ``sampling_temperature`` and ``sampling_topp``.
* max_tokens -> ``max_length`` (new tokens only, ``include_prompt_in_result=False``); rows of
  one call with different max_tokens are stopped by the step callback.
* stop strings -> the step callback decodes each row's text and stops the row at the first
  stop string; the text is then cut post-hoc before the stop string (finish_reason "stop").
* seed -> ctranslate2 4.8 has no per-call seed and its sampler is a thread-local generator
  seeded from the global seed when a worker thread first samples, so a sampled call builds
  fresh Generators, each right after ``set_random_seed`` (the call's seed, which mixes every
  row's seed in order, plus the part's index; see "Parallel parts").
  Consequence: a sampled answer is reproducible for the same batch (same requests, same
  order), which a re-run of the same command gives; it is not independent of its batch
  mates as in the transformers engine. Greedy answers do not depend on the batch.
* presence/frequency penalty -> not exact: ctranslate2 only has a multiplicative
  ``repetition_penalty`` (HF/CTRL style, also over prompt tokens). Rule: ``1 + (presence +
  frequency) / 20`` (20 ~ the top logit of SmolLM2, so the top logit moves by about the
  additive amount); an explicit ``repetition_penalty`` wins.
* logprobs -> ``return_logits_vocab``: top-N of log_softmax over the logits ctranslate2
  returns, which are taken after its repetition penalty (transformers: before penalties).

Prompts of different lengths: ctranslate2 runs the shortest prompt of a batch as one prefill
and feeds every longer prompt's remaining tokens through the decoding loop, one step per token
for the whole batch. A batch of SuperNI prompts (40 to 400+ tokens) would spend hundreds of
steps forcing prompts. So each call is cut into sub-batches of similar prompt length, chosen by
``length_groups`` to minimise modelled decoding work (one step costs ``STEP_OVERHEAD_ROWS`` + rows).

Parallel parts: on this 2-core machine one ctranslate2 worker with 2 intra-op threads is far
slower than two single-threaded workers each decoding half the batch (sampled, batch 16 x 128
tokens: 101 vs 193 tok/s; greedy SuperNI prompts: 2.75x). So each (length) group is cut into
contiguous parts that run at the same time, submitted with ``asynchronous=True``: greedy parts
(one per core) go to the workers of one persistent Generator; a sampled call is cut into
``SAMPLED_PARTS`` = 2 parts, each on its own freshly seeded Generator (each with cores / 2
threads), a fixed number so the samples do not depend on the core count.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..records import Completion, Request
from .base import BackendOptions
from .engines import Engine, find_stop, request_seed

QUANTIZATION = "int8"
#: a logit scale for mapping OpenAI's additive penalties onto a multiplicative one (see above)
PENALTY_LOGIT_SCALE = 20.0
#: conversions done in this process (tests check a second load does not convert again)
CONVERSIONS = 0


def threads() -> int:
    return int(os.environ.get("INSTRUCTFORGE_THREADS", "0")) or (os.cpu_count() or 1)


def load_tokenizer(model_dir: Path) -> Any:
    """The tokenizer of a model dir; an adapter dir without one uses its base model's."""
    from transformers import AutoTokenizer

    src = model_dir
    adapter = model_dir / "adapter_config.json"
    if adapter.is_file() and not (model_dir / "tokenizer_config.json").is_file():
        from .model_files import embedded_model_dir

        base = json.loads(adapter.read_text()).get("base_model_name_or_path") or "embedded"
        src = embedded_model_dir() if base == "embedded" else Path(base)
    tok = AutoTokenizer.from_pretrained(src)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def converted_dir(model_dir: Path) -> Path:
    """Where the int8 conversion of ``model_dir`` lives (whether or not it exists yet)."""
    from .model_files import cache_root, dir_digest

    digest = dir_digest(model_dir)[:16]
    return cache_root() / "models" / "ct2" / f"{model_dir.name}-{digest}-{QUANTIZATION}"


def ensure_converted(model_dir: Path) -> Path:
    """Convert ``model_dir`` to CTranslate2 int8 once; later calls return the cached copy.

    Atomic (temp dir + rename) and guarded by a file lock, so parallel processes (Ray actors)
    convert once and never see a half-written model.
    """
    target = converted_dir(model_dir)
    if (target / "model.bin").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.bin").is_file():  # another process converted while we waited
            return target
        _convert(model_dir, target)
    return target


def _convert(model_dir: Path, target: Path) -> None:
    global CONVERSIONS
    from ctranslate2.converters import TransformersConverter

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    merged: Path | None = None
    try:
        src = model_dir
        if (model_dir / "adapter_config.json").is_file():
            # A fine-tuned LoRA dir: merge into its base, then convert the merged weights.
            from .local import load_hf_model

            model, tok = load_hf_model(model_dir)
            merged = Path(tempfile.mkdtemp(dir=target.parent, prefix=".merge-"))
            model.save_pretrained(merged, safe_serialization=True)
            tok.save_pretrained(merged)
            src = merged
        out = tmp / "model"
        TransformersConverter(str(src), low_cpu_mem_usage=True).convert(str(out), quantization=QUANTIZATION)
        (out / "instructforge-ct2.json").write_text(json.dumps({
            "source": str(model_dir.resolve()), "quantization": QUANTIZATION,
            "seconds": round(time.perf_counter() - t0, 2),
        }))
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)
        CONVERSIONS += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if merged is not None:
            shutil.rmtree(merged, ignore_errors=True)


def repetition_penalty(p: Any) -> float:
    """The multiplicative penalty standing in for OpenAI's additive ones (not exact)."""
    if p.repetition_penalty:
        return float(p.repetition_penalty)
    extra = (p.presence_penalty or 0.0) + (p.frequency_penalty or 0.0)
    return max(0.5, 1.0 + extra / PENALTY_LOGIT_SCALE)


#: parts a sampled call is cut into (each on its own single-threaded worker); fixed, so a
#: sampled answer does not depend on the machine's core count
SAMPLED_PARTS = 2
#: the fixed cost of one decoding step, in rows: measured here, a step of 1 row takes ~55 ms and
#: each extra row ~6 ms (17 tok/s at batch 1, ~110 tok/s at batch 16)
STEP_OVERHEAD_ROWS = 9.0


def length_groups(lengths: list[int], new_tokens: int) -> list[list[int]]:
    """Indices of ``lengths`` cut into groups of similar length that minimise the modelled cost
    sum over groups of ``steps * (STEP_OVERHEAD_ROWS + rows)``, where a group decodes
    ``max - min`` forced prompt steps plus ``new_tokens`` (exact dynamic programme over the
    sorted lengths: a few microseconds for 64 rows)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    ls = [lengths[i] for i in order]
    n = len(ls)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest split of the first j sorted rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            c = best[i] + (ls[j - 1] - ls[i] + new_tokens) * (STEP_OVERHEAD_ROWS + j - i)
            if c < best[j]:
                best[j], cut[j] = c, i
    groups, j = [], n
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


def call_seed(requests: list[Request]) -> int:
    h = hashlib.sha256(",".join(str(request_seed(r)) for r in requests).encode()).digest()
    return int.from_bytes(h[:4], "little")


class CT2Engine(Engine):
    name = "ctranslate2"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None):
        import ctranslate2

        self._ct2 = ctranslate2
        self.model_path = ensure_converted(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.eos_ids = sorted({i for i in (self.tokenizer.eos_token_id, self._config_eos(model_dir)) if isinstance(i, int)})
        self.workers = threads()
        self.generator = self._load(self.workers, 1)

    @staticmethod
    def _config_eos(model_dir: Path) -> int | None:
        for name in ("generation_config.json", "config.json"):
            with contextlib.suppress(OSError, ValueError):
                v = json.loads((model_dir / name).read_text()).get("eos_token_id")
                if isinstance(v, int):
                    return v
        return None

    def _load(self, workers: int = 1, intra: int = 1) -> Any:
        return self._ct2.Generator(str(self.model_path), device="cpu", compute_type=QUANTIZATION,
                                   inter_threads=workers, intra_threads=intra)

    def _sampling_generators(self, seed: int, parts: int, probe: list[str]) -> list[Any]:
        """One fresh Generator per part, its worker's sampler seeded from ``seed`` and the part.

        ctranslate2 seeds a worker thread's random generator from the global seed when the
        thread first samples, so each Generator samples one token right after its
        ``set_random_seed`` (one token after ``probe``): parts get distinct streams (two copies
        of one prompt in two parts would otherwise draw the same numbers) that do not depend
        on which runs first."""
        gens = []
        for k in range(parts):
            self._ct2.set_random_seed((seed + 0x9E3779B1 * k) % 2**32)
            g = self._load(1, max(1, threads() // parts))
            g.generate_batch([probe], max_length=1, include_prompt_in_result=False, sampling_topk=0)
            gens.append(g)
        return gens

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        # One ct2 call per group of rows that share the call-level options.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, r in enumerate(requests):
            p = r.params
            key = (max(0.0, p.temperature), p.top_p if p.temperature > 0 else 1.0, repetition_penalty(p), bool(p.logprobs))
            groups.setdefault(key, []).append(i)
        prompt_ids = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        out: list[Completion | None] = [None] * len(texts)
        for key, idx in groups.items():
            new_tokens = max(requests[i].params.max_tokens for i in idx)
            for part in length_groups([len(prompt_ids[i]) for i in idx], new_tokens):
                sub = [idx[k] for k in part]
                done = self._run(key, [prompt_ids[i] for i in sub], [requests[i] for i in sub])
                for i, c in zip(sub, done, strict=True):
                    out[i] = c
        return [c for c in out if c is not None]

    def _run(self, key: tuple[Any, ...], prompt_ids: list[list[int]], requests: list[Request]) -> list[Completion]:
        temperature, top_p, rep, want_logits = key
        tok = self.tokenizer
        start = [tok.convert_ids_to_tokens(ids) for ids in prompt_ids]
        n = len(prompt_ids)
        got: list[list[int]] = [[] for _ in range(n)]

        def on_token(offset: int) -> Any:
            def cb(step: Any) -> bool:
                # Called for generated tokens only; ``step.step`` is offset by forced prompt
                # tokens, so count per row ourselves. ``batch_id`` is the row in its part.
                b = offset + step.batch_id
                got[b].append(step.token_id)
                p = requests[b].params
                if len(got[b]) >= p.max_tokens:
                    return True
                return bool(p.stop) and find_stop(tok.decode(got[b], skip_special_tokens=True), p.stop) >= 0

            return cb

        # The call is cut into parts that run at once on separate single-threaded workers (see
        # the module doc): greedy parts share the persistent generator's workers; sampled parts
        # get freshly seeded generators, a fixed number of them so the answers do not depend on
        # the core count.
        if temperature > 0:
            n_parts = min(n, SAMPLED_PARTS)
            gens = self._sampling_generators(call_seed(requests), n_parts, start[0][:1])
        else:
            n_parts = min(n, self.workers)
            gens = [self.generator] * n_parts
        bounds = [round(k * n / n_parts) for k in range(n_parts + 1)]
        pending = []
        for g, lo, hi in zip(gens, bounds, bounds[1:], strict=False):
            pending.append((lo, hi, g.generate_batch(
                start[lo:hi],
                asynchronous=True,
                max_length=max(r.params.max_tokens for r in requests[lo:hi]),
                include_prompt_in_result=False,
                end_token=self.eos_ids or None,
                sampling_topk=1 if temperature <= 0 else 0,
                sampling_temperature=temperature if temperature > 0 else 1.0,
                sampling_topp=top_p,
                repetition_penalty=rep,
                return_logits_vocab=want_logits,
                callback=on_token(lo),
            )))
        results: list[Any] = [None] * n
        part_min = [0] * n  # each row's part's shortest prompt: ct2 forces the rest
        for lo, hi, futures in pending:
            shortest = min(len(x) for x in prompt_ids[lo:hi])
            for i, f in zip(range(lo, hi), futures, strict=True):
                results[i], part_min[i] = f.result(), shortest
        comps = []
        for i, (res, req) in enumerate(zip(results, requests, strict=True)):
            p = req.params
            ids = [int(t) for t in res.sequences_ids[0]][: p.max_tokens]
            text = tok.decode(ids, skip_special_tokens=True)
            k = find_stop(text, p.stop) if p.stop else -1
            if k >= 0:
                text, finish = text[:k], "stop"
            else:
                finish = "length" if len(ids) >= p.max_tokens else "stop"
            forced = len(prompt_ids[i]) - part_min[i]
            top = self._top_logprobs(res, forced, p.max_tokens, int(p.logprobs)) if p.logprobs else None
            comps.append(Completion(text, finish, len(prompt_ids[i]), len(ids), top))
        return comps

    def _top_logprobs(self, res: Any, forced: int, max_tokens: int, k: int) -> list[dict[str, float]]:
        import numpy as np

        # Rows past the shortest prompt were forced through the decoding loop: their logits
        # come first and are dropped. Like the transformers engine, the step that produced
        # EOS keeps its entry.
        rows = np.asarray(res.logits[0], dtype=np.float32)[forced:][:max_tokens]
        out = []
        for row in rows:
            m = row.max()
            lp = row - m - np.log(np.exp(row - m).sum())
            best = np.argpartition(-lp, k - 1)[:k] if k < len(lp) else np.arange(len(lp))
            best = best[np.argsort(-lp[best])]
            out.append({self.tokenizer.decode([int(j)]): float(lp[j]) for j in best})
        return out
