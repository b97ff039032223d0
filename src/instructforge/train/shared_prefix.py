"""Faster RL steps on CPU: the prompt of a GRPO/RLOO group is run once, not once per answer.

A GRPO/RLOO step samples ``num_generations`` answers to the same prompt and then scores every
answer token under the policy (with gradients) and under the reference model (adapters off, for
the KL term). TRL runs each (prompt + answer) row through the model on its own, so the prompt,
usually most of the row, is computed ``num_generations`` times, and TRL's CPU log-prob head
projects every position onto the vocabulary, prompt included. Here, per group of rows that share
a prompt:

* **log-probs**: the prompt (minus its last token) runs once with the KV cache on, the cache is
  repeated for the group's rows, and only the answers run on top of it; the LM head projects only
  the answer positions. Gradients flow through the shared prompt exactly as through the copies
  (the copies are identical computations, so the gradient is the same sum), checked against TRL's
  own function by a test. Positions count from the first real prompt token, as at sampling time.
* **sampling**: the prompt is prefilled once per group, the cache repeated and merged into one
  left-padded batch, and ``generate`` continues from it with TRL's own generation config; LoRA
  adapters are merged into the base weights for the duration (one matmul per layer instead of a
  LoRA branch per token) and the base weights restored bit for bit afterwards.

Anything this does not cover (vLLM, continuous batching, images, MoE aux loss, models that scale
or soft-cap their logits, sliding-window attention, a ``cache_implementation``) goes to TRL's own
code unchanged. ``RefineConfig.shared_prefix = False``
turns the whole thing off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, cast

import torch

from ..models.backends.shared_prefix import plain_attention

# config fields TRL's fused head honours that the plain projection here does not
_LOGIT_SCALING = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def runs(n: int, same: Callable[[int, int], bool]) -> list[list[int]]:
    """Indices 0..n-1 cut into runs of consecutive items where ``same(first of run, i)``.

    >>> runs(5, lambda a, b: "aabba"[a] == "aabba"[b])
    [[0, 1], [2, 3], [4]]
    """
    groups: list[list[int]] = []
    for i in range(n):
        if groups and same(groups[-1][0], i):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def prompt_groups(input_ids: torch.Tensor, attention_mask: torch.Tensor, n_completion: int) -> list[list[int]]:
    """Runs of consecutive rows whose prompt part (tokens and mask) is identical.

    >>> ids = torch.tensor([[0, 5, 6, 1], [0, 5, 6, 2], [7, 8, 9, 3]])
    >>> prompt_groups(ids, torch.ones_like(ids), 1)
    [[0, 1], [2]]
    """
    p_ids, p_mask = input_ids[:, :-n_completion], attention_mask[:, :-n_completion]
    return runs(input_ids.size(0), lambda a, b: torch.equal(p_ids[a], p_ids[b]) and torch.equal(p_mask[a], p_mask[b]))


def _base(model: Any) -> Any:
    """The transformers model under a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def causal_lm_parts(model: Any) -> tuple[Any, Any]:
    """(backbone, lm_head) of a causal LM, through a PEFT wrapper if there is one."""
    base = _base(model)
    return base.get_decoder(), base.get_output_embeddings()


def supported(model: Any) -> bool:
    """True for a plain decoder-only LM whose logits are ``lm_head(h)`` (Llama, Qwen, Mistral, ...)."""
    base = _base(model)
    cfg = base.config.get_text_config() if hasattr(base.config, "get_text_config") else base.config
    if cfg is not base.config or getattr(cfg, "output_router_logits", False):
        return False  # vision-language or MoE: TRL's path
    if any(getattr(cfg, k, None) is not None for k in _LOGIT_SCALING):
        return False
    if not plain_attention(cfg):
        return False  # a sliding-window cache keeps only the window: the cache surgery here assumes all of it
    try:
        causal_lm_parts(model)
    except (AttributeError, NotImplementedError):
        return False
    return True


def _token_logps(
    hidden: torch.Tensor,
    lm_head: Any,
    labels: torch.Tensor,
    temperature: float,
    compute_entropy: bool,
    entropy_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-prob of each label (and the entropy) from hidden states (rows, tokens, hidden).

    Row by row keeps each (tokens x vocabulary) logits block small (12 MiB for 64 tokens of a
    49K vocabulary), so the allocator reuses it instead of mapping fresh pages every step.
    """
    tokens, entropies = [], []
    for h, y in zip(hidden, labels, strict=True):
        logits = lm_head(h).float() / temperature
        lse = torch.logsumexp(logits, dim=-1)
        tokens.append(logits.gather(-1, y.unsqueeze(-1)).squeeze(-1) - lse)
        if compute_entropy:
            with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
                entropies.append(lse - (torch.softmax(logits, dim=-1) * logits).sum(-1))
    return torch.stack(tokens), (torch.stack(entropies) if compute_entropy else None)


def shared_prefix_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    n_completion: int,
    temperature: float,
    compute_entropy: bool = False,
    entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs (and entropies) of the last ``n_completion`` tokens of each row.

    Same contract as TRL's ``_get_per_token_logps_and_entropies``: shape (rows, n_completion),
    logits divided by ``temperature``, 0 where the attention mask is 0. Gradients flow to the
    log-probs when grad mode is on, to the entropies only with ``entropy_grad`` (an entropy bonus
    in the loss); otherwise they are a metric and cost no graph.
    """
    backbone, lm_head = causal_lm_parts(model)
    k = n_completion
    logps = input_ids.new_zeros(input_ids.shape[0], k, dtype=torch.float32)
    entropies = torch.zeros_like(logps) if compute_entropy else None
    for rows in prompt_groups(input_ids, attention_mask, k):
        first = rows[0]
        prompt = input_ids[first, :-k][attention_mask[first, :-k].bool()]
        comp = input_ids[rows, -k:]
        n, p = len(rows), prompt.numel()
        suffix = torch.cat([prompt[-1:].expand(n, 1), comp[:, :-1]], dim=1)
        if p > 1:
            pre = backbone(input_ids=prompt[None, :-1], use_cache=True)
            cache = pre.past_key_values
            cache.batch_repeat_interleave(n)
            pos = torch.arange(p - 1, p - 1 + k).expand(n, k)
            hidden = backbone(
                input_ids=suffix,
                past_key_values=cache,
                use_cache=True,
                position_ids=pos,
                attention_mask=torch.ones(n, p - 1 + k, dtype=attention_mask.dtype),
            ).last_hidden_state
        else:
            hidden = backbone(input_ids=suffix, use_cache=False).last_hidden_state
        token, ent = _token_logps(hidden, lm_head, comp, temperature, compute_entropy, entropy_grad)
        # index_put (not in place) keeps the result connected to every group's graph
        idx = torch.tensor(rows)
        logps = logps.index_put((idx,), token)
        if entropies is not None and ent is not None:
            entropies = entropies.index_put((idx,), ent)
    keep = attention_mask[:, -k:].bool()
    logps = logps.masked_fill(~keep, 0.0)
    if entropies is not None:
        entropies = entropies.masked_fill(~keep, 0.0)
    return logps, entropies


def _lora_layers(model: Any) -> list[Any]:
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


@contextlib.contextmanager
def merged_lora(model: Any) -> Iterator[None]:
    """Merge the active LoRA adapters into the base weights for the block; restore them exactly after.

    PEFT's unmerge subtracts the delta again, which leaves rounding residue in the frozen base
    weights (the KL reference); the originals are copied back instead.
    """
    layers = [m for m in _lora_layers(model) if not m.merged and not getattr(m, "disable_adapters", False)]
    if not layers or not hasattr(model, "merge_adapter"):
        yield
        return
    saved = [(m.get_base_layer().weight, m.get_base_layer().weight.detach().clone()) for m in layers]
    with torch.no_grad():
        model.merge_adapter()
    try:
        yield
    finally:
        with torch.no_grad():
            model.unmerge_adapter()
            for w, orig in saved:
                w.copy_(orig)


def _left_padded_cache(model: Any, caches: list[tuple[Any, int]], max_len: int) -> Any:
    """One DynamicCache for all groups: each group's cache repeated for its rows, left-padded to max_len."""
    from transformers import DynamicCache

    merged = DynamicCache(config=model.config)
    n_layers = len(caches[0][0].layers)
    for li in range(n_layers):
        ks, vs = [], []
        for cache, n in caches:
            k, v = cache.layers[li].keys, cache.layers[li].values
            pad = max_len - k.size(2)
            if pad:
                k = torch.nn.functional.pad(k, (0, 0, pad, 0))
                v = torch.nn.functional.pad(v, (0, 0, pad, 0))
            ks.append(k.expand(n, -1, -1, -1))
            vs.append(v.expand(n, -1, -1, -1))
        merged.update(torch.cat(ks).contiguous(), torch.cat(vs).contiguous(), li)
    return merged


def shared_prefix_generate(
    model: Any, prompt_ids: list[list[int]], generation_config: Any, pad_token_id: int
) -> torch.Tensor:
    """Sample one continuation per prompt; identical consecutive prompts are prefilled once.

    Returns the generated tokens only, shape (rows, new_tokens), right-padded by ``generate``.
    """
    groups = runs(len(prompt_ids), lambda a, b: prompt_ids[a] == prompt_ids[b])
    longest = max(len(p) for p in prompt_ids)
    input_ids = torch.full((len(prompt_ids), longest), pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, row in enumerate(prompt_ids):
        input_ids[i, longest - len(row) :] = torch.tensor(row)
        mask[i, longest - len(row) :] = 1
    with torch.no_grad():
        kwargs: dict[str, Any] = {}
        if min(len(p) for p in prompt_ids) > 1:  # a one-token prompt has no prefix to cache
            caches = []
            for rows in groups:
                ids = torch.tensor(prompt_ids[rows[0]][:-1])[None]
                caches.append((model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values, len(rows)))
            kwargs["past_key_values"] = _left_padded_cache(model, caches, longest - 1)
        out = model.generate(input_ids=input_ids, attention_mask=mask, generation_config=generation_config, **kwargs)
    return out[:, longest:]


class SharedPrefixMixin:
    """Overrides for TRL's GRPOTrainer / RLOOTrainer (put first in the bases)."""

    _returns_logprobs = True  # GRPOTrainer._generate_single_turn's return shape; RLOO's is set below
    # What the trainer class after this mixin provides (annotations only: no attribute is defined here)
    temperature: float
    accelerator: Any
    args: Any
    model: Any
    model_wrapped: Any
    generation_kwargs: Any
    generation_config: Any
    eos_token_ids: Any
    _tokenizer: Any

    def _shared_prefix_ok(self, model: Any) -> bool:
        """Whether this module's code paths apply. Not to a model in a DDP / DeepSpeed / FSDP
        wrapper (several training processes: its forward pass is what synchronises the gradients
        and gathers sharded weights, so the log-probs go through TRL's code), and not under
        DeepSpeed or FSDP at all (sharded weights: no in-place LoRA merge for sampling); plain DDP
        samples with the unwrapped model, so sampling keeps the shared prefix there."""
        acc = getattr(self, "accelerator", None)
        if acc is not None and (
            getattr(acc.distributed_type, "value", acc.distributed_type) not in ("NO", "MULTI_CPU", "MULTI_GPU")
            or acc.unwrap_model(model) is not model
        ):
            return False
        return (
            not getattr(self, "use_vllm", False)
            and not getattr(self, "use_transformers_continuous_batching", False)
            and getattr(getattr(self, "args", None), "cache_implementation", None) is None
            and supported(model)
        )

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **extra: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if compute_aux_loss or any(v is not None for v in extra.values()) or not self._shared_prefix_ok(model):
            return super()._get_per_token_logps_and_entropies(  # type: ignore[misc]
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **extra,
            )
        with self.accelerator.autocast():
            entropy_grad = bool(getattr(self, "_entropy_bonus_enabled", True))  # GRPO: an entropy bonus in the loss
            logps, ent = shared_prefix_logps(
                model, input_ids, attention_mask, logits_to_keep, self.temperature, compute_entropy, entropy_grad
            )
        return logps, ent, None

    def _generate_single_turn(
        self, prompt_ids: list[list[int]], images: Any, multimodal_fields: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if (
            images is not None
            and any(x is not None for x in images)
            or multimodal_fields
            or not self._shared_prefix_ok(self.model)
        ):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, *args, **kwargs)  # type: ignore[misc]
        from trl.extras.profiling import profiling_context
        from trl.models import unwrap_model_for_generation

        args_ = self.args
        with (
            profiling_context(cast(Any, self), "transformers.generate"),
            unwrap_model_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=args_.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=args_.gradient_checkpointing_kwargs,
            ) as model,
            merged_lora(model),
        ):
            new = shared_prefix_generate(
                model, [list(p) for p in prompt_ids], self.generation_config, self._tokenizer.pad_token_id
            )
        eos = set(self.eos_token_ids)
        completion_ids = []
        for row in new.tolist():
            cut = next((j for j, t in enumerate(row) if t in eos), None)
            completion_ids.append(row if cut is None else row[: cut + 1])
        # GRPO returns (ids, sampling logprobs: None off vLLM), RLOO the ids alone
        return (completion_ids, None) if self._returns_logprobs else completion_ids


def trainer_classes(algo: str, shared_prefix: bool = True) -> tuple[type, type]:
    """(Config, Trainer) for ``algo``; the trainer gets the shared-prefix overrides unless disabled."""
    import trl

    pair: tuple[type, type] = (trl.GRPOConfig, trl.GRPOTrainer) if algo == "grpo" else (trl.RLOOConfig, trl.RLOOTrainer)
    Config, Trainer = pair
    if not shared_prefix:
        return Config, Trainer
    return Config, type(
        f"SharedPrefix{Trainer.__name__}", (SharedPrefixMixin, Trainer), {"_returns_logprobs": algo == "grpo"}
    )
