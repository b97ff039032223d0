"""Training in several processes: ``torchrun`` / ``accelerate launch -m instructforge finetune|refine``.

The launcher starts N copies of the same command; each learns its place from the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, set by torchrun and accelerate; MPI's
``PMI_SIZE`` / ``OMPI_COMM_WORLD_*`` too). The Trainer (transformers, through accelerate) joins
the process group (gloo on CPU, nccl on GPUs), shards every global batch over the ranks and
all-reduces the gradients. What this module adds, for finetune and refine alike:

* **One writer.** Only the main process (rank 0) writes files into the out dir (config.yaml,
  logs, adapter, summary); the others wait for it at a barrier before they return, so every
  rank's caller can read the summary afterwards.
* **Global batch sizes.** ``batch_size`` (finetune) and ``prompts_per_step x num_generations``
  (refine) stay the number of examples / completions per optimizer step, whatever the number
  of processes: each rank gets ``global / (world_size x gradient_accumulation_steps)``, so a
  run on 1, 2 or 8 processes takes the same optimizer steps on the same data.
* **Threads.** Without ``INSTRUCTFORGE_THREADS``, a rank uses its share of the cores
  (cores / processes on this node), not every core.

Nothing here starts processes or touches the process group before the Trainer does, so one
plain process (``python -m instructforge``) behaves exactly as before.
"""

from __future__ import annotations

import os
from typing import Any

from ..core import ui
from ..core.errors import InputError

_WORLD = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
_LOCAL_WORLD = ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for n in names:
        v = os.environ.get(n, "")
        if v.strip():
            return int(v)
    return default


def world_size() -> int:
    """Processes training together (1 without a launcher)."""
    return max(1, _env_int(_WORLD, 1))


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    return _env_int(_RANK, 0)


def local_world_size() -> int:
    """Processes on this node (the launcher's ``--nproc_per_node``)."""
    return max(1, _env_int(_LOCAL_WORLD, world_size()))


def is_main() -> bool:
    """True in the one process that writes files (rank 0)."""
    return rank() == 0


def quiet_others() -> None:
    """Ranks other than 0 print nothing (progress, tables): the main process speaks for all."""
    if not is_main():
        ui.set_quiet(True)


def threads_per_rank() -> int:
    """CPU threads of one training process: ``$INSTRUCTFORGE_THREADS`` when set, else every core
    shared out among this node's processes (at least 1)."""
    from ..models.backends.model_files import THREADS_VAR, resolve_threads

    if os.environ.get(THREADS_VAR, "").strip():
        return resolve_threads()
    return max(1, (os.cpu_count() or 1) // local_world_size())


def per_device(global_batch: int, accumulation: int, what: str) -> int:
    """Rows per process per forward pass so that ``global_batch`` rows make one optimizer step;
    an InputError when it does not divide evenly (the runs would not be comparable)."""
    n = world_size() * accumulation
    if global_batch % n:
        raise InputError(
            f"{what} = {global_batch} must be a multiple of processes x gradient_accumulation_steps "
            f"= {world_size()} x {accumulation} (it is the global batch of one optimizer step)"
        )
    return global_batch // n


def barrier() -> None:
    """Wait for every rank (a no-op in one process or before the process group exists)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def trainer_args() -> dict[str, Any]:
    """TrainingArguments fields for the processes' device: ``use_cpu`` on a machine without an
    accelerator. Without it transformers 5 asks accelerate for the accelerator's backend, finds
    none, and leaves N CPU processes unsynchronised (each trains alone on a slice: no DDP);
    with it accelerate takes them as MULTI_CPU on gloo. A no-op for one CPU process."""
    import torch

    # LoRA: every trainable parameter takes part in every forward pass
    args: dict[str, Any] = {"ddp_find_unused_parameters": False}
    return args if torch.accelerator.is_available() else {**args, "use_cpu": True}
