"""CTranslate2 engine: int8 CPU decoding of a transformers model, the fastest engine here (BENCHMARKS.md).

Not a paper component: a speed substitute for the local model (docs/scaling.md, "CPU
engines"). The int8 model comes from ct2_convert.py (converted once, cached); what
ctranslate2 lacks (additive penalties, per-request seeds, even prompt lengths) is mapped by
ct2_plan.py.

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
  fresh Generators, each right after ``set_random_seed`` (the call's seed, ``call_seed``, plus
  the part's index; see "Parallel parts").
  Consequence: a sampled answer is reproducible for the same batch (same requests, same
  order), which a re-run of the same command gives; it is not independent of its batch
  mates as in the transformers engine. Greedy answers can depend on the batch too, in the
  last bits: a row longer than the batch's shortest prompt is fed through the decoding loop
  rather than prefilled, and with int8 that can change a near tie (measured: 1 of 4 instance
  prompts); a re-run forms the same batches, so it gives the same answers.
* presence/frequency penalty -> not exact: ``repetition_penalty`` (ct2_plan.py).
* logprobs -> ``return_logits_vocab``: top-N of log_softmax over the logits ctranslate2
  returns, which are taken after its repetition penalty (transformers: before penalties).

Each call is cut into sub-batches of similar prompt length (``length_groups``, ct2_plan.py).

Shared prompt prefixes: the instance and classification prompts of a greedy call begin with the
same few hundred tokens of demonstrations (the instance prompts: ~945 of ~970). Rows of a greedy
call are grouped by template (``static_groups``); a group whose rows share at least
``STATIC_MIN`` tokens passes them as ctranslate2's ``static_prompt`` with
``cache_static_prompt``: the decoder state after them is computed once per worker and reused by
every later call, so each row prefills only its own tail. Sampled calls run on fresh
generators (see "Parallel parts"), which would not keep the state, and their prompts (the
bootstrap's sampled tasks) share little; they are prefilled whole as before.

Parallel parts: on this 2-core machine one ctranslate2 worker with 2 intra-op threads is far
slower than two single-threaded workers each decoding half the batch (sampled, batch 16 x 128
tokens: 101 vs 193 tok/s; greedy SuperNI prompts: 2.75x). So each (length) group is cut into
contiguous parts that run at the same time, submitted with ``asynchronous=True``: greedy parts
(one per thread, ``BackendOptions.threads``) go to the workers of one persistent Generator; a
sampled call is cut into ``SAMPLED_PARTS`` = 2 parts, each on its own freshly seeded Generator
(each with threads / 2 threads), a fixed number so the samples do not depend on the core count.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from ..types import Completion, Request
from .base import BackendOptions, Engine
from .ct2_convert import QUANTIZATION, ensure_converted
from .ct2_plan import call_key, call_seed, length_groups, static_groups
from .decoding import find_stop
from .model_files import load_tokenizer, resolve_threads

#: parts a sampled call is cut into (each on its own single-threaded worker); fixed, so a
#: sampled answer does not depend on the machine's core count
SAMPLED_PARTS = 2


class CT2Engine(Engine):
    name = "ctranslate2"
    requires = "ctranslate2"

    def __init__(self, model_dir: Path, options: BackendOptions | None = None):
        import ctranslate2

        self._ct2 = ctranslate2
        self.model_path = ensure_converted(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.eos_ids = sorted(
            {i for i in (self.tokenizer.eos_token_id, self._config_eos(model_dir)) if isinstance(i, int)}
        )
        self.workers = resolve_threads((options or BackendOptions()).threads)
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
        return self._ct2.Generator(
            str(self.model_path), device="cpu", compute_type=QUANTIZATION, inter_threads=workers, intra_threads=intra
        )

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
            g = self._load(1, max(1, self.workers // parts))
            g.generate_batch([probe], max_length=1, include_prompt_in_result=False, sampling_topk=0)
            gens.append(g)
        return gens

    def generate(self, texts: list[str], requests: list[Request]) -> list[Completion]:
        # One ct2 call per group of rows that share the call-level options.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(call_key(r), []).append(i)
        prompt_ids = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        out: list[Completion | None] = [None] * len(texts)
        for key, rows in groups.items():
            # greedy rows run on the persistent generator, which keeps a static prompt's state
            shared = static_groups([prompt_ids[i] for i in rows]) if key[0] <= 0 else [(list(range(len(rows))), 0)]
            for members, static in shared:
                idx = [rows[k] for k in members]
                new_tokens = max(requests[i].params.max_tokens for i in idx)
                for part in length_groups([len(prompt_ids[i]) - static for i in idx], new_tokens):
                    sub = [idx[k] for k in part]
                    done = self._run(key, [prompt_ids[i] for i in sub], [requests[i] for i in sub], static)
                    for i, c in zip(sub, done, strict=True):
                        out[i] = c
        return [c for c in out if c is not None]

    def score(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        """Log-probability of each continuation token given its prompt (``score_batch`` of the
        int8 model: it returns the log-probability of every token after the first)."""
        tok = self.tokenizer
        rows, n_cont = [], []
        for p, c in zip(prompts, continuations, strict=True):
            pi, ci = tok.encode(p, add_special_tokens=False), tok.encode(c, add_special_tokens=False)
            rows.append(tok.convert_ids_to_tokens(pi + ci))
            n_cont.append(len(ci))
        results = self.generator.score_batch(rows, max_batch_size=8)
        return [
            list(map(float, r.log_probs[len(r.log_probs) - n :])) if n else []
            for r, n in zip(results, n_cont, strict=True)
        ]

    def _run(
        self, key: tuple[Any, ...], prompt_ids: list[list[int]], requests: list[Request], static: int = 0
    ) -> list[Completion]:
        """One ctranslate2 call; the first ``static`` prompt tokens, the same in every row, go in
        as its cached ``static_prompt`` (greedy calls only, on the persistent generator)."""
        temperature, top_p, rep, want_logits = key
        tok = self.tokenizer
        start = [tok.convert_ids_to_tokens(ids[static:]) for ids in prompt_ids]
        prefix = {"static_prompt": tok.convert_ids_to_tokens(prompt_ids[0][:static])} if static else {}
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
            pending.append(
                (
                    lo,
                    hi,
                    g.generate_batch(
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
                        **prefix,
                    ),
                )
            )
        results: list[Any] = [None] * n
        part_min = [0] * n  # each row's part's shortest prompt: ct2 forces the rest
        for lo, hi, futures in pending:
            shortest = min(len(x) for x in prompt_ids[lo:hi])  # the static prefix is in every row
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
